"""The table that shows the sheet: rotated movie titles, the loss cell's span, Delete to blank a rating."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionHeader,
                               QStyleOptionViewItem, QTableView)

from gui import sheet_layout as L
from gui.sheet_layout import SheetLayout
from gui.sheet_model import QSheetModel

HEADER_HEIGHT = 118  # room for a rotated movie title of ~18 characters


class QRotatedHeader(QHeaderView):
    """A horizontal header that writes its labels upwards, so narrow number columns can carry titles."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Horizontal, parent)
        self.setSectionsClickable(False)
        self.setHighlightSections(True)

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), HEADER_HEIGHT)

    def paintSection(self, painter: QPainter, rect: QRect, section: int) -> None:
        if not rect.isValid():
            return
        opt = QStyleOptionHeader()
        opt.initFrom(self)
        opt.rect, opt.section, opt.orientation = rect, section, Qt.Horizontal
        painter.save()
        self.style().drawControl(QStyle.CE_HeaderSection, opt, painter, self)
        painter.restore()
        text = self.model().headerData(section, Qt.Horizontal, Qt.DisplayRole) if self.model() else ""
        if not text:
            return
        painter.save()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.translate(rect.left(), rect.bottom())
        painter.rotate(-90)
        box = QRect(4, 0, rect.height() - 8, rect.width())
        painter.drawText(box, Qt.AlignVCenter | Qt.AlignLeft,
                         self.fontMetrics().elidedText(str(text), Qt.ElideRight, box.width()))
        painter.restore()


SELECTED, FOCUSED = QStyle.StateFlag.State_Selected, QStyle.StateFlag.State_HasFocus
SELECTION = QColor(0, 0, 0, 55)  # see-through, so a selected cell keeps its block's colour
FOCUS_PEN = QPen(QColor(20, 20, 20), 2)
PAD = 3  # pixels between a number and its cell's edge


class QCellDelegate(QStyledItemDelegate):
    """Paints a cell from QSheetModel.paint_info in one call; the stock delegate asks data() seven times a cell."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        background, color, text, align, font = index.model().paint_info(index.row(), index.column())
        rect = option.rect
        painter.fillRect(rect, background)
        state = option.state
        if state & SELECTED:
            painter.fillRect(rect, SELECTION)
        if text:
            if font is not None:
                painter.save()
                painter.setFont(font)
            painter.setPen(color)
            painter.drawText(rect.adjusted(PAD, 0, -PAD, 0), align, text)
            if font is not None:
                painter.restore()
        if state & FOCUSED:
            painter.setPen(FOCUS_PEN)
            painter.drawRect(rect.adjusted(1, 1, -1, -1))


class QSheetView(QTableView):
    """A virtual spreadsheet over QSheetModel: Excel-like editing, one signal per selected cell."""

    cell_selected = Signal(object)  # the Cell under the current index

    def __init__(self, model: QSheetModel, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeader(QRotatedHeader(self))
        self.setModel(model)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed
                             | QAbstractItemView.AnyKeyPressed)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self._delegate = QCellDelegate(self)
        self.setItemDelegate(self._delegate)
        fm = self.fontMetrics()
        self._widths = {"rating": fm.horizontalAdvance("4.5") + 12, "number": fm.horizontalAdvance("-0.00") + 12,
                        "gap": 10}
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(fm.height() + 6)
        vh.setMinimumWidth(fm.horizontalAdvance("00000") + 8)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.horizontalHeader().setDefaultSectionSize(self._widths["number"])
        model.layout_changed.connect(self.apply_layout)
        self.selectionModel().currentChanged.connect(self._current_changed)

    def sheet_model(self) -> QSheetModel:
        return self.model()

    def apply_layout(self, layout: SheetLayout) -> None:
        """Spans and column widths for a new shape of sheet."""
        self.clearSpans()
        row, col, rows, cols = layout.loss_span()
        if rows * cols > 1:
            self.setSpan(row, col, rows, cols)
        header = self.horizontalHeader()
        for c in range(layout.m):
            header.resizeSection(c, self._widths["rating"])
        header.resizeSection(layout.gap, self._widths["gap"])
        for c in range(layout.factor_col, layout.columns):
            header.resizeSection(c, self._widths["number"])

    def select_cell(self, cell: L.Cell) -> None:
        """Make `cell` the current cell (and so the one the explain panel shows)."""
        row, col = self.sheet_model().layout.position(cell)
        self.setCurrentIndex(self.model().index(row, col))

    def _current_changed(self, current, _previous) -> None:
        if current.isValid():
            self.cell_selected.emit(self.sheet_model().cell(current))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.state() != QAbstractItemView.EditingState:
            model = self.sheet_model()
            for index in self.selectedIndexes() or [self.currentIndex()]:
                if index.isValid() and model.cell(index).kind == L.RATING:
                    model.setData(index, "", Qt.EditRole)
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        self.sheet_model().layout_changed.disconnect(self.apply_layout)
        super().closeEvent(event)
