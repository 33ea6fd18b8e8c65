"""A small heat map of one racer's prediction block, shaded as the sheet shades its predictions."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from collabsheet.gui.sheet import colors
from collabsheet.gui.sheet import layout as L

HELD_BRUSH = QBrush(QColor(30, 30, 30, 140), Qt.BDiagPattern)


class QHeatMap(QWidget):
    """A users × movies block as coloured squares: rated cells by their prediction, blank cells faint."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._palette = colors.Palette()
        self._image: QImage | None = None
        self._argb: np.ndarray | None = None
        self._held: np.ndarray | None = None
        self.setMinimumSize(60, 60)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(110, 110)

    def set_block(self, predictions: np.ndarray, shown: np.ndarray, held: np.ndarray, lo: float, hi: float) -> None:
        """predictions (users, movies), shown: the cells to colour (rated or held out), held: those to hatch."""
        offset, factor = colors.scale(lo, hi)
        argb = self._palette.argb[L.PREDICTION][colors.levels(predictions, offset, factor)]
        argb[~shown] = self._palette.empty_argb[L.PREDICTION]
        self._argb = np.ascontiguousarray(argb)
        self._held = held
        self._image = QImage(self._argb.data, self._argb.shape[1], self._argb.shape[0], self._argb.shape[1] * 4,
                             QImage.Format.Format_ARGB32)
        self.update()

    def block_rect(self) -> QRect:
        """Where the block is drawn: square cells, as large as fit, centred."""
        n, m = self._argb.shape
        cell = max(1, min(self.width() // m, self.height() // n))
        return QRect((self.width() - cell * m) // 2, (self.height() - cell * n) // 2, cell * m, cell * n)

    def paintEvent(self, _event) -> None:
        if self._image is None:
            return
        painter = QPainter(self)
        rect = self.block_rect()
        painter.drawImage(rect, self._image)
        n, m = self._argb.shape
        cell = rect.width() // m
        if self._held is not None and cell >= 4:
            for i, j in np.argwhere(self._held):
                painter.fillRect(QRect(rect.left() + j * cell, rect.top() + i * cell, cell, cell), HELD_BRUSH)
        painter.setPen(QColor(150, 150, 150))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.end()
