"""What the sheet draws over its cells: a mark on edited cells, boxes around the selected cell's precedents, hatching
on held-out cells, the cell the coach blames, and a line above the new user's row."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygon
from PySide6.QtWidgets import QTableView

from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.layout import Cell, SheetLayout

MARK = QColor(200, 30, 30)  # like a spreadsheet's comment corner
MARK_SIZE = 6
PRECEDENT_PEN = QPen(QColor(20, 90, 200), 2, Qt.DashLine)  # "trace precedents": the ranges a formula reads
HOLDOUT_BRUSH = QBrush(QColor(30, 30, 30, 150), Qt.BDiagPattern)  # diagonal lines over a held-out cell
COACH_PEN = QPen(QColor(230, 90, 0), 3)  # the parameter with the largest gradient, when the coach speaks
ME_PEN = QPen(QColor(40, 40, 40), 2)  # the new user's row starts here
Range = tuple[int, int, int, int]  # table rows first..last, columns first..last


def precedent_ranges(layout: SheetLayout, precedents) -> tuple[Range, ...]:
    """(block kind, index) pairs, an index of ints or slices (a whole row or column), as table ranges."""
    blocks = layout.blocks()
    out = []
    for kind, index in precedents:
        if kind not in blocks:
            continue
        r0, r1, c0, c1 = blocks[kind]
        index = tuple(index)
        if kind == L.USER_BIAS:
            index = (index[0], 0)
        elif kind == L.ITEM_BIAS:
            index = (0, index[0])
        rows = _span(index[0], r1 - r0)
        cols = _span(index[1], c1 - c0)
        if rows[1] >= r1 - r0 or cols[1] >= c1 - c0:  # a cell this layout has not (an explanation of an earlier sheet)
            continue
        out.append((r0 + rows[0], r0 + rows[1], c0 + cols[0], c0 + cols[1]))
    return tuple(out)


def _span(at, size: int) -> tuple[int, int]:
    """First and last position an int or a slice picks out of size."""
    if isinstance(at, slice):
        picked = range(size)[at]
        return (picked[0], picked[-1]) if len(picked) else (0, size - 1)
    return int(at), int(at)


def paint_overlay(view: QTableView, painter: QPainter, edited: set[Cell], precedents: tuple[Range, ...],
                  coached: Cell | None = None) -> None:
    """Edited cells get a red corner; the selected cell's precedents a dashed blue box per range; held-out ratings
    and their predictions diagonal lines; the coach's cell a thick orange box."""
    model = view.model()
    painter.save()
    _holdout(view, painter)
    if model.new_user_row is not None:
        row = model.layout.top + model.new_user_row
        y = view.rowViewportPosition(row)
        painter.setPen(ME_PEN)
        painter.drawLine(0, y, view.viewport().width(), y)
    if coached is not None and coached.kind in model.layout.blocks():
        rect = view.visualRect(model.index(*model.layout.position(coached)))
        if rect.isValid():
            painter.setBrush(Qt.NoBrush)
            painter.setPen(COACH_PEN)
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
    painter.setPen(Qt.NoPen)
    painter.setBrush(MARK)
    for cell in edited:
        rect = view.visualRect(model.index(*model.layout.position(cell)))
        if rect.isValid():
            corner = rect.topRight()
            painter.drawPolygon(QPolygon([corner, corner - QPoint(MARK_SIZE, 0), corner + QPoint(0, MARK_SIZE)]))
    painter.setBrush(Qt.NoBrush)
    painter.setPen(PRECEDENT_PEN)
    for top, bottom, left, right in precedents:
        rect = view.visualRect(model.index(top, left)).united(view.visualRect(model.index(bottom, right)))
        if rect.isValid():
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
    painter.restore()


def _holdout(view: QTableView, painter: QPainter) -> None:
    """Diagonal lines over each held-out rating and its prediction (only the rows and columns on screen)."""
    model = view.model()
    holdout = model.holdout
    if holdout is None:
        return
    lay, area = model.layout, view.viewport().rect()
    first, last = max(view.rowAt(area.top()), 0), view.rowAt(area.bottom())
    last = lay.rows - 1 if last < 0 else last
    rows = slice(max(first - lay.top, 0), max(last - lay.top + 1, 0))
    for i, j in np.argwhere(holdout[rows]):
        i += rows.start
        for kind in (L.RATING, L.PREDICTION):
            rect = view.visualRect(model.index(*lay.position(Cell(kind, (int(i), int(j))))))
            if rect.isValid() and rect.intersects(area):
                painter.fillRect(rect, HOLDOUT_BRUSH)
