"""The sheet's first frame in numpy alone: what a new Sheet's snapshot() shows, computed without torch.

A fresh sheet is its ratings, random factors and one small matrix product, so the window can show all of
it (factors, predictions, loss) while torch is still loading. The numbers are the Sheet's own: the same
initial draw (engine.sheet.initial) and the same formulas (engine.models.factorization); the loss's gradient
is the chain rule of the stepping kernel (engine.sheet.batched), here in numpy; tests/test_first_frame.py holds the
two to 1e-12 (they sum in different orders). Nothing here imports torch.
"""
from __future__ import annotations

import math

import numpy as np

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.models import factorization
from collabsheet.engine.sheet import initial
from collabsheet.engine.sheet.snapshot import BLOCKS, Snapshot


def first_frame(grid: Crosstab, config: SheetConfig = SheetConfig(),
                   settings: OptimizerSettings = OptimizerSettings()) -> Snapshot:
    """Sheet(grid, config, settings, device="cpu").snapshot(), before any step, in numpy."""
    ratings = np.array(grid.ratings, dtype=np.float64)
    mask = ~np.isnan(ratings)
    count = max(int(mask.sum()), 1)
    y_range = factorization.y_range(*initial.rating_range(ratings), config.squash_range) if config.squash else None
    p = initial.values(*ratings.shape, config, config.seed)
    raw = factorization.cells(p["user_factors"], p["item_factors"], p.get("user_bias"), p.get("item_bias"))
    pred, s = factorization.squash(raw, y_range)
    err = np.where(mask, pred - np.where(mask, ratings, 0.0), 0.0)
    mse = float(err.ravel() @ err.ravel()) / count
    d = err * (2.0 / count)  # ∂MSE/∂prediction
    if y_range is not None:
        d = d * factorization.squash_slope(s, y_range)  # through the sigmoid
    grads = {"user_factors": d @ p["item_factors"].T, "item_factors": p["user_factors"].T @ d}
    if config.biases:
        grads |= {"user_bias": d.sum(1), "item_bias": d.sum(0)}
    return Snapshot(
        ratings=ratings, mask=mask, predictions=np.where(mask, pred, 0.0),
        params={b: p.get(b) for b in BLOCKS}, grads={b: grads.get(b) for b in BLOCKS},
        optimizer_state={}, rmse=math.sqrt(mse), sse=mse * count, count=count, step=0, settings=settings,
        k=config.k, biases=config.biases, squash=config.squash, y_range=y_range, seed=config.seed,
        diverged=False, device="cpu", user_ids=grid.user_ids, item_ids=grid.item_ids, titles=grid.titles,
        dataset=grid.name, holdout=np.zeros_like(mask), holdout_ratings=np.full(ratings.shape, np.nan),
        squash_range=config.squash_range,
    )
