"""Predictions against actual validation ratings as a 2-D histogram: the lesson's hex jointplot, in pyqtgraph.

Each column is one rating value (one star), each row a band of predictions; the colour is how many
validation ratings fall there. A line joins each column's mean prediction, and the diagonal is where a
perfect model would put them.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from collabsheet.gui.train.frames import Joint
from collabsheet.gui.train.tables import WAITING

COLOR_MAP = "CET-L17"  # perceptually uniform, white → yellow → red → purple: empty cells fade into the background
MEAN_PEN = (31, 119, 180)


class QJointPlot(QWidget):
    """The histogram image with its colour bar, the diagonal, and the mean prediction per rating."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "actual rating")
        self.plot.setLabel("left", "prediction")
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get(COLOR_MAP), interactive=False, width=12,
                                   label="ratings")
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.diagonal = self.plot.plot([], [], pen=pg.mkPen((120, 120, 120), width=1, style=pg.QtCore.Qt.DashLine))
        self.means = self.plot.plot([], [], pen=pg.mkPen(MEAN_PEN, width=2), symbol="o", symbolSize=6,
                                    symbolBrush=MEAN_PEN, symbolPen=None, name="mean prediction")
        self.joint: Joint | None = None
        self.message = pg.TextItem("", color=(90, 90, 90), anchor=(0.5, 0.5))
        self.plot.addItem(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.show_joint(None)

    def show_joint(self, joint: Joint | None, note: str = WAITING) -> None:
        """Draw a histogram, or clear it and say why there is none."""
        self.joint = joint
        if joint is None:
            self.image.clear()
            self.bar.setLevels((0, 1))
            self.diagonal.setData([], [])
            self.means.setData([], [])
            self.message.setText(note)
            self.message.setPos(0.5, 0.5)
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            return
        self.message.setText("")
        xe, ye = joint.actual_edges, joint.predicted_edges
        counts = joint.counts.astype(float)
        self.image.setImage(np.where(counts > 0, counts, np.nan), autoLevels=False)
        self.image.setRect(QRectF(xe[0], ye[0], xe[-1] - xe[0], ye[-1] - ye[0]))
        self.bar.setLevels((0, max(counts.max(), 1)))
        lo, hi = min(xe[0], ye[0]), max(xe[-1], ye[-1])
        self.diagonal.setData([lo, hi], [lo, hi])
        centres, means = self.column_means()
        self.means.setData(centres, means)
        self.plot.setRange(xRange=(xe[0], xe[-1]), yRange=(ye[0], ye[-1]), padding=0.02)

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
