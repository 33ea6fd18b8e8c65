"""The loss over (a, b) for the contour plot, and several optimizers' paths over it from the same start."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from collabsheet.engine.graddesc.data import Data
from collabsheet.engine.graddesc.run import GradDesc
from collabsheet.engine.graddesc.settings import Settings


def least_squares(data: Data) -> tuple[float, float]:
    """The (a, b) at the bottom of the bowl: the least-squares line through the data."""
    x, y = data.x, data.y
    dx = x - x.mean()
    spread = float(dx @ dx)
    a = float(dx @ (y - y.mean())) / spread if spread > 0 else 0.0  # all x equal: any a fits, take 0
    return a, float(y.mean() - a * x.mean())


def loss_surface(data: Data, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean squared error (1/n)·Σ(y − (b + a·x))² at every (a[i], b[j]) of a grid: shape (len(a), len(b)).

    Written around the least-squares line (â, b̂) as a sum of squares, which is exact, never negative, and
    costs O(grid) however many rows the data has:  MSE = MSE(â, b̂) + var(x)·(a − â)² + (ȳ − b − a·x̄)².
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1)
    x, y = data.x, data.y
    a_hat, b_hat = least_squares(data)
    floor = float(np.mean((y - (b_hat + a_hat * x)) ** 2))
    spread = float(np.mean((x - x.mean()) ** 2))
    return floor + spread * (a - a_hat) ** 2 + (y.mean() - b - a * x.mean()) ** 2


def paths(data: Data, settings: Sequence[Settings], epochs: int, start: tuple[float, float] | None = None,
          ) -> list[np.ndarray]:
    """Each optimizer's (a, b) after every row of `epochs` epochs, from the same start (b, a) if given.

    One array of shape (≤ epochs·rows + 1, 2) per settings, column 0 the slope a; a run that diverges stops early.
    """
    out = []
    for h in settings:
        if start is not None:
            h = h.but(start_b=start[0], start_a=start[1])
        run = GradDesc(data, h)
        run.run(epochs)
        out.append(run.path())
    return out
