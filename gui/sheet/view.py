"""The table that shows the sheet: rotated movie titles, the loss cell's span, Delete to blank a rating."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QStyleOptionHeader, QTableView

from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.layout import SheetLayout
from collabsheet.gui.sheet.model import QSheetModel
from collabsheet.gui.sheet.overlay import paint_overlay
from collabsheet.gui.sheet.painter import paint_sheet

HEADER_HEIGHT = 118  # room for a rotated movie title of ~18 characters, at zoom 1
MIN_POINTS, MAX_POINTS = 5.0, 28.0  # the cells' font size, zoomed
FIT_SLACK = 1.04  # fitting stops once the sheet fills the view to within 4% in its tighter direction
ZOOM_STEP = 1.15


class QRotatedHeader(QHeaderView):
    """A horizontal header that writes its labels upwards, so narrow number columns can carry titles."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Horizontal, parent)
        self.setSectionsClickable(False)
        self.setHighlightSections(True)

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), round(HEADER_HEIGHT * self.parent().zoom))

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
    zoom_changed = Signal(float)

    def __init__(self, model: QSheetModel, parent=None) -> None:
        super().__init__(parent)
        self.zoom = 1.0  # the cells' font relative to the application's
        self.fitting = True  # zoom follows the window so the whole sheet shows, until the user zooms by hand
        self._base_points = self.font().pointSizeF()
        self._in_fit = False
        self.edited: set[L.Cell] = set()  # cells the user typed into
        self.precedents: tuple = ()  # the table ranges the selected cell's formula reads (overlay.Range)
        self.coached: L.Cell | None = None  # the cell the coach blames (the largest gradient), boxed
        self.setHorizontalHeader(QRotatedHeader(self))
        self.setModel(model)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed
                             | QAbstractItemView.AnyKeyPressed)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self._measure()
        model.layout_changed.connect(self.apply_layout)
        model.set_measure(self.font(), self._text_room)
        self.selectionModel().currentChanged.connect(self._current_changed)

    def paintEvent(self, event) -> None:
        if self.sheet_model().snapshot is None:
            super().paintEvent(event)
            return
        painter = QPainter(self.viewport())
        paint_sheet(self, painter, event.rect())
        paint_overlay(self, painter, self.edited, self.precedents, self.coached)
        painter.end()

    def set_marks(self, edited: set[L.Cell] | None = None, precedents: tuple | None = None,
                  coached: L.Cell | None | bool = False) -> None:
        """Cells to mark as edited, the table ranges of the selected cell's precedents, the coach's cell (None: no
        cell; each argument left out keeps what there is)."""
        if edited is not None:
            self.edited = set(edited)
        if precedents is not None:
            self.precedents = tuple(precedents)
        if coached is not False:
            self.coached = coached
        self.viewport().update()

    def sheet_model(self) -> QSheetModel:
        return self.model()

    def repaint_now(self) -> None:
        """Paint now, while the engine waits (see FrameClock); only right of the ratings if they held."""
        model, viewport = self.sheet_model(), self.viewport()
        x = 0 if model.ratings_changed else self.columnViewportPosition(model.layout.factor_col)
        if x < viewport.width():
            x = max(x, 0)
            viewport.repaint(x, 0, viewport.width() - x, viewport.height())

    def _text_room(self, col: int) -> int:
        """Pixels a number may take in column `col`: the painter right-aligns it PAD from the right edge, so it
        may reach into the left neighbour's empty right padding but never onto that neighbour's number."""
        return self.columnWidth(col) - 1

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.FontChange:
            self.sheet_model().set_measure(self.font(), self._text_room)
        super().changeEvent(event)

    def _measure(self) -> None:
        """Column widths and row heights for the current font."""
        fm = self.fontMetrics()
        self._widths = {"rating": fm.horizontalAdvance("4.5") + 7, "number": fm.horizontalAdvance("-0.00") + 7,
                        "gap": max(3, round(8 * self.zoom))}
        vh = self.verticalHeader()
        vh.setMinimumSectionSize(1)
        vh.setDefaultSectionSize(fm.height() + 6)
        vh.setMinimumWidth(fm.horizontalAdvance("00000") + 8)
        self.horizontalHeader().setMinimumSectionSize(1)
        self.horizontalHeader().setDefaultSectionSize(self._widths["number"])

    def set_zoom(self, zoom: float, fitting: bool = False) -> None:
        """Scale the cells' font (and so columns, rows and headers) to zoom × the application's."""
        points = min(max(self._base_points * zoom, MIN_POINTS), MAX_POINTS)
        self.fitting = fitting
        if abs(points - self.font().pointSizeF()) < 0.05:
            return
        self.zoom = points / self._base_points
        font = self.font()
        font.setPointSizeF(points)
        self.setFont(font)
        self.horizontalHeader().setFont(font)
        self.verticalHeader().setFont(font)
        self._measure()
        self.sheet_model().set_zoom(self.zoom)
        if self.sheet_model().layout is not None:
            self.apply_layout(self.sheet_model().layout)
        self.horizontalHeader().updateGeometry()
        self.zoom_changed.emit(self.zoom)

    def zoom_by(self, steps: int) -> None:
        """Zoom in (steps > 0) or out by ZOOM_STEP per step; the sheet no longer follows the window."""
        self.set_zoom(self.zoom * ZOOM_STEP ** steps)

    def fit(self) -> None:
        """The largest zoom at which the whole sheet fits the view without scrolling (above 1 on a large screen)."""
        layout = self.sheet_model().layout
        if layout is None or self._in_fit:
            return
        self._in_fit = True
        try:
            self._fit()
        finally:
            self._in_fit = False

    def _fit(self) -> None:
        room_w, room_h = self.width() - 2 * self.frameWidth(), self.height() - 2 * self.frameWidth()
        zoom, fits = 1.0, None  # fits: the largest zoom tried at which the sheet fitted
        for _ in range(12):  # widths are not exactly linear in the font size: home in on it
            self.set_zoom(zoom, fitting=True)
            need_w = self.verticalHeader().width() + self.horizontalHeader().length()
            need_h = self.horizontalHeader().height() + self.verticalHeader().length()
            scale = min(room_w / max(need_w, 1), room_h / max(need_h, 1))
            points = self.font().pointSizeF()
            if scale >= 1:
                fits = max(fits or 0.0, self.zoom)
                if scale < FIT_SLACK or points >= MAX_POINTS:  # snug, or as large as the text goes
                    break
            elif points <= MIN_POINTS:
                break
            # A large screen grows the sheet too (a third of a 1920×1080 window stayed empty), by steps of at most 2×
            zoom = self.zoom * min(max(scale, 0.5), 2.0) * 0.99
        if fits is not None and abs(fits - self.zoom) > 1e-9 and scale < 1:
            self.set_zoom(fits, fitting=True)  # the last try overshot: back to the largest that fitted
        self.fitting = True

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitting:
            self.fit()

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.ControlModifier:
            self.zoom_by(1 if event.angleDelta().y() > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

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
        if self.fitting and self.isVisible():
            self.fit()  # a new shape of sheet: fit it again

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
