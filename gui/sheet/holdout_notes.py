"""Held-out cells in the explain panel (Qt-free; worker thread): their rating, error, and the held-out RMSE."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collabsheet.engine.sheet.explanation import Explanation
    from collabsheet.engine.sheet.snapshot import Snapshot

HOLDOUT_NOTE = ("Held out: the loss, its gradient and Solve do not see this rating. Its error counts in the held-out "
             "RMSE instead, which says how well the factors predict ratings they were not fitted to.")


def with_holdout(e: Explanation | None, snap: Snapshot, kind: str, index: tuple) -> Explanation | None:
    """The explanation of a cell, with what holding out cells adds to it (unchanged when none are held out)."""
    if e is None or snap.holdout is None or not snap.holdout_count:
        return e
    from collabsheet.engine.sheet.explanation import fmt

    if kind == "loss":
        terms = (("held-out cells", snap.holdout_count), ("held-out RMSE", snap.holdout_rmse))
        note = (f"{snap.holdout_count} rated cells are held out (hatched): the RMSE above leaves them out; the held-out "
                "RMSE scores the same predictions on them alone. Training RMSE falling while the held-out RMSE turns "
                "up is overfitting.")
        return replace(e, terms=e.terms + terms, notes=e.notes + (note,))
    if kind not in ("rating", "prediction") or not snap.holdout[tuple(index)]:
        return e
    r = float(snap.holdout_ratings[tuple(index)])
    p = float(snap.predictions[tuple(index)])
    terms = (("held-out rating r", r), ("error p − r", p - r), ("squared error", (p - r) ** 2))
    if kind == "rating":
        return replace(e, formula=f"r = {fmt(r, trim=True)} (held out)", terms=(("prediction p", p),) + terms,
                       notes=(HOLDOUT_NOTE,))
    kept = tuple(n for n in e.notes if not n.startswith("No rating here"))
    return replace(e, terms=e.terms + terms, notes=kept + (HOLDOUT_NOTE,))
