"""The loss over (a, b) as a contour plot, with the run's path drawn live and other optimizers' paths beside it.

log₁₀ of the mean squared error as an image in a perceptually uniform colour map (viridis), with contour
lines at evenly spaced levels of it (computed with the surface, in the worker); the least-squares (a, b)
marked at the bottom of the bowl.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from collabsheet.gui.graddesc.frames import Compared, Surface

COLOR_MAP = "viridis"
LIVE = (230, 30, 30)  # the run's own path
COMPARE_COLORS = ((255, 255, 255), (255, 150, 20), (255, 105, 215), (120, 200, 255), (255, 235, 80), (40, 40, 40),
                  (170, 255, 120))  # against viridis' blues, greens and yellows, and each other
MAX_POINTS = 20_000  # of a path drawn; beyond it every k-th point is drawn, and the last


def thin(points: np.ndarray, most: int = MAX_POINTS) -> np.ndarray:
    """At most `most` of the points, evenly spaced, the first and last always among them."""
    if len(points) <= most:
        return points
    keep = np.unique(np.r_[np.linspace(0, len(points) - 1, most - 1).astype(np.int64), len(points) - 1])
    return points[keep]


class QContourPlot(QWidget):
    """log₁₀ MSE over (a, b), the run's path and the compared paths, with a colour bar and a legend under it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "slope a")
        item.setLabel("left", "intercept b")
        for axis in ("left", "bottom"):
            item.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.setMinimumSize(200, 160)
        self.cmap = pg.colormap.get(COLOR_MAP)
        self.image = pg.ImageItem(axisOrder="col-major")  # image[i, j]: slope a[i], intercept b[j]
        self.image.setColorMap(self.cmap)
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(colorMap=self.cmap, interactive=False, width=12, label="log₁₀ MSE")
        self.bar.setImageItem(self.image, insert_in=item)
        self.contours = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 100), width=1))  # all lines, NaN-separated
        self.plot.addItem(self.contours)
        self.optimum = pg.ScatterPlotItem(symbol="+", size=16, pen=pg.mkPen("w", width=2), brush=None)
        self.start = pg.ScatterPlotItem(symbol="o", size=10, pen=pg.mkPen("w", width=2), brush=None)
        self.path = pg.PlotCurveItem(pen=pg.mkPen(LIVE, width=2.5), skipFiniteCheck=True)
        self.head = pg.ScatterPlotItem(symbol="o", size=9, pen=pg.mkPen("w", width=1.5), brush=pg.mkBrush(LIVE))
        for part in (self.optimum, self.start, self.path, self.head):
            self.plot.addItem(part)
        self.path.setZValue(10)
        self.head.setZValue(11)
        self.compared: list[pg.PlotDataItem] = []
        self.surface: Surface | None = None
        self._start: tuple[float, float] | None = None
        # The legend sits under the plot, where it hides no part of the bowl or of a path.
        self.key = QLabel("")
        self.key.setWordWrap(True)
        self.key.setContentsMargins(6, 2, 6, 2)
        self._labels = {"path": "this run", "compared": []}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.key)
        self._show_key()

    def set_surface(self, surface: Surface) -> None:
        """A new surface: the image, its contour lines and the view's range."""
        self.surface = surface
        z = surface.log_loss
        lo, hi = float(z.min()), float(z.max())
        hi = hi if hi > lo else lo + 1
        self.image.setImage(z, autoLevels=False, levels=(lo, hi))
        a, b = surface.a, surface.b
        self.image.setRect(QRectF(a[0], b[0], a[-1] - a[0], b[-1] - b[0]))
        self.bar.setLevels((lo, hi))
        self.contours.setData(surface.contours[:, 0], surface.contours[:, 1], connect="finite")
        self.optimum.setData([surface.optimum[0]], [surface.optimum[1]])
        self.plot.setRange(xRange=(a[0], a[-1]), yRange=(b[0], b[-1]), padding=0)

    def show_path(self, points: np.ndarray, label: str) -> None:
        """The run's path so far, (a, b) per row, its start ringed and its head dotted."""
        points = thin(points)
        if not len(points):
            self.path.setData([], [])
            self.start.setData([], [])
            self.head.setData([], [])
            self._start = None
            return
        self.path.setData(points[:, 0], points[:, 1])
        start = (float(points[0, 0]), float(points[0, 1]))
        if start != self._start:  # a new run
            self._start = start
            self.start.setData([start[0]], [start[1]])
        self.head.setData([points[-1, 0]], [points[-1, 1]])
        if label != self._labels["path"]:
            self._labels["path"] = label
            self._show_key()

    def show_compared(self, compared: tuple[Compared, ...]) -> None:
        """Each compared optimizer's path in its own colour, named in the legend."""
        for curve in self.compared:
            self.plot.removeItem(curve)
        self.compared, self._labels["compared"] = [], []
        for i, c in enumerate(compared):
            points = thin(c.path)
            color = COMPARE_COLORS[i % len(COMPARE_COLORS)]
            dots = {"symbol": "o", "symbolSize": 4, "symbolBrush": color, "symbolPen": None} if len(points) <= 1000 else {}
            curve = pg.PlotDataItem(points[:, 0], points[:, 1], pen=pg.mkPen(color, width=2), **dots)
            curve.setZValue(5)
            self.plot.addItem(curve)
            self.compared.append(curve)
            self._labels["compared"].append((color, c.label + (" · diverged" if c.diverged else "")))
        self._show_key()

    def _show_key(self) -> None:
        def entry(color: tuple, text: str) -> str:  # non-breaking within an entry: lines break between entries
            return (f"<span style='color:rgb{tuple(_darker(color))};font-weight:bold'>━━</span>&nbsp;"
                    + text.replace(" ", "&nbsp;"))

        entries = [entry(LIVE, self._labels["path"])] + [entry(*c) for c in self._labels["compared"]]
        self.key.setText(" &nbsp; ".join(entries) + " &nbsp; <span style='color:#555'>○&nbsp;start, "
                                                    "+&nbsp;least&nbsp;squares</span>")

    def labels(self) -> list[str]:
        """The legend's entries: this run, then the compared optimizers."""
        return [self._labels["path"]] + [text for _, text in self._labels["compared"]]


def _darker(color: tuple) -> tuple:
    """A colour readable on the window's light background (white becomes grey)."""
    return tuple(int(c * 0.75) for c in color) if sum(color) > 600 else color
