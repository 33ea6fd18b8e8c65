"""Points of a named curve, as runners send them and the curve plot draws them (Qt-free)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LINE, DASHED, MARKERS = "line", "dashed", "markers"  # how a series is drawn


@dataclass(frozen=True)
class Points:
    """Consecutive values of one series, the first at x = x0 (on the series' own axis when it has one)."""

    series: int  # which curve: a new number starts a new curve
    label: str  # its name in the legend ("" for none)
    x0: float
    values: np.ndarray
    style: str = LINE
    axis: str = ""  # "" the plot's main axis; another name draws the series in its own inset
