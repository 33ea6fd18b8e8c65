"""Small layout helpers: a widget above another, edge to edge; a panel under a bold title."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def column(top: QWidget, body: QWidget) -> QWidget:
    """A widget holding `top` above `body`, edge to edge; body takes the spare height."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(top)
    layout.addWidget(body, 1)
    return box


def titled(title: str, body: QWidget) -> QWidget:
    """A small bold title above a panel."""
    label = QLabel(f"<b>{title}</b>")
    label.setContentsMargins(6, 4, 6, 2)
    return column(label, body)
