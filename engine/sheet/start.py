"""Where a sheet starts, in numpy alone (no torch): θ's blocks, their shapes and first values, the ratings' range.

Shared by the sheet's model and by the first frame drawn before torch has loaded (engine.sheet.first_frame), so
both start from the same numbers, on every device.
"""
from __future__ import annotations

import numpy as np

from collabsheet.engine.config import SheetConfig


def shapes(n_users: int, n_items: int, config: SheetConfig) -> dict[str, tuple[int, ...]]:
    """Each block's shape, in θ's order: user factors, movie factors, then the biases when the sheet has them."""
    k = config.k
    out = {"user_factors": (n_users, k), "item_factors": (k, n_items)}
    if config.biases:
        out |= {"user_bias": (n_users,), "item_bias": (n_items,)}
    return out


def initial(n_users: int, n_items: int, config: SheetConfig, seed: int) -> dict[str, np.ndarray]:
    """Factors uniform in [0, init) like the workbook's =RAND(), biases 0, drawn by numpy's generator from seed."""
    rng = np.random.default_rng(seed)  # one stream, user factors first: the same numbers on any machine
    return {name: np.zeros(shape) if name.endswith("bias") else config.init * rng.random(shape)
            for name, shape in shapes(n_users, n_items, config).items()}


def rating_range(ratings: np.ndarray) -> tuple[float, float]:
    """The lowest and highest rating in a grid (NaN = blank); (0, 1) when nothing is rated."""
    rated = ratings[~np.isnan(ratings)]
    return (float(rated.min()), float(rated.max())) if rated.size else (0.0, 1.0)
