"""The table that shows the sheet: rotated movie titles, the loss cell's span, Delete to blank a rating."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QStyleOptionHeader, QTableView

from gui.sheet import layout as L
from gui.sheet.layout import SheetLayout
from gui.sheet.model import QSheetModel
from gui.sheet.painter import paint_sheet

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
        fm = self.fontMetrics()
        self._widths = {"rating": fm.horizontalAdvance("4.5") + 7, "number": fm.horizontalAdvance("-0.00") + 7,
                        "gap": 8}
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(fm.height() + 6)
        vh.setMinimumWidth(fm.horizontalAdvance("00000") + 8)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.horizontalHeader().setDefaultSectionSize(self._widths["number"])
        model.layout_changed.connect(self.apply_layout)
        model.set_measure(self.font(), self._text_room)
        self.selectionModel().currentChanged.connect(self._current_changed)

    def paintEvent(self, event) -> None:
        if self.sheet_model().snapshot is None:
            super().paintEvent(event)
            return
        painter = QPainter(self.viewport())
        paint_sheet(self, painter, event.rect())
        painter.end()

    def sheet_model(self) -> QSheetModel:
        return self.model()

    def _text_room(self, col: int) -> int:
        """Pixels a number may take in column `col`: the painter right-aligns it PAD from the right edge, so it
        may reach into the left neighbour's empty right padding but never onto that neighbour's number."""
        return self.columnWidth(col) - 1

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.FontChange:
            self.sheet_model().set_measure(self.font(), self._text_room)
        super().changeEvent(event)

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
        cell = self.sheet_model().cell(current) if current.isValid() else None
        if cell is not None and cell.kind != L.BLANK:  # a click on an empty cell keeps the panel as it was
            self.cell_selected.emit(cell)

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
        self.sheet_model().set_measure(None, None)
        super().closeEvent(event)
