"""Paints the visible part of the sheet in one Python call per frame.

QTableView paints through its delegate: one Python call per cell (plus seven data() calls with the stock
delegate), each with a few C++ wrappers built for it. At 60 frames a second that is most of a core in
Python. Here each visible block comes from QSheetModel.block in one numpy call (the same colours and
text as the model's roles): its backgrounds are drawn as one scaled image, its numbers as cached static
text. Then the grid, the loss cell's span, the selection and the current cell.
"""
from __future__ import annotations

from PySide6.QtCore import QLine, QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QStaticText
from PySide6.QtWidgets import QTableView

from collabsheet.gui.sheet.colors import DARK_TEXT, LIGHT_TEXT, light_text

SELECTION = QColor(0, 0, 0, 55)  # see-through, so a selected cell keeps its block's colour
FOCUS_PEN = QPen(QColor(20, 20, 20), 2)
PAD = 3  # pixels between a number and its cell's edge
SELECTABLE = Qt.ItemFlag.ItemIsSelectable


def _visible(view: QTableView, first: int, last: int, count: int, at, position, size) -> list[tuple[int, int, int]]:
    """(section, viewport position, size) for the sections between pixel first and last."""
    lo, hi = at(first), at(last)
    lo = 0 if lo < 0 else lo
    hi = count - 1 if hi < 0 else hi
    return [(s, position(s), size(s)) for s in range(lo, hi + 1)]


def paint_sheet(view: QTableView, painter: QPainter, area: QRect) -> None:
    """Paint the cells of `view` that meet `area` (viewport coordinates)."""
    model = view.model()
    rows = _visible(view, area.top(), area.bottom(), model.rowCount(), view.rowAt, view.rowViewportPosition,
                    view.rowHeight)
    cols = _visible(view, area.left(), area.right(), model.columnCount(), view.columnAt,
                    view.columnViewportPosition, view.columnWidth)
    if not rows or not cols:
        return
    painter.fillRect(area, model.paint_info(0, model.layout.gap)[0])  # the blank cells between the blocks
    texts = _texts(painter)
    for kind, (r0, r1, c0, c1) in model.layout.blocks().items():
        block_rows = [row for row in rows if r0 <= row[0] < r1]
        block_cols = [col for col in cols if c0 <= col[0] < c1]
        if block_rows and block_cols:
            _paint_block(painter, model, kind, block_rows, block_cols, (r0, c0), texts)
    _grid(view, painter, rows, cols)
    _loss_cell(view, painter, model.layout.loss_span())
    _selection(view, painter)


def _paint_block(painter: QPainter, model, kind: str, rows, cols, origin: tuple[int, int], texts: dict) -> None:
    """One block's visible cells: the backgrounds as one scaled image, then the numbers, dark text first."""
    i0, j0 = rows[0][0] - origin[0], cols[0][0] - origin[1]
    argb, level, labels = model.block(kind, slice(i0, i0 + len(rows)), slice(j0, j0 + len(cols)))
    x0, y0 = cols[0][1], rows[0][1]
    widths, heights = {w for _, _, w in cols}, {h for _, _, h in rows}
    if len(widths) == 1 and len(heights) == 1:  # the usual case: every cell of the block the same size
        image = QImage(argb.data, argb.shape[1], argb.shape[0], argb.shape[1] * 4, QImage.Format.Format_ARGB32)
        painter.drawImage(QRect(x0, y0, len(cols) * widths.pop(), len(rows) * heights.pop()), image)
    else:  # a column resized by hand: cell by cell
        for a, (_, y, h) in enumerate(rows):
            for b, (_, x, w) in enumerate(cols):
                painter.fillRect(QRect(x, y, w, h), QColor.fromRgba(int(argb[a, b])))
    light = light_text(level).ravel().tolist()  # levels may be signed (factor blocks)
    places = [(x + w - PAD, y, h) for _, y, h in rows for _, x, w in cols]
    for on_dark in (False, True):
        painter.setPen(LIGHT_TEXT if on_dark else DARK_TEXT)
        for text, dark, (right, y, h) in zip(labels, light, places):
            if text and dark == on_dark:
                static = texts.get(text) or _prepare(texts, text, painter)
                painter.drawStaticText(right - static[1], y + (h - static[2]) // 2, static[0])


_TEXT_CACHE: dict[str, dict] = {}  # font key → {text: (QStaticText, width, height)}
MAX_CACHED = 20_000  # distinct numbers kept laid out; a sheet shows a few hundred at a time


def _texts(painter: QPainter) -> dict:
    """Laid-out numbers for the painter's font: drawing a QStaticText skips the layout drawText redoes each time."""
    key = painter.font().key()
    cache = _TEXT_CACHE.get(key)
    if cache is None or len(cache) > MAX_CACHED:
        cache = _TEXT_CACHE[key] = {}
    return cache


def _prepare(cache: dict, text: str, painter: QPainter) -> tuple:
    static = QStaticText(text)
    static.prepare(painter.transform(), painter.font())
    size = static.size()
    entry = cache[text] = (static, int(size.width() + 0.5), int(size.height() + 0.5))
    return entry


def _grid(view: QTableView, painter: QPainter, rows, cols) -> None:
    if not view.showGrid():
        return
    left, right = cols[0][1], cols[-1][1] + cols[-1][2] - 1
    top, bottom = rows[0][1], rows[-1][1] + rows[-1][2] - 1
    lines = [QLine(x + w - 1, top, x + w - 1, bottom) for _, x, w in cols]
    lines += [QLine(left, y + h - 1, right, y + h - 1) for _, y, h in rows]
    painter.setPen(view.palette().mid().color())
    painter.drawLines(lines)


def _loss_cell(view: QTableView, painter: QPainter, span: tuple[int, int, int, int]) -> None:
    row, col, n_rows, n_cols = span
    if n_rows <= 0 or n_cols <= 0:
        return
    x, y = view.columnViewportPosition(col), view.rowViewportPosition(row)
    last_col, last_row = col + n_cols - 1, row + n_rows - 1
    right = view.columnViewportPosition(last_col) + view.columnWidth(last_col) - 1
    bottom = view.rowViewportPosition(last_row) + view.rowHeight(last_row) - 1
    rect = QRect(x, y, right - x, bottom - y)
    background, color, text, align, font = view.model().paint_info(row, col)
    painter.fillRect(rect, background)
    painter.save()
    if font is not None:
        painter.setFont(_fitted(font, rect, align, text))
    painter.setPen(color)
    painter.drawText(rect, align, text)
    painter.restore()


def _selection(view: QTableView, painter: QPainter) -> None:
    selection = view.selectionModel()
    for part in selection.selection():
        top_left = view.visualRect(part.topLeft())
        bottom_right = view.visualRect(part.bottomRight())
        painter.fillRect(top_left.united(bottom_right), SELECTION)
    current = selection.currentIndex()
    if current.isValid() and view.model().flags(current) & SELECTABLE:
        painter.setPen(FOCUS_PEN)
        painter.drawRect(view.visualRect(current).adjusted(1, 1, -1, -1))


def _fitted(font: QFont, rect: QRect, align, text: str) -> QFont:
    """The font, smaller when the text would not fit the rectangle (a third line: the held-out RMSE, "diverged")."""
    need = QFontMetricsF(font).boundingRect(rect.toRectF(), int(align), text)
    scale = min(rect.width() / max(need.width(), 1.0), rect.height() / max(need.height(), 1.0))
    if scale >= 1:
        return font
    smaller = QFont(font)
    smaller.setPointSizeF(max(5.0, font.pointSizeF() * scale * 0.95))
    return smaller
