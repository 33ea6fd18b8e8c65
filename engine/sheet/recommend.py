"""Recommendations from a Snapshot: the model's predictions for the blank cells, and each user's best unrated movies.

The lesson's "test data": the sheet computes a prediction only where there is a rating (its formula is
IF(rating="", 0, …)), but the same dot product can be computed for every blank cell, and the highest of a
user's blanks are the movies to recommend to them. Numpy arithmetic on the snapshot's arrays, through
engine.models.factorization (the one home of the prediction formula).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from engine.models import factorization
from engine.sheet.explanation import fmt
from engine.sheet.snapshot import Snapshot

TOP = 5  # recommendations per user unless asked otherwise


@dataclass(frozen=True)
class Recommendation:
    """One unrated movie for one user, with what the model predicts they would rate it."""

    movie: int  # the movie's column in the sheet
    item_id: object
    title: str
    prediction: float  # the model's prediction for the blank cell, as the sheet computes it (squashed if it squashes)
    rating: float  # the prediction clipped to the ratings' range: the rating it stands for (a 5.3 is a 5)


def predictions(snap: Snapshot) -> np.ndarray:
    """Every cell's prediction, rated or blank (users × movies)."""
    bias = (snap.params["user_bias"], snap.params["item_bias"]) if snap.biases else (None, None)
    raw = factorization.grid(snap.user_factors, snap.item_factors, *bias)
    return np.asarray(factorization.squash(raw, snap.y_range if snap.squash else None)[0], dtype=np.float64)


def blank_predictions(snap: Snapshot) -> np.ndarray:
    """The lesson's test data: predictions for the blank cells, NaN where there is a rating (the training data)."""
    return np.where(snap.mask, np.nan, predictions(snap))


def rating_range(snap: Snapshot) -> tuple[float, float]:
    """The lowest and highest rating on the sheet: the range recommendations' ratings are clipped to."""
    rated = snap.ratings[snap.mask]
    return (float(rated.min()), float(rated.max())) if rated.size else (0.0, 0.0)


def top_unrated(snap: Snapshot, n: int = TOP, users: Iterable[int] | None = None) -> dict[int, tuple[Recommendation, ...]]:
    """Each user's (or the given users') n unrated movies with the highest predictions, best first.

    Ranked by the unclipped prediction, so two movies both above the top rating keep their order; ties go to
    the movie further left. A user who rated every movie on the sheet gets none.
    """
    if n < 1:
        raise ValueError(f"recommendations per user must be at least 1, got {n}")
    blank = blank_predictions(snap)
    lo, hi = rating_range(snap)
    out: dict[int, tuple[Recommendation, ...]] = {}
    for i in range(blank.shape[0]) if users is None else users:
        columns = np.flatnonzero(~snap.mask[i])
        best = columns[np.argsort(-blank[i, columns], kind="stable")[:n]]  # NaN (an overflowed prediction) sorts last
        out[i] = tuple(Recommendation(int(j), snap.item_ids[j], snap.titles[j], float(blank[i, j]),
                                      float(np.clip(blank[i, j], lo, hi))) for j in best)
    return out


def describe(snap: Snapshot, user: int, recommendations: tuple[Recommendation, ...]) -> str:
    """A user's recommendations as lines of text (for a tooltip or the panel)."""
    head = f"user {snap.user_ids[user]}: "
    if not recommendations:
        return head + "has rated every movie on the sheet, so there is nothing to recommend."
    lines = [head + "recommended, not yet rated (predicted rating):"]
    lines += [f"{k}. {r.title}  {fmt(r.rating, 2)}" + ("" if r.rating == r.prediction else f" (model {fmt(r.prediction, 2)})")
              for k, r in enumerate(recommendations, 1)]
    return "\n".join(lines)
