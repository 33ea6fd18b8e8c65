"""Predictions against actual validation ratings as the lesson's `sns.jointplot(preds, y, kind='hex')`, in pyqtgraph.

A hexbin (the hexagons `collabsheet train --plot` draws, shaded by how many validation ratings fall in each) with
the ratings' histogram above it and the predictions' histogram on its right; the diagonal is where a perfect
model would put them, and a line joins each rating's mean prediction.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QVBoxLayout, QWidget

from collabsheet.gui.train.frames import Joint
from collabsheet.gui.train.hexbin import HexCells
from collabsheet.gui.train.tables import WAITING

BLUE = (31, 119, 180)  # seaborn's first colour, as sns.jointplot and the PNG draw
MEAN_PEN = (214, 39, 40)  # the means stand out over the blue hexagons


def _hexagon() -> QPainterPath:
    """A pointy-top hexagon of radius ½ (a symbol of size s spans s): the shape the binning uses."""
    path = QPainterPath()
    corners = [(0.5 * math.cos(math.radians(90 + 60 * i)), 0.5 * math.sin(math.radians(90 + 60 * i))) for i in range(6)]
    path.moveTo(*corners[0])
    for x, y in corners[1:]:
        path.lineTo(x, y)
    path.closeSubpath()
    return path


def shades(counts: np.ndarray) -> list[tuple[int, int, int]]:
    """Each hexagon's colour, from pale to seaborn's blue as its count nears the largest (as the PNG shades them)."""
    share = counts / max(1, counts.max())
    blue = np.array(BLUE, dtype=float)
    return [tuple(int(c) for c in 255 - (255 - blue) * (0.15 + 0.85 * s)) for s in share]


class QJointPlot(QWidget):
    """The hexbin with both marginal histograms, the diagonal, and the mean prediction per rating."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground("w")
        self.top = self.layout_widget.addPlot(row=0, col=0)
        self.main = self.layout_widget.addPlot(row=1, col=0)
        self.side = self.layout_widget.addPlot(row=1, col=1)
        grid = self.layout_widget.ci.layout
        grid.setRowStretchFactor(0, 1)
        grid.setRowStretchFactor(1, 4)
        grid.setColumnStretchFactor(0, 4)
        grid.setColumnStretchFactor(1, 1)
        self.top.setXLink(self.main)
        self.side.setYLink(self.main)
        self.top.hideAxis("bottom")
        self.side.hideAxis("left")
        self.main.setLabel("bottom", "actual rating")
        self.main.setLabel("left", "prediction")
        for plot in (self.top, self.main, self.side):
            plot.setMenuEnabled(False)
        self.hexes = pg.ScatterPlotItem(pxMode=False, symbol=_hexagon(), pen=None)
        self.main.addItem(self.hexes)
        self.above = pg.BarGraphItem(x0=[], width=[], height=[], brush=BLUE, pen=None)
        self.right = pg.BarGraphItem(x0=[], y0=[], width=[], height=[], brush=BLUE, pen=None)
        self.top.addItem(self.above)
        self.side.addItem(self.right)
        self.diagonal = self.main.plot([], [], pen=pg.mkPen((120, 120, 120), width=1, style=pg.QtCore.Qt.DashLine))
        self.means = self.main.plot([], [], pen=pg.mkPen(MEAN_PEN, width=2), symbol="o", symbolSize=6,
                                    symbolBrush=MEAN_PEN, symbolPen=None, name="mean prediction")
        self.joint: Joint | None = None
        self.cells: HexCells | None = None
        self.message = pg.TextItem("", color=(90, 90, 90), anchor=(0.5, 0.5))
        self.main.addItem(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.layout_widget)
        self.show_joint(None)

    def show_joint(self, joint: Joint | None, note: str = WAITING) -> None:
        """Draw the hexbin and its marginals, or clear them and say why there are none."""
        self.joint = joint
        if joint is None:
            self.cells = None
            self.hexes.setData([], [])
            self.above.setOpts(x0=[], width=[], height=[])
            self.right.setOpts(x0=[], y0=[], width=[], height=[])
            self.diagonal.setData([], [])
            self.means.setData([], [])
            self.message.setText(note)
            self.message.setPos(0.5, 0.5)
            self.main.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            return
        self.message.setText("")
        c = self.cells = joint.hexes  # binned in the worker: the GUI thread only draws
        self.hexes.setData(c.actual, c.predicted, size=2 * c.radius, brush=[pg.mkBrush(s) for s in shades(c.counts)])
        widths = np.diff(c.edges)
        self.above.setOpts(x0=c.edges[:-1], width=widths, height=c.actual_counts)
        self.right.setOpts(x0=np.zeros(len(widths)), y0=c.edges[:-1], width=c.predicted_counts, height=widths)
        self.diagonal.setData([c.lo, c.hi], [c.lo, c.hi])
        self.means.setData(*self.column_means())
        self.main.setRange(xRange=(c.lo, c.hi), yRange=(c.lo, c.hi), padding=0.04)

    def column_means(self) -> tuple[np.ndarray, np.ndarray]:
        """Each rating column's centre and the mean prediction of the ratings in it (columns with none left out)."""
        joint = self.joint
        edges = joint.actual_edges
        column = np.clip(np.searchsorted(edges, joint.actual, side="right") - 1, 0, len(edges) - 2)
        n = np.bincount(column, minlength=len(edges) - 1)
        sums = np.bincount(column, weights=joint.predicted, minlength=len(edges) - 1)
        centres = (edges[:-1] + edges[1:]) / 2
        has = n > 0
        return centres[has], sums[has] / n[has]
