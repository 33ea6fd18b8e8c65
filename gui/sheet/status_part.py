"""What the Sheet tab says in the window's status bar (device, dataset, step, RMSE, steps/s), in the line above
the sheet, and after a solve.

A part the tab owns: it writes into the labels it is given and keeps the step rate; it reads nothing of the tab.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from collabsheet.gui.sheet.cell_text import loss_text

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.frames import TimelineInfo

STATUS = ("device", "dataset", "step", "rmse", "rate")  # the status bar's fields this tab fills
RATE_WINDOW_S = 0.5  # steps/s is measured over at least this long
FACTOR_ALARM = 10  # a solve whose factors pass this many times the largest rating is told about weight decay


class SheetStatus:
    """The status bar's fields (labels named as in STATUS) and the legend's line that says what the sheet shows."""

    def __init__(self, labels: dict[str, QLabel], context: QLabel) -> None:
        self.labels = labels
        self.context = context
        self._rate_mark = (time.perf_counter(), 0)  # (when, step) the rate is measured from
        self.steps_per_s = 0.0

    def show(self, snap: Snapshot, ratings: Ratings | None, timeline: TimelineInfo | None, running: bool) -> None:
        """One step's numbers; the rate while running."""
        now = time.perf_counter()
        then, steps = self._rate_mark
        if now - then >= RATE_WINDOW_S or snap.step < steps:
            self.steps_per_s = max(snap.step - steps, 0) / (now - then)
            self._rate_mark = (now, snap.step)
        labels = self.labels
        n, m = snap.ratings.shape
        size = f" ({len(ratings):,} ratings)" if ratings is not None else ""
        labels["dataset"].setText(f"{snap.dataset}{size} · sheet {n}×{m}, {snap.count} rated")
        behind = timeline is not None and timeline.step == snap.step and not timeline.at_head
        labels["step"].setText(f"step {snap.step:,}" + (f" of {timeline.end:,}" if behind else ""))
        labels["rmse"].setText(f"RMSE {loss_text(snap.rmse)}" + (" · diverged" if snap.diverged else ""))
        labels["rate"].setText(f"{self.steps_per_s:,.0f} steps/s" if running else "")
        self.context.setText(f"{snap.dataset} · top {n} users × {m} movies · k={snap.k} · "
                             f"{snap.settings.label} lr {snap.settings.lr:g}")

    def show_preview(self, preview) -> None:
        """The first sheet's ratings while the engine starts (a Preview, with its RMSE when it has one)."""
        n, m = preview.ratings.shape
        self.labels["dataset"].setText(f"{preview.dataset} · sheet {n}×{m}, {int(preview.mask.sum())} rated")
        self.labels["rmse"].setText(f"RMSE {preview.rmse:.4f} · starting the engine…"
                                    if hasattr(preview, "rmse") else "starting the engine…")
        self.context.setText(f"{preview.dataset} · top {n} users × {m} movies · starting the engine…")

    def show_device(self, device: str) -> None:
        """Where the engine computes."""
        self.labels["device"].setText(device)

    def show_solving(self, rmse: float) -> None:
        """A solve's latest RMSE, while it runs."""
        self.labels["rmse"].setText(f"solving: RMSE {loss_text(rmse)}")

    def restart_rate(self, step: int, idle: bool) -> None:
        """A new state: the rate is measured afresh from `step`, and not shown while idle."""
        self._rate_mark = (time.perf_counter(), step)
        if idle:
            self.labels["rate"].setText("")

    def clear(self) -> None:
        """No sheet to speak of (its file could not be opened)."""
        for label in (self.labels["dataset"], self.labels["rmse"], self.context):
            label.setText("")


def solve_message(result, snap: Snapshot | None) -> str:
    """How a solve ended (a SolveResult), for the status bar; a valley's large factors are explained."""
    why = f". {result.why[0].upper()}{result.why[1:]}" if result.why else ""
    return (f"Solve {result.ending}: RMSE {result.rmse_before:.4f} → {result.rmse:.4f} in {result.iterations} "
            f"iterations ({result.seconds:.2f} s){why}{valley_hint(snap)}")


def valley_hint(snap: Snapshot | None) -> str:
    """A learner left with factors of −113 beside 1–5 ratings is told why, and what gives the loss a minimum."""
    if snap is None or snap.settings.weight_decay > 0:
        return ""
    factors = [a for a in (snap.params.get("user_factors"), snap.params.get("item_factors")) if a is not None]
    largest = max((float(abs(a).max()) for a in factors if a.size), default=0.0)
    rated = snap.ratings[snap.mask]
    scale = float(abs(rated).max()) if rated.size else 1.0
    if largest <= FACTOR_ALARM * scale:
        return ""
    return (f". Factors reached {largest:.3g}, far past the ratings' scale ({scale:g}): the loss slopes on along "
            "a valley here; weight decay (wd > 0) gives it a minimum with small factors")
