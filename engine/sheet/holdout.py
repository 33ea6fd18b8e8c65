"""Held-out cells: a seeded share of the rated cells left out of the loss, and the RMSE on them alone.

The sheet hands its model the ratings with these cells blanked, so the loss, its gradient and Solve never
see them; their own error is measured from the same predictions. Training RMSE falling while this one
turns up is overfitting, on cells a learner can read.
"""
from __future__ import annotations

import numpy as np
import torch

from collabsheet.engine.sheet.model import DTYPE


def pick(ratings: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded `fraction` of the rated cells (at least one, leaving at least one to fit), as a bool mask."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    rated = np.flatnonzero(~np.isnan(ratings))
    if len(rated) < 2:
        raise ValueError(f"holding out cells needs at least 2 ratings, the sheet has {len(rated)}")
    n = min(max(round(fraction * len(rated)), 1), len(rated) - 1)
    chosen = np.random.default_rng(seed).choice(rated, size=n, replace=False)
    mask = np.zeros(ratings.shape, dtype=bool)
    mask.flat[chosen] = True
    return mask


def blank(ratings: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The ratings the loss sees: held-out cells blank."""
    return np.where(mask, np.nan, ratings)


class HeldOut:
    """The held-out cells' ratings as tensors, to score predictions on them alone."""

    def __init__(self, ratings: np.ndarray, mask: np.ndarray, device: torch.device) -> None:
        self.mask = np.array(mask, dtype=bool) & ~np.isnan(ratings)
        self.count = int(self.mask.sum())
        self.ratings = np.where(self.mask, ratings, np.nan)  # the held-out values, NaN elsewhere
        self.r = torch.tensor(np.where(self.mask, ratings, 0.0), dtype=DTYPE, device=device)
        self.w = torch.tensor(self.mask, dtype=DTYPE, device=device)

    def mse(self, pred: torch.Tensor) -> torch.Tensor:
        """Mean squared error over the held-out cells only; pred (…, users, movies), batch dimensions kept."""
        err = (pred - self.r) * self.w
        return err.square().sum((-2, -1)) / max(self.count, 1)
