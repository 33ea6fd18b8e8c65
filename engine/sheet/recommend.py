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

from collabsheet.engine.models import factorization
from collabsheet.engine.sheet.explanation import fmt
from collabsheet.engine.sheet.snapshot import Snapshot

TOP = 5  # recommendations per user unless asked otherwise


@dataclass(frozen=True)
class Recommendation:
    """One unrated movie for one user, with what the model predicts they would rate it."""

    movie: int  # the movie's column in the sheet
    item_id: object
    title: str
    prediction: float  # the model's prediction for the blank cell, as the sheet computes it (squashed if it squashes)
    rating: float  # the prediction clipped to the ratings' range: the rating it stands for (a 5.3 is a 5)


def predictions(snap: Snapshot, users: np.ndarray | None = None) -> np.ndarray:
    """Every cell's prediction, rated or blank (users × movies); only the rows of `users` when given."""
    rows = slice(None) if users is None else users
    bias = (snap.params["user_bias"][rows], snap.params["item_bias"]) if snap.biases else (None, None)
    raw = factorization.grid(snap.user_factors[rows], snap.item_factors, *bias)
    return np.asarray(factorization.squash(raw, snap.y_range if snap.squash else None)[0], dtype=np.float64)


def blank_predictions(snap: Snapshot, users: np.ndarray | None = None) -> np.ndarray:
    """The lesson's test data: predictions for the blank cells, NaN where there is a rating (the training data)."""
    mask = snap.mask if users is None else snap.mask[users]
    return np.where(mask, np.nan, predictions(snap, users))


def rating_range(snap: Snapshot) -> tuple[float, float]:
    """The lowest and highest rating on the sheet: the range recommendations' ratings are clipped to."""
    rated = snap.ratings[snap.mask]
    return (float(rated.min()), float(rated.max())) if rated.size else (0.0, 0.0)


def top_unrated(snap: Snapshot, n: int = TOP, users: Iterable[int] | None = None) -> dict[int, tuple[Recommendation, ...]]:
    """Each user's (or the given users') n unrated movies with the highest predictions, best first.

    Ranked by the unclipped prediction, so two movies both above the top rating keep their order. A user
    who rated every movie on the sheet gets none.
    """
    if n < 1:
        raise ValueError(f"recommendations per user must be at least 1, got {n}")
    rows = np.arange(snap.mask.shape[0]) if users is None else np.fromiter(users, dtype=np.intp)
    blank = blank_predictions(snap, rows)
    lo, hi = rating_range(snap)
    # The n best columns of every row at once (rated cells, NaN, count as −∞), then those n in order.
    n = min(n, blank.shape[1])
    best = np.argpartition(np.nan_to_num(blank, nan=-np.inf), blank.shape[1] - n, axis=1)[:, -n:]
    values = np.take_along_axis(blank, best, axis=1)
    order = np.lexsort((best, -values), axis=1)  # highest first, then further left
    best, values = np.take_along_axis(best, order, axis=1), np.take_along_axis(values, order, axis=1)
    clipped = np.clip(values, lo, hi)
    ids, titles = snap.item_ids, snap.titles
    return {i: tuple(Recommendation(j, ids[j], titles[j], v, c) for j, v, c in zip(js, vs, cs) if v == v)  # v != NaN
            for i, js, vs, cs in zip(rows.tolist(), best.tolist(), values.tolist(), clipped.tolist())}


def describe(snap: Snapshot, user: int, recommendations: tuple[Recommendation, ...]) -> str:
    """A user's recommendations as lines of text (for a tooltip or the panel)."""
    head = f"user {snap.user_ids[user]}: "
    if not recommendations:
        return head + "has rated every movie on the sheet, so there is nothing to recommend."
    lines = [head + "recommended, not yet rated (predicted rating):"]
    lines += [f"{k}. {r.title}  {fmt(r.rating, 2)}" + ("" if r.rating == r.prediction else f" (model {fmt(r.prediction, 2)})")
              for k, r in enumerate(recommendations, 1)]
    return "\n".join(lines)
