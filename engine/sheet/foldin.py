"""A new user folded in: fit only their row's factors (and bias), with every movie's values frozen.

The lesson's open question, what to do with a new user, has a small answer: with the movies' factors fixed, a
user's prediction for movie j is m_j·u (+ b + c_j), linear in the user's parameters, so the best row is a
least-squares problem with k (+ 1) unknowns, solved exactly:

    x = argmin ‖A·x − y‖² + λ‖x‖²,   A = rows [m_j, 1] for the rated movies,   y = r_j − c_j

With λ = 0 numpy's lstsq gives the exact solution, the minimum-norm one when the user rated fewer movies than
there are unknowns; λ > 0 is ridge regression, (AᵀA + λI)⁻¹Aᵀy. When the sheet squashes predictions with a
sigmoid the problem is no longer linear: Gauss–Newton steps with Levenberg–Marquardt damping start from the
linear fit to the ratings mapped back through the sigmoid, and stop when the gradient vanishes.

Works for the sheet's movies (from_snapshot) or any trained model's movies: arrays in, arrays out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from collabsheet.engine.models import factorization

if TYPE_CHECKING:
    from collabsheet.engine.sheet.snapshot import Snapshot

TOP = 5  # recommendations listed
ITERATIONS = 100  # Gauss–Newton steps at most, with the sigmoid
GRADIENT_TOL = 1e-12  # … stopping once the gradient's largest entry is below this, relative to the ratings' scale
EDGE = 1e-3  # ratings at the sigmoid's ends are mapped just inside them for the starting fit


@dataclass(frozen=True)
class Recommendation:
    """An unrated movie and the new user's predicted rating for it."""

    index: int  # the movie's column
    title: str
    prediction: float


@dataclass(frozen=True)
class FoldIn:
    """The new user's row: factors, bias, predictions for every movie, and their best unrated movies."""

    factors: np.ndarray  # (k,)
    bias: float | None  # None when the model has no biases
    predictions: np.ndarray  # (movies,) every movie's predicted rating for this user
    rated: np.ndarray  # (movies,) bool, the movies the user rated
    rmse: float  # over the user's own ratings
    top: tuple[Recommendation, ...]  # the best unrated movies first


def fold_in(ratings: np.ndarray, movie_factors: np.ndarray, movie_bias: np.ndarray | None = None,
            y_range: tuple[float, float] | None = None, ridge: float = 0.0, titles: Sequence[str] = (),
            top: int = TOP) -> FoldIn:
    """Fit one user's row to their ratings (NaN = unrated) over movies with fixed factors (movies, k) and biases.

    y_range squashes predictions with the sheet's sigmoid; ridge adds λ‖x‖² (factors and bias alike)."""
    y, factors, bias = _checked(ratings, movie_factors, movie_bias, titles, ridge)
    rated = ~np.isnan(y)
    columns = [factors] + ([np.ones((len(y), 1))] if bias is not None else [])
    design = np.concatenate(columns, axis=1)  # (movies, k [+ 1]): what each of the row's parameters multiplies
    offset = bias if bias is not None else np.zeros(len(y))
    a, target = design[rated], y[rated] - offset[rated]
    if y_range is None:
        x = _least_squares(a, target, ridge)
    else:
        lo, hi = y_range
        inside = np.clip((y[rated] - lo) / (hi - lo), EDGE, 1 - EDGE)
        x = _least_squares(a, np.log(inside / (1 - inside)) - offset[rated], ridge)  # the sigmoid's inverse
        x = _gauss_newton(a, offset[rated], y[rated], y_range, ridge, x)
    raw = design @ x + offset
    predictions = factorization.squash(raw, y_range)[0]
    rmse = float(np.sqrt(np.mean((predictions[rated] - y[rated]) ** 2)))
    k = factors.shape[1]
    names = list(titles) if len(titles) else [f"movie {j + 1}" for j in range(len(y))]
    unrated = np.flatnonzero(~rated)
    best = unrated[np.argsort(-predictions[unrated], kind="stable")][:top]
    return FoldIn(x[:k].copy(), float(x[k]) if bias is not None else None, predictions, rated, rmse,
                  tuple(Recommendation(int(j), names[j], float(predictions[j])) for j in best))


def from_snapshot(snap: Snapshot, ratings: np.ndarray, ridge: float = 0.0, top: int = TOP) -> FoldIn:
    """Fold a new row of ratings (one per sheet movie, NaN = unrated) into the sheet's movies as they are now."""
    bias = snap.params.get("item_bias")
    return fold_in(ratings, snap.item_factors.T, bias, snap.y_range, ridge, snap.titles, top)


def ratings_row(ratings: Mapping, item_ids: Sequence) -> np.ndarray:
    """A dataset-wide row from ratings by movie id (e.g. the sheet's movies the user typed), NaN elsewhere."""
    column = {item: j for j, item in enumerate(item_ids)}
    row = np.full(len(item_ids), np.nan)
    for item, value in ratings.items():
        if item not in column:
            raise ValueError(f"movie {item!r} is not among the model's {len(item_ids)} movies")
        row[column[item]] = float(value)
    return row


def _checked(ratings, movie_factors, movie_bias, titles, ridge) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = np.asarray(ratings, dtype=np.float64).reshape(-1)
    factors = np.asarray(movie_factors, dtype=np.float64)
    if factors.ndim != 2 or factors.shape[0] != len(y):
        raise ValueError(f"movie factors should have shape ({len(y)}, k), one row per rated-or-not movie, "
                         f"got {factors.shape}")
    if not np.isfinite(factors).all():
        raise ValueError("movie factors must be finite numbers")
    if np.isinf(y).any():
        raise ValueError("ratings must be finite numbers or blank (NaN)")
    if np.isnan(y).all():
        raise ValueError("rate at least one movie to be folded in")
    bias = None
    if movie_bias is not None:
        bias = np.asarray(movie_bias, dtype=np.float64).reshape(-1)
        if bias.shape != y.shape or not np.isfinite(bias).all():
            raise ValueError(f"movie biases should be {len(y)} finite numbers, got shape {bias.shape}")
    if len(titles) and len(titles) != len(y):
        raise ValueError(f"there should be one title per movie ({len(y)}), got {len(titles)}")
    if not ridge >= 0:
        raise ValueError(f"ridge must not be negative, got {ridge}")
    return y, factors, bias


def _least_squares(a: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """argmin ‖a·x − y‖² + ridge·‖x‖², exactly (the minimum-norm solution when ridge is 0 and a is short)."""
    if ridge == 0:
        return np.linalg.lstsq(a, y, rcond=None)[0]
    return np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y)


def _gauss_newton(a: np.ndarray, offset: np.ndarray, y: np.ndarray, y_range: tuple[float, float], ridge: float,
                  x: np.ndarray) -> np.ndarray:
    """Minimise ‖lo + (hi − lo)·σ(a·x + offset) − y‖² + ridge·‖x‖² from x, with Levenberg–Marquardt damping."""
    lo, hi = y_range

    def parts(x):
        pred, s = factorization.squash(a @ x + offset, y_range)
        r = pred - y
        jac = factorization.squash_slope(s, y_range)[:, None] * a
        return jac, jac.T @ r + ridge * x, float(r @ r + ridge * x @ x)  # Jacobian, half the gradient, loss

    jac, gradient, loss = parts(x)
    damping = 1e-3 * max(float(np.max(np.sum(jac * jac, 0))), 1e-12)
    for _ in range(ITERATIONS):
        if np.abs(gradient).max() <= GRADIENT_TOL * (hi - lo):
            break
        normal = jac.T @ jac + ridge * np.eye(len(x))
        step = np.linalg.solve(normal + damping * np.diag(np.maximum(np.diag(normal), 1e-12)), -gradient)
        jac_new, gradient_new, loss_new = parts(x + step)
        # Near the minimum the loss changes only in its last bits: a step that leaves it equal to rounding and
        # shrinks the gradient is still progress.
        level = loss_new <= loss * (1 + 8 * np.finfo(float).eps)
        if loss_new < loss or (level and np.abs(gradient_new).max() < np.abs(gradient).max()):
            x, jac, gradient, loss = x + step, jac_new, gradient_new, loss_new
            damping = max(damping / 3, 1e-15)
        else:
            damping *= 4
            if damping > 1e12:
                break
    return x
