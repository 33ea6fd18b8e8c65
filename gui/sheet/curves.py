"""The loss curves of a recorded run, as the plot draws them: a tree of series, each joined where it starts (Qt-free).

Each branch of the timeline draws its recorded steps as its own series, in its own colour, starting at its
fork; a new series starts too when the run's label changes along a branch (another optimizer or lr, cells
held out), so the legend names what each stretch ran with. Steps replayed along a recorded branch draw
nothing: that stretch is on the plot already. When cells are held out, each series has a dashed companion,
HOLDOUT + its number, with the held-out RMSE at the same steps.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from collabsheet.gui.runtime.series import DASHED, LINE, MARKERS, Points
from collabsheet.gui.sheet.frames import HOLDOUT

HOLDOUT_LABEL = "held-out cells (dashed)"


class BranchCurves:
    """Numbers the series, remembers which branch each belongs to and which one a branch's next steps extend."""

    def __init__(self, put: Callable[[Points], None]) -> None:
        self._put = put
        self.series: dict[int, int] = {}  # series → branch
        self._open: dict[int, tuple[int, str]] = {}  # branch → (series, label) that its next recorded steps extend
        self._count = 0

    def clear(self) -> None:
        """A new run: no series yet (the mailbox's clear drops the old ones from the plot)."""
        self.series.clear()
        self._open.clear()

    def new_series(self) -> int:
        self._count += 1
        return self._count

    def mark(self, x: int, value: float, label: str = "") -> None:
        """A lone marker (where a run starts, where a solve landed), on no branch."""
        self._put(Points(self.new_series(), label, x, np.array([value]), MARKERS))

    def close(self, branch: int) -> None:
        """The branch's next recorded steps start a new series (its factors jumped: a solve, a new k, a racer)."""
        self._open.pop(branch, None)

    def extend(self, branch: int, label: str, x: int, states: np.ndarray, holdout: np.ndarray | None = None) -> None:
        """RMSE at steps x, x+1, …: states[0] is where the branch's curve stands, the rest are new points.

        holdout, when cells are held out, is the held-out RMSE at the same steps."""
        if len(states) < 2:
            return
        series, open_label = self._open.get(branch, (None, None))
        if series is None or open_label != label:
            series = self.new_series()
            self._open[branch], self.series[series] = (series, label), branch
            self._put(Points(series, label, x, np.array([states[0]]), LINE))
            if holdout is not None:
                self._put(Points(HOLDOUT + series, HOLDOUT_LABEL, x, np.array([holdout[0]]), DASHED))
        self._put(Points(series, label, x + 1, np.asarray(states[1:], dtype=float), LINE))
        if holdout is not None:
            self._put(Points(HOLDOUT + series, HOLDOUT_LABEL, x + 1, np.asarray(holdout[1:], dtype=float), DASHED))
