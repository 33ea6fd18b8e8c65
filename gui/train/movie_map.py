"""The movie embeddings on their first two principal components: every movie a point, the most-rated named.

Hovering a point shows its title (pyqtgraph's scatter tool tip), as the lesson's map names only a few.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from collabsheet.gui.train.frames import MovieMapData
from collabsheet.gui.train.tables import WAITING

POINT = (31, 119, 180, 90)  # translucent: thousands of movies overlap near the centre
NAMED = (214, 39, 40, 230)
LABEL_COLOR = (30, 30, 30)
MAX_TITLE = 28  # characters of a title on the map (the tool tip has it whole)


def short(title: str) -> str:
    return title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…"


class QMovieMap(QWidget):
    """A scatter of the movies, sized by how often they were rated, with the most-rated labelled."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for side in ("left", "bottom"):  # a component of small spread must not turn the axis into "(x0.001)"
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self.tip, hoverPen=pg.mkPen("k", width=1.5),
                                          hoverSize=11, pen=None)
        self.plot.addItem(self.scatter)
        self.labels: list[pg.TextItem] = []
        self.data: MovieMapData | None = None
        self.message = pg.TextItem("", color=(90, 90, 90), anchor=(0.5, 0.5))
        self.plot.addItem(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._tidy = QTimer(self)  # labels are sorted out once the view has moved, not at each step of a drag
        self._tidy.setSingleShot(True)
        self._tidy.setInterval(0)
        self._tidy.timeout.connect(self.declutter)
        self.plot.getViewBox().sigTransformChanged.connect(self._tidy.start)
        self.show_map(None)

    def show_map(self, data: MovieMapData | None, note: str = WAITING) -> None:
        """Draw a model's movie map, or clear it and say why there is none."""
        self.data = data
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        if data is None:
            self.scatter.clear()
            self.message.setText(note)
            self.message.setPos(0.5, 0.5)
            self.plot.setLabel("bottom", "")
            self.plot.setLabel("left", "")
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            return
        self.message.setText("")
        counts = np.asarray(data.counts, float)
        sizes = 3 + 9 * np.sqrt(counts / max(counts.max(), 1))
        brushes = [pg.mkBrush(POINT)] * len(counts)
        for i in data.labelled:
            brushes[int(i)] = pg.mkBrush(NAMED)
        order = np.argsort(counts, kind="stable")  # the most-rated drawn last, on top
        self.scatter.setData(x=data.x[order], y=data.y[order], size=sizes[order],
                             brush=[brushes[i] for i in order], data=order)
        middle = (data.x.min() + data.x.max()) / 2 if len(data.x) else 0.0
        for i in data.labelled:
            # A title reads away from the map's middle, so those near an edge stay inside the plot.
            anchor = (0 if data.x[i] < middle else 1, 1)
            label = pg.TextItem(short(data.titles[int(i)]), color=LABEL_COLOR, anchor=anchor)
            label.setPos(float(data.x[i]), float(data.y[i]))
            self.plot.addItem(label)
            self.labels.append(label)
        first, second = data.explained
        self.plot.setLabel("bottom", f"principal component 1 ({first:.0%} of the variance)")
        self.plot.setLabel("left", f"component 2 ({second:.0%})")
        self.plot.autoRange(padding=0.05)
        self.declutter()

    def declutter(self) -> None:
        """Hide a title that would cover a more-rated movie's title; zooming in brings it back."""
        box, shown = self.plot.getViewBox(), []
        for label in self.labels:  # most-rated first
            # Worked out from the view's transform, not the label's own (a TextItem updates that only as it paints).
            at = box.mapViewToScene(label.pos())
            size = label.textItem.boundingRect()
            ax, ay = label.anchor.x(), label.anchor.y()
            rect = QRectF(at.x() - ax * size.width(), at.y() - ay * size.height(), size.width(), size.height())
            clear = not any(rect.intersects(other) for other in shown)
            label.setVisible(clear)
            if clear:
                shown.append(rect)

    def tip(self, x: float, y: float, data) -> str:
        """A hovered movie's title and how many training ratings it has."""
        if self.data is None or data is None:
            return ""
        i = int(data)
        return f"{self.data.titles[i]} ({int(self.data.counts[i]):,} ratings)"

    def nearest(self, x: float, y: float) -> int:
        """The index of the movie nearest a point of the map."""
        return int(np.argmin((self.data.x - x) ** 2 + (self.data.y - y) ** 2))
