"""A start for the solver read off the ratings themselves: the truncated SVD of the filled-in grid.

Blanks are filled with the user's and movie's mean rating, the grid's best rank-k approximation
refills them, a few times over (hard impute), and the factors split the singular values evenly
between users and movies. With biases, the biases take the means and the factors the rest; with a
sigmoid, the grid is first taken through the sigmoid's inverse. Such a start usually lies in the
basin of the best minimum, where random factors often do not. With weight decay the objective is
Σr² + ρ(‖U‖² + ‖V‖²), whose best rank-k fit to a full grid keeps each singular value σ as σ − ρ (none
below 0): the refills and the split use those shrunk values (soft-impute).
"""
from __future__ import annotations

import numpy as np

ROUNDS = 5  # refills of the blanks by the rank-k approximation
EDGE = 0.01  # ratings at the ends of the sigmoid's range are pulled this far inside it before the inverse


def spectral_start(ratings: np.ndarray, k: int, biases: bool, y_range: tuple[float, float] | None = None,
                   ridge: float = 0.0) -> dict[str, np.ndarray]:
    """Factors (and biases) from the grid of ratings (NaN where blank), by the sheet's block names; ridge is ρ."""
    rated = ~np.isnan(ratings)
    z = np.where(rated, ratings, 0.0)
    if y_range is not None:
        lo, hi = y_range
        p = np.clip((z - lo) / (hi - lo), EDGE, 1 - EDGE)
        z = np.log(p / (1 - p))
    mean = z[rated].mean() if rated.any() else 0.0
    user_dev = _mean_where(z - mean, rated, axis=1)
    movie_dev = _mean_where(z - mean, rated, axis=0)
    base = user_dev[:, None] + movie_dev[None, :] + mean
    offset = base if biases else 0.0  # what the biases carry, so that the factors model the rest
    filled = np.where(rated, z, base) - offset
    for _ in range(ROUNDS):
        filled = np.where(rated, z - offset, _low_rank(filled, k, ridge))
    u, s, vt = np.linalg.svd(filled, full_matrices=False)
    root = np.sqrt(np.maximum(s[:k] - ridge, 0.0))
    out = {"user_factors": _padded(u[:, :k] * root, k, axis=1),
           "item_factors": _padded(root[:, None] * vt[:k], k, axis=0)}
    if biases:
        out |= {"user_bias": mean / 2 + user_dev, "item_bias": mean / 2 + movie_dev}
    return out


def _mean_where(x: np.ndarray, rated: np.ndarray, axis: int) -> np.ndarray:
    """Mean of x over rated cells along axis; 0 for a row or column with none."""
    count = rated.sum(axis)
    return np.where(rated, x, 0.0).sum(axis) / np.maximum(count, 1)


def _low_rank(x: np.ndarray, k: int, ridge: float) -> np.ndarray:
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return (u[:, :k] * np.maximum(s[:k] - ridge, 0.0)) @ vt[:k]


def _padded(x: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Zeros appended along axis when the grid has fewer than k rows or columns (k beyond its rank)."""
    missing = k - x.shape[axis]
    if missing <= 0:
        return x
    shape = list(x.shape)
    shape[axis] = missing
    return np.concatenate([x, np.zeros(shape)], axis)
