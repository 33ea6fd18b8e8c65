"""What the Gradient descent tab's runner sends the GUI (Qt-free): rows, path, rmse points, surface, comparisons.

Rows, path and rmse points arrive as increments and accumulate in the frame until the GUI takes it, so a
long Play never copies a whole epoch or path at every repaint; a new run says `clear` and starts them again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from collabsheet.engine.graddesc import Settings
from collabsheet.gui.runtime.runner import Frame as BaseFrame
from collabsheet.gui.runtime.series import Points


@dataclass(frozen=True, eq=False)
class Surface:
    """The mean squared error over a grid of (a, b), for the contour plot."""

    a: np.ndarray  # the slopes of the grid (the plot's x axis), increasing
    b: np.ndarray  # the intercepts (its y axis), increasing
    loss: np.ndarray  # MSE, shape (len(a), len(b))
    optimum: tuple[float, float]  # (a, b) of the least-squares line: the bottom of the bowl
    log_loss: np.ndarray  # log₁₀ MSE, as the plot colours it
    levels: np.ndarray  # the log₁₀ MSE of each contour line
    contours: np.ndarray  # every contour line's (a, b) points, shape (n, 2), the lines separated by rows of NaN

    def contains(self, a: float, b: float) -> bool:
        return bool(self.a[0] <= a <= self.a[-1] and self.b[0] <= b <= self.b[-1])


@dataclass(frozen=True, eq=False)
class Compared:
    """One optimizer's path over the same data from the same start, for comparison."""

    rule: str
    label: str  # as the legend names it
    path: np.ndarray  # (a, b) from the start and after every row, shape (rows·epochs + 1, 2) or less if it diverged
    diverged: bool


@dataclass(frozen=True)
class Progress:
    """Where the run stands, for the status texts."""

    epoch: int  # epochs completed
    row: int  # rows of the epoch shown (0 … rows)
    rows: int  # rows an epoch has
    a: float  # the slope and intercept now (what the next row reads)
    b: float
    lr: float  # the learning rate in use (adam_ann's annealing lowers it)
    rmse: float | None  # the workbook's "rmse" of the last completed epoch
    diverged: bool
    data: str  # where the data came from
    top: tuple[float, ...]  # the epoch shown's top cells: b, a, then the averages m_b, m_a, v_b, v_a
    steps: int  # rows stepped since the run began


@dataclass
class Frame(BaseFrame):
    """What the GUI takes from the mailbox: everything since it last looked, increments merged."""

    settings: Settings | None = None
    progress: Progress | None = None
    rows: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (index of the first, rows): the epoch shown
    path: list[np.ndarray] = field(default_factory=list)  # (a, b) points after the last ones sent, shape (n, 2)
    rmse: list[Points] = field(default_factory=list)  # the "rmse" per epoch, for the curve plot
    clear: bool = False  # a new run: drop the rows, path and curves shown before the increments that follow
    surface: Surface | None = None  # a new loss surface (None: keep the one shown)
    compare: tuple[Compared, ...] | None = None  # new comparison paths (None: keep them; (): none)

    def merge(self, events: tuple = (), clear: bool = False, rows: tuple | None = None, path: np.ndarray | None = None,
              rmse: Points | None = None, **fields) -> None:
        if clear:
            self.rows.clear()
            self.path.clear()
            self.rmse.clear()
            self.clear = True
        if rows is not None:
            if rows[0] == 0:  # a new epoch: the rows before it are no longer shown
                self.rows.clear()
            self.rows.append(rows)
        if path is not None and len(path):
            self.path.append(path)
        if rmse is not None and len(rmse.values):
            self.rmse.append(rmse)
        super().merge(events, **{k: v for k, v in fields.items() if v is not None})
