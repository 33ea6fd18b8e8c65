"""A frozen copy of the sheet in plain numpy: what views render and exports write (Sheet.snapshot() takes it)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from collabsheet.engine.config import OptimizerSettings

BLOCKS = ("user_factors", "item_factors", "user_bias", "item_bias")


@dataclass(frozen=True)
class Snapshot:
    """The sheet at one moment. Blocks absent from the model (biases off) are None."""

    ratings: np.ndarray  # (users, items) float64, the ratings the loss sees: NaN = blank (held-out cells too)
    mask: np.ndarray  # (users, items) bool, True where rated and not held out
    predictions: np.ndarray  # (users, items) the prediction cells: 0 where blank (held-out cells are predicted)
    params: dict[str, np.ndarray | None]  # BLOCKS -> user_factors (n,k), item_factors (k,m), biases (n,), (m,)
    grads: dict[str, np.ndarray | None]  # ∂MSE/∂ each block, same shapes
    optimizer_state: dict  # e.g. {"m": {block: array}, "r": {...}, "t": int}; empty before the first step
    rmse: float  # the loss cell
    sse: float  # sum of squared errors over rated cells
    count: int  # number of rated cells
    step: int  # updates applied since reset
    settings: OptimizerSettings
    k: int
    biases: bool
    squash: bool
    y_range: tuple[float, float] | None  # the squashing range, None when squashing is off
    seed: int
    diverged: bool
    device: str
    user_ids: tuple
    item_ids: tuple
    titles: tuple[str, ...]
    dataset: str = ""
    squash_range: str = "data"  # which sigmoid range (engine.models.factorization.SQUASH_RANGES), when squashed
    extra: dict = field(default_factory=dict)
    holdout: np.ndarray | None = None  # (users, items) bool, True where a rating is held out of the loss
    holdout_ratings: np.ndarray | None = None  # (users, items) the held-out ratings, NaN elsewhere
    holdout_rmse: float = math.nan  # RMSE over the held-out cells only; NaN when none are held out
    holdout_count: int = 0  # number of held-out cells

    @property
    def user_factors(self) -> np.ndarray:
        return self.params["user_factors"]

    @property
    def item_factors(self) -> np.ndarray:
        return self.params["item_factors"]

    @property
    def errors(self) -> np.ndarray:
        """prediction − rating on rated cells, NaN elsewhere."""
        return np.where(self.mask, self.predictions - np.nan_to_num(self.ratings), np.nan)

    @property
    def holdout_errors(self) -> np.ndarray:
        """prediction − held-out rating on held-out cells, NaN elsewhere."""
        if self.holdout is None:
            return np.full(self.ratings.shape, np.nan)
        return np.where(self.holdout, self.predictions - np.nan_to_num(self.holdout_ratings), np.nan)

    def param_state(self, block: str, index: tuple[int, ...]) -> dict[str, float]:
        """The optimizer's state for one parameter cell, as scalars (plus the step count t)."""
        out: dict[str, float] = {}
        for key, value in self.optimizer_state.items():
            out[key] = value if key == "t" else float(value[block][index])
        return out

