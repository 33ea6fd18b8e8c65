"""A one-line legend naming the sheet's colours."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from gui.sheet import colors


def _swatch(color) -> QLabel:
    swatch = QLabel()
    swatch.setFixedSize(14, 14)
    swatch.setStyleSheet(f"background:{color.name()}; border:1px solid #888;")
    return swatch


class QLegend(QWidget):
    """Colour swatches with the block names, plus a line of context (dataset, sheet size)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.names: dict[str, QLabel] = {}
        for name, kind in colors.LEGEND:
            layout.addWidget(_swatch(colors.tint(colors.BASE[kind], 0.6)))
            self.names[kind] = QLabel(name)
            layout.addWidget(self.names[kind])
            layout.addSpacing(10)
        layout.addStretch(1)
        self.context = QLabel("")
        self.context.setStyleSheet("color:#555")
        layout.addWidget(self.context)

    def set_errors(self, on: bool) -> None:
        """Name the purple block for what it shows."""
        self.names["prediction"].setText("errors (prediction − rating)" if on else "predictions")
