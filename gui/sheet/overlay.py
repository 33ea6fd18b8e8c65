"""What the sheet draws over its cells: a mark on edited cells, and the outline of the selected cell's precedents."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygon
from PySide6.QtWidgets import QTableView

from gui.sheet.layout import Cell

MARK = QColor(200, 30, 30)  # like a spreadsheet's comment corner
MARK_SIZE = 6
PRECEDENT_PEN = QPen(QColor(20, 90, 200), 2, Qt.DashLine)  # "trace precedents": the cells a formula reads


def paint_overlay(view: QTableView, painter: QPainter, edited: set[Cell], precedents: tuple[Cell, ...]) -> None:
    """Edited cells get a red corner; precedents of the selected cell a dashed blue outline."""
    model = view.model()
    painter.save()
    painter.setPen(Qt.NoPen)
    painter.setBrush(MARK)
    for cell in edited:
        rect = view.visualRect(model.index(*model.layout.position(cell)))
        if rect.isValid():
            top_right = rect.topRight()
            painter.drawPolygon(QPolygon([top_right, top_right - QPoint(MARK_SIZE, 0), top_right + QPoint(0, MARK_SIZE)]))
    painter.setBrush(Qt.NoBrush)
    painter.setPen(PRECEDENT_PEN)
    for cell in precedents:
        rect = view.visualRect(model.index(*model.layout.position(cell)))
        if rect.isValid():
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
    painter.restore()
