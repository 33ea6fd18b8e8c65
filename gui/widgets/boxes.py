"""Small layout helpers the tabs share: widgets stacked edge to edge, a panel under a bold title (and the plot that
later takes its place), a splitter whose panes never collapse, a legend's colour swatch, a text button for an action."""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import QLabel, QSizePolicy, QSplitter, QToolButton, QVBoxLayout, QWidget


def fill(box: QWidget, *widgets: QWidget, grow: int = -1) -> QWidget:
    """Lay `widgets` out in `box` top to bottom, edge to edge; widgets[grow] (the last by default) takes the spare
    height. Returns `box`."""
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    grow %= len(widgets)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, int(i == grow))
    return box


def column(*widgets: QWidget, grow: int = -1) -> QWidget:
    """A new widget holding `widgets` top to bottom, edge to edge; widgets[grow] (the last by default) takes the
    spare height."""
    return fill(QWidget(), *widgets, grow=grow)


def titled(title: str, body: QWidget) -> QWidget:
    """A small bold title above a panel; a narrow window clips the title rather than growing for it."""
    label = QLabel(f"<b>{title}</b>")
    label.setContentsMargins(6, 4, 6, 2)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    return column(label, body)


def set_body(box: QWidget, body: QWidget) -> None:
    """Put `body` in place of a titled box's panel (a placeholder until a plot is built); the old panel is deleted."""
    layout = box.layout()
    old = layout.itemAt(1).widget()
    layout.replaceWidget(old, body)
    old.deleteLater()
    layout.setStretch(1, 1)


def splitter(orientation: Qt.Orientation, *panes: QWidget, stretch: Sequence[int] = (),
             sizes: Sequence[int] = ()) -> QSplitter:
    """A splitter of `panes` that can be dragged but never collapses one, with optional stretch factors and sizes."""
    split = QSplitter(orientation)
    for pane in panes:
        split.addWidget(pane)
    for i, factor in enumerate(stretch):
        split.setStretchFactor(i, factor)
    if sizes:
        split.setSizes(list(sizes))
    split.setChildrenCollapsible(False)
    return split


def swatch(color: QColor | str) -> QLabel:
    """A small square of `color`, for a legend."""
    square = QLabel()
    square.setFixedSize(14, 14)
    square.setStyleSheet(f"background:{QColor(color).name()}; border:1px solid #888;")
    return square


def action_button(action: QAction) -> QToolButton:
    """A text button that triggers `action` and follows its text, tooltip and enabled state."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonTextOnly)
    return button
