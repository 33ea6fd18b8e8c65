"""The rows of the epoch shown as a spreadsheet-like table, coloured by column group as the workbook is.

A QAbstractTableModel over the rows (a numpy structured array with the fields of engine.graddesc.FIELDS);
the columns are those engine.graddesc.columns(rule) lists, each finite-difference estimate beside the exact
derivative, whose difference a tooltip gives. Numbers are shortened to fit their column.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

from collabsheet.engine.graddesc import HEADINGS, ROW, Settings, columns
from collabsheet.engine.graddesc.rules import LESSON as LESSON_RULES
from collabsheet.engine.graddesc.rules import LIBRARY as LIBRARY_RULES
from collabsheet.gui.widgets.boxes import swatch
from collabsheet.gui.widgets.flow import QFlowLine, group

# The workbook's fills, one per group of columns (engine.xlsx.graddesc's export uses the same hues).
GROUPS = {
    "inputs": ("#DDEBF7", ("x", "y")),
    "parameters": ("#FCE4D6", ("b", "a")),
    "prediction, error": ("#F2DCEB", ("pred", "err2")),
    "estimate · derivative": ("#E2EFDA", ("est_db", "de_db", "est_da", "de_da")),
    "new b, a": ("#E4DFEC", ("new_b", "new_a")),
    "averages": ("#FFF2CC", ("m_b", "m_a", "v_b", "v_a")),
}
ESTIMATE_FILL = "#F1F8EC"  # an estimate is a lighter shade of its derivative's green
COLUMN_WIDTH = 84  # pixels: ten characters or so
PADDING = 8  # pixels of a cell not for text
ESTIMATES = {"est_db": "de_db", "est_da": "de_da"}  # each estimate and the derivative it estimates
# Roles as plain ints, looked up once: PySide6's Qt.X attribute access and enum comparisons cost ~15 µs each,
# and data() runs for several roles of every visible cell at every repaint.
DISPLAY, TOOLTIP = int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ToolTipRole)
BACKGROUND, FONT = int(Qt.ItemDataRole.BackgroundRole), int(Qt.ItemDataRole.FontRole)
ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
HANDLED = frozenset((DISPLAY, TOOLTIP, BACKGROUND, FONT, ALIGN))
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
HORIZONTAL = Qt.Orientation.Horizontal


def cell_text(value: float, fits: Callable[[str], bool]) -> str:
    """The number with as many significant digits as fit, scientific when it is huge or tiny, "###" if nothing fits."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 1e10:
        for digits in range(10, 2, -1):
            text = f"{value:.{digits}g}"
            if "e" not in text and fits(text):
                return text
    for decimals in (3, 2, 1, 0):
        text = f"{value:.{decimals}e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
        if fits(text):
            return text
    return next((text for text in ("###", "#") if fits(text)), "")


def formula(field: str, h: Settings) -> str:
    """What a column holds, as the workbook's formula for it."""
    nudge = f"{h.nudge:g}"
    l2 = " + wd·b" if h.l2 else ""
    texts = {
        "x": "x: the row's input",
        "y": "y: the row's target",
        "b": "b: the intercept this row reads (the previous row's new b; the first row's from the top cells)",
        "a": "a: the slope this row reads (the previous row's new a)",
        "pred": "y_pred = b + a·x",
        "err2": "err² = (y − y_pred)²",
        "est_db": f"estimate of de/db: (err² with b + {nudge} − err²) / {nudge}",
        "est_da": f"estimate of de/da: (err² with a + {nudge} − err²) / {nudge}",
        "de_db": f"de/db = 2·(y_pred − y){l2}, exact",
        "de_da": f"de/da = x·2·(y_pred − y){l2.replace('b', 'a')}, exact",
        "m_b": "avg de/db = β1·previous + (1 − β1)·de/db",
        "m_a": "avg de/da = β1·previous + (1 − β1)·de/da",
        "v_b": "avg (de/db)² = β2·previous + (1 − β2)·(de/db)²",
        "v_a": "avg (de/da)² = β2·previous + (1 − β2)·(de/da)²",
    }
    if field in ("new_b", "new_a"):
        rule = (LESSON_RULES if h.variant == "lesson" else LIBRARY_RULES)[h.rule]
        text = " ".join((rule.__doc__ or "").split())
        return text + " (and the same for a, with de/da)" if field == "new_a" else text
    return texts[field]


class QRowsModel(QAbstractTableModel):
    """The epoch shown, row by row; rows arrive in chunks and a new epoch starts the table again."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.settings = Settings()
        self.fields = columns(self.settings.rule)
        self.rows = np.zeros(0, ROW)
        self._buffer = np.zeros(64, ROW)
        self.fits: Callable[[str, int], bool] = lambda text, column: True  # set by the view: does text fit column?
        self._fills = {}
        for _, (color, fields) in GROUPS.items():
            self._fills.update(dict.fromkeys(fields, QBrush(QColor(color))))
        self._fills.update(dict.fromkeys(ESTIMATES, QBrush(QColor(ESTIMATE_FILL))))
        self._bold = QFont()
        self._bold.setBold(True)
        self._texts: dict[tuple[int, int], str] = {}  # (row, column) -> its text at the column's width now

    # --- engine → model ----------------------------------------------------------------------
    def set_settings(self, settings: Settings) -> None:
        """The rule decides the columns (its averages); the variant and nudge the tooltips."""
        fields = columns(settings.rule)
        if fields != self.fields:
            self.beginResetModel()
            self.settings, self.fields = settings, fields
            self._texts.clear()
            self.endResetModel()
        else:
            self.settings = settings

    def add(self, start: int, rows: np.ndarray) -> None:
        """Rows from index `start` on (0: a new epoch or run, the rows before are dropped)."""
        n = len(self.rows)
        if start == 0 or start != n:  # start != n: rows were missed, so show only these from the top
            self.beginResetModel()
            self._put(0, rows)
            self._texts.clear()
            self.endResetModel()
        elif len(rows):
            self.beginInsertRows(QModelIndex(), n, n + len(rows) - 1)
            self._put(n, rows)
            self.endInsertRows()
            if n:
                self.dataChanged.emit(self.index(n - 1, 0), self.index(n - 1, len(self.fields) - 1))  # unbold it

    def _put(self, start: int, rows: np.ndarray) -> None:
        need = start + len(rows)
        if need > len(self._buffer):
            grown = np.zeros(max(need, 2 * len(self._buffer)), ROW)
            grown[:start] = self._buffer[:start]
            self._buffer = grown
        self._buffer[start:need] = rows
        self.rows = self._buffer[:need]

    # --- Qt's model interface ----------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.fields)

    def column_resized(self, column: int) -> None:
        """The view changed a column's width: its numbers are shortened again."""
        for key in [k for k in self._texts if k[1] == column]:
            del self._texts[key]

    def value(self, row: int, field: str) -> float:
        return float(self.rows[field][row])

    def data(self, index: QModelIndex, role: int = DISPLAY):
        if role not in HANDLED:
            return None
        r, c = index.row(), index.column()
        if role == DISPLAY:  # cached: a row's numbers never change, only the column's width may
            text = self._texts.get((r, c))
            if text is None:
                text = self._texts[r, c] = cell_text(self.value(r, self.fields[c]), lambda t: self.fits(t, c))
            return text
        if role == BACKGROUND:
            return self._fills[self.fields[c]]
        if role == ALIGN:
            return RIGHT
        if role == FONT:
            return self._bold if r == len(self.rows) - 1 else None  # the row stepped last
        return self.tooltip(r, self.fields[c])

    def tooltip(self, r: int, field: str) -> str:
        """The number in full; beside an estimate or a derivative, the other and their difference."""
        value = self.value(r, field)
        text = f"{HEADINGS[field]} = {value!r}\n{formula(field, self.settings)}"
        pair = ESTIMATES.get(field) or next((e for e, d in ESTIMATES.items() if d == field), None)
        if pair is None:
            return text
        est, exact = (field, pair) if field in ESTIMATES else (pair, field)
        gap = self.value(r, est) - self.value(r, exact)
        return (f"{text}\n\n{HEADINGS[est]} − {HEADINGS[exact]} = {gap:.6g}: the forward difference's error, of the "
                f"order of the nudge {self.settings.nudge:g} (err² is a parabola: exactly nudge·x² for a, nudge for b)")

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY):
        if orientation == HORIZONTAL:
            if role == DISPLAY:
                return HEADINGS[self.fields[section]]
            if role == TOOLTIP:
                return formula(self.fields[section], self.settings)
            if role == BACKGROUND:
                return self._fills[self.fields[section]]
        elif role == DISPLAY:
            return str(section + 1)
        return None


class QRowsView(QTableView):
    """The table: fixed-width columns whose numbers are shortened to fit, following the newest row."""

    def __init__(self, model: QRowsModel, parent=None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setSelectionMode(QAbstractItemView.ContiguousSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setWordWrap(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setDefaultSectionSize(COLUMN_WIDTH)
        header.setMinimumSectionSize(36)
        header.setHighlightSections(False)
        self.verticalHeader().setDefaultSectionSize(QFontMetrics(self.font()).height() + 6)
        self.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        metrics = QFontMetrics(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        wide = QFontMetrics(bold)  # the newest row is bold: measure with the wider font
        model.fits = lambda text, column: wide.horizontalAdvance(text) <= self.columnWidth(column) - PADDING
        self._metrics = metrics
        model.rowsInserted.connect(self._follow)
        header.sectionResized.connect(lambda column, _old, _new: model.column_resized(column))

    def _follow(self, _parent, _first: int, last: int) -> None:
        """Keep the newest row in sight (Play), unless the reader has scrolled up to look at older ones."""
        bar = self.verticalScrollBar()
        if bar.value() >= bar.maximum() - 2 * self.verticalHeader().defaultSectionSize():
            self.scrollTo(self.model().index(last, 0))


class QRowsLegend(QFlowLine):
    """The column groups' colours, named; in a narrow window they flow onto a second line."""

    def __init__(self, parent=None) -> None:
        super().__init__([group(swatch(color), QLabel(name)) for name, (color, _) in GROUPS.items()], gap=6,
                         parent=parent)
