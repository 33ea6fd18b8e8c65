"""A legend's line that flows onto a second line in a narrow window, each group kept whole."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget


def group(*widgets: QWidget) -> QWidget:
    """Widgets side by side that a legend keeps on one line."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


class QFlowLine(QWidget):
    """A legend's groups on one line, or, in a widget too narrow for one, on two: a group never clips or splits.

    The widget asks for no width (a narrow window clips nothing, it wraps); `tail` (a line of context) ends the
    last line and is the one thing clipped."""

    def __init__(self, groups: list[QWidget], tail: QWidget | None = None, gap: int = 10, parent=None) -> None:
        super().__init__(parent)
        self.groups, self.tail, self.gap = groups, tail, gap
        lines = QVBoxLayout(self)
        lines.setContentsMargins(6, 2, 6, 2)
        lines.setSpacing(2)
        self.lines = (QHBoxLayout(), QHBoxLayout())
        for line in self.lines:
            line.setContentsMargins(0, 0, 0, 0)
            lines.addLayout(line)
        self.first_line = -1  # how many groups the first line holds
        self._arrange(len(groups))
        self.setMinimumWidth(1)

    def _needed(self, count: int) -> int:
        """The width the first `count` groups take on one line, margins included."""
        shown = [g for g in self.groups[:count] if not g.isHidden()]
        return sum(g.sizeHint().width() for g in shown) + self.gap * max(len(shown) - 1, 0) + 12

    def _arrange(self, first: int) -> None:
        """Put the first `first` groups on the first line and the rest, then the tail, on the second."""
        if first == self.first_line:
            return
        self.first_line = first
        for line in self.lines:
            while line.count():
                line.takeAt(0)
        for i, group in enumerate(self.groups):
            line = self.lines[i >= first]
            if line.count():
                line.addSpacing(self.gap)
            line.addWidget(group)
        wrapped = first < len(self.groups)
        for line in self.lines[:1 + wrapped]:
            line.addStretch(1)
        if self.tail is not None:
            self.lines[wrapped].addWidget(self.tail)

    def resizeEvent(self, event) -> None:
        """Flow the groups onto two lines when one line would clip them."""
        width, first = event.size().width(), len(self.groups)
        while first > 1 and self._needed(first) > width:
            first -= 1
        self._arrange(first)
        super().resizeEvent(event)
