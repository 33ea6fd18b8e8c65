"""A one-line legend naming the sheet's colours, with a colour bar of the factors' signed scale."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QLabel, QWidget

from collabsheet.gui.sheet import colors
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.widgets.boxes import swatch
from collabsheet.gui.widgets.flow import QFlowLine, group

SIGN_ROWS = ((L.ITEM_FACTORS, "movie factors"), (L.USER_FACTORS, "user factors"), (L.USER_BIAS, "biases"))
BAR_STEP, BAR_HEIGHT = 5, 18  # pixels per shade level; the bar's height (one stripe per signed block)


class QSignBar(QWidget):
    """The factor and bias blocks' diverging scale: negative … 0 … positive, one stripe per block's hue family."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.brushes = colors.Palette()
        self.setFixedSize(2 * colors.LEVELS * BAR_STEP + 2, BAR_HEIGHT)
        self.setToolTip("Factor and bias cells are shaded by sign and size: negative values towards rose, olive or "
                        "slate (left), positive towards the block's own orange, green or teal (right), pale near 0. "
                        "The darkest is the block's largest |value|.")

    def levels(self) -> list[int]:
        """The signed levels from left to right: the largest negative magnitude, …, 0, …, the largest positive."""
        return list(range(2 * colors.LEVELS - 1, colors.LEVELS - 1, -1)) + list(range(colors.LEVELS))

    def color_at(self, kind: str, column: int) -> QColor:
        """The colour of the bar's `column`-th level (0 = most negative) in the stripe of `kind`."""
        return self.brushes.cells[kind][self.levels()[column]].color()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        stripe = (self.height() - 2) / len(SIGN_ROWS)
        for row, (kind, _) in enumerate(SIGN_ROWS):
            top, bottom = 1 + round(row * stripe), 1 + round((row + 1) * stripe)
            for column in range(2 * colors.LEVELS):
                painter.fillRect(QRect(1 + column * BAR_STEP, top, BAR_STEP, bottom - top), self.color_at(kind, column))
        painter.setPen(QPen(QColor(136, 136, 136)))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        middle = self.width() // 2
        for text, rect, color in (("−", QRect(2, 0, 14, self.height()), colors.LIGHT_TEXT),
                                  ("0", QRect(middle - 7, 0, 14, self.height()), colors.DARK_TEXT),
                                  ("+", QRect(self.width() - 16, 0, 14, self.height()), colors.LIGHT_TEXT)):
            painter.setPen(color)
            painter.drawText(rect, Qt.AlignCenter, text)
        painter.end()


class QLegend(QFlowLine):
    """Colour swatches with the block names, the factors' sign scale, plus a line of context (dataset, sheet size)."""

    def __init__(self, parent=None) -> None:
        self.names: dict[str, QLabel] = {}
        groups = []  # a swatch and its name, the sign label and its bar: each stays on one line
        for name, kind in colors.LEGEND:
            self.names[kind] = QLabel(name)
            groups.append(group(swatch(colors.tint(colors.BASE[kind], 0.6)), self.names[kind]))
        sign = QLabel("factor sign")
        sign.setStyleSheet("color:#555")
        self.sign_bar = QSignBar()
        groups.append(group(sign, self.sign_bar))
        self.context = QLabel("")
        self.context.setStyleSheet("color:#555")
        super().__init__(groups, self.context, parent=parent)

    def set_errors(self, on: bool) -> None:
        """Name the purple block for what it shows."""
        self.names["prediction"].setText("errors (prediction − rating)" if on else "predictions")
