"""The sheet as a virtual Qt table: text, colours and edits for every cell, read from the latest Snapshot.

Before the engine has started, a runner.Preview: the ratings, with every factor, prediction and the loss
shown as pending ("…") and nothing editable.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QFontMetricsF

from collabsheet.gui.sheet import colors
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.frames import NEW_USER_ID, Preview
from collabsheet.gui.sheet.cell_text import Overflowed, edit_text, loss_text, number_text, parse_number
from collabsheet.gui.sheet.layout import Cell, SheetLayout

if TYPE_CHECKING:
    from collabsheet.engine.sheet.snapshot import Snapshot

EDITABLE = (L.RATING,) + L.PARAMS
MAX_MEASURED = 20_000  # distinct texts whose width is kept; a sheet shows a few hundred at a time
# Roles and flags as plain ints, looked up once: PySide6's Qt.X attribute access costs microseconds,
# and data() runs several times for every visible cell on every frame.
DISPLAY, EDIT, TOOLTIP = int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.EditRole), int(Qt.ItemDataRole.ToolTipRole)
FONT, ALIGN = int(Qt.ItemDataRole.FontRole), int(Qt.ItemDataRole.TextAlignmentRole)
BACKGROUND, FOREGROUND = int(Qt.ItemDataRole.BackgroundRole), int(Qt.ItemDataRole.ForegroundRole)
HANDLED = frozenset((DISPLAY, EDIT, TOOLTIP, FONT, ALIGN, BACKGROUND, FOREGROUND))
HORIZONTAL = Qt.Orientation.Horizontal
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
CENTER = int(Qt.AlignmentFlag.AlignCenter)
_ENABLED, _SELECTABLE, _EDITABLE = Qt.ItemFlag.ItemIsEnabled, Qt.ItemFlag.ItemIsSelectable, Qt.ItemFlag.ItemIsEditable
FLAGS = {L.BLANK: _ENABLED, L.LOSS: _ENABLED | _SELECTABLE, L.PREDICTION: _ENABLED | _SELECTABLE}
FLAGS.update({kind: _ENABLED | _SELECTABLE | _EDITABLE for kind in EDITABLE})
PENDING_FLAGS = {kind: flags & ~_EDITABLE for kind, flags in FLAGS.items()}  # nothing is editable in a preview
PENDING = "…"  # a cell whose number the engine has not computed yet
PENDING_LOSS = "starting\nengine…"
NAMES = {L.USER_FACTORS: "user factor", L.ITEM_FACTORS: "movie factor", L.USER_BIAS: "user bias",
         L.ITEM_BIAS: "movie bias"}


class QSheetModel(QAbstractTableModel):
    """Read-only view of a Snapshot laid out like the lesson's sheet; edits go out as requests."""

    edit_requested = Signal(str, tuple, object)  # block, index, float (None blanks a rating)
    invalid_edit = Signal(str)  # a one-line message for text that is not a number
    layout_changed = Signal(object)  # the new SheetLayout, after rows or columns changed

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.snapshot: Snapshot | Preview | None = None
        self.pending = False  # whether it shows a Preview: ratings only, the engine's cells still to come
        self.editable = False  # whether cells can be typed into (not before the engine has built the sheet)
        self._flags = FLAGS
        self.layout = SheetLayout(0, 0, 0)
        self.show_errors = False
        self.show_blanks = False  # predictions for the blank cells, greyed (the lesson's test data)
        self.blank_predictions: np.ndarray | None = None
        self.recommendations: dict = {}
        self.holdout: np.ndarray | None = None  # held-out cells (hatched), None when none are held out
        self.new_user_row: int | None = None  # the new user's row, when the sheet shows one
        self.new_user_predictions: np.ndarray | None = None  # their predictions for every movie, NaN before fold-in
        self._ratings = np.empty((0, 0))  # every rating shown, held-out ones too
        self._present = np.empty((0, 0), dtype=bool)  # the cells that show a rating (rated or held out)
        self._guess: np.ndarray | None = None  # greyed predictions for cells without a rating, NaN elsewhere
        self._palette = colors.Palette()
        self._scales: dict[str, tuple[float, float]] = {}  # block → (offset, factor) of its shading
        self._loss_font = QFont()
        self._loss_font.setBold(True)
        self._loss_font.setPointSize(18)
        self._zoom = 1.0
        self._header_keys: tuple = ()
        self.ratings_changed = True  # whether the last snapshot changed any rating (else only the right part moved)
        self._edges = (0, 0, 0, 0, 0)  # the layout's top, m, factor_col, k, left, cached for _locate
        self._shape = (0, 0)  # rows, columns (0 × 0 until the first snapshot)
        self._room: Callable[[int], int] | None = None  # a column's pixels for its text (None: a rule by magnitude)
        self._metrics: QFontMetrics | None = None
        self._widest = 1  # pixels a character of a number can take, rounded up
        self._widths: dict[str, int] = {}  # text → advance in the cells' font

    def set_measure(self, font: QFont | None, room: Callable[[int], int] | None) -> None:
        """Fit each number to its column: `room(column)` pixels in `font`; None: shorten by magnitude alone."""
        self._room = None if font is None else room
        self._metrics = None if font is None else QFontMetrics(font)
        self._widths = {}
        if font is not None:
            exact = QFontMetricsF(font)
            self._widest = max(1, max(math.ceil(exact.horizontalAdvance(c)) for c in "0123456789+-.e#nafi"))

    def _fits(self, col: int) -> Callable[[str], bool] | None:
        """Whether a text fits column `col` (None when no view measures the columns)."""
        if self._room is None:
            return None
        room, widths, metrics = self._room(col), self._widths, self._metrics
        short = room // self._widest  # texts this short fit whatever their characters

        def fits(text: str) -> bool:
            if len(text) <= short:
                return True
            width = widths.get(text)
            if width is None:
                if len(widths) > MAX_MEASURED:
                    widths.clear()
                width = widths[text] = metrics.horizontalAdvance(text)
            return width <= room
        return fits

    # --- updates from the engine -------------------------------------------------------------
    def set_snapshot(self, snap: Snapshot | Preview, editable: bool = True) -> None:
        """Show a new snapshot (or a preview): a reset when the shape changed, else one dataChanged for what can have
        changed. editable=False: the numbers show, but nothing can be typed (the first frame, before the engine)."""
        layout = SheetLayout(snap.ratings.shape[0], snap.ratings.shape[1], snap.k, snap.biases)
        keys = (snap.user_ids, snap.item_ids, snap.titles)
        reshaped = layout != self.layout or keys != self._header_keys
        old = self.snapshot
        # While training only factors, predictions and the loss move: the ratings block need not be redrawn.
        self.ratings_changed = reshaped or old is None or not np.array_equal(old.ratings, snap.ratings, equal_nan=True)
        if reshaped:
            self.beginResetModel()
        self.snapshot, self.layout, self._header_keys = snap, layout, keys
        holdout = getattr(snap, "holdout", None)  # a Preview holds nothing out
        if holdout is not None and holdout.any():
            self.holdout, self._ratings = holdout, np.where(holdout, snap.holdout_ratings, snap.ratings)
            self._present = snap.mask | holdout
        else:
            self.holdout, self._ratings, self._present = None, snap.ratings, snap.mask
        self.new_user_row = len(snap.user_ids) - 1 if snap.user_ids and snap.user_ids[-1] == NEW_USER_ID else None
        self._update_guesses()
        self.pending = isinstance(snap, Preview)
        self.editable = editable and not self.pending
        self._flags = FLAGS if self.editable else PENDING_FLAGS
        self._edges = (layout.top, layout.m, layout.factor_col, layout.k, layout.left)
        self._shape = (layout.rows, layout.columns)
        self._shade()
        if reshaped:
            self._size_loss_font()
            self.endResetModel()
            self.layout_changed.emit(layout)
        elif layout.rows and layout.columns:
            first = 0 if self.ratings_changed else layout.factor_col
            self.dataChanged.emit(self.index(0, first), self.index(layout.rows - 1, layout.columns - 1))

    def _size_loss_font(self) -> None:
        self._loss_font.setPointSizeF(max(5.0, min(22, 8 + 3 * self.layout.top) * self._zoom))

    def set_zoom(self, zoom: float) -> None:
        """The view's zoom: the loss cell's big number scales with it."""
        self._zoom = zoom
        self._size_loss_font()

    def set_show_errors(self, on: bool) -> None:
        """Show prediction − rating in the prediction block instead of predictions."""
        self.show_errors = bool(on)
        if self.snapshot is not None:
            self._update_guesses()
            self._shade()
            lay = self.layout
            self.dataChanged.emit(self.index(lay.top, lay.left), self.index(lay.rows - 1, lay.columns - 1))

    def _shade(self) -> None:
        """Per-block scales for the shading (a few reductions; levels are worked out per painted cell)."""
        snap = self.snapshot
        shown = self._ratings[self._present]
        lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
        self._scales = {L.RATING: colors.scale(lo, hi)}
        if self.pending:  # the engine's blocks are all pending: nothing to shade
            return
        if self.show_errors:
            self._scales[L.PREDICTION] = colors.magnitude_scale(snap.errors)
        else:
            self._scales[L.PREDICTION] = colors.scale(lo, hi)
        for block in L.PARAMS:
            if snap.params.get(block) is not None:
                self._scales[block] = colors.magnitude_scale(snap.params[block])

    def set_extras(self, blank_predictions: np.ndarray | None, recommendations: dict | None) -> None:
        """What a frame brings beside the snapshot: blank cells' predictions, users' recommendations."""
        if blank_predictions is not None or not self.show_blanks:
            self.blank_predictions = blank_predictions
        if recommendations is not None:
            self.recommendations = recommendations
        self._update_guesses()

    def set_new_user(self, predictions: np.ndarray | None) -> None:
        """The new user's predictions for every movie (None: no such row), greyed where they have not rated."""
        self.new_user_predictions = predictions
        self._update_guesses()

    def _update_guesses(self) -> None:
        """Greyed predictions for cells without a rating: every blank one when asked, the new user's always."""
        snap, guess = self.snapshot, None
        if snap is None or self.show_errors or isinstance(snap, Preview):
            self._guess = None
            return
        blanks = self.blank_predictions
        if self.show_blanks and blanks is not None and blanks.shape == snap.ratings.shape:
            guess = blanks
        if self.new_user_row is not None and self.new_user_predictions is not None and len(self.new_user_predictions) == snap.ratings.shape[1]:
            guess = np.full(snap.ratings.shape, np.nan) if guess is None else guess.copy()
            guess[self.new_user_row] = np.where(self._present[self.new_user_row], np.nan, self.new_user_predictions)
        self._guess = guess

    def set_show_blanks(self, on: bool) -> None:
        """Show the model's predictions in the blank cells of the prediction block, greyed."""
        self.show_blanks = bool(on)
        self._update_guesses()
        lay = self.layout
        if lay.rows and lay.columns:
            self.dataChanged.emit(self.index(lay.top, lay.left), self.index(lay.rows - 1, lay.columns - 1))

    def block(self, kind: str, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Part of one block for the painter: (colours as ARGB, level per cell, text per cell, row-major)."""
        snap, palette = self.snapshot, self._palette
        if self.pending and kind != L.RATING:
            return self._pending_block(kind, rows, cols)
        present = None
        if kind in (L.RATING, L.PREDICTION):
            present = self._present[rows, cols]
            values = self._ratings[rows, cols] if kind == L.RATING else snap.predictions[rows, cols]
            if kind == L.PREDICTION and self.show_errors:
                values = values - self._ratings[rows, cols]  # NaN where unrated; those cells stay blank
        elif kind == L.USER_BIAS:
            values = snap.params[kind][rows, None][:, cols]
        elif kind == L.ITEM_BIAS:
            values = snap.params[kind][None, cols][rows, :]
        else:
            values = snap.params[kind][rows, cols]
        offset, factor = self._scales[kind]
        magnitude = kind != L.RATING and (kind != L.PREDICTION or self.show_errors)
        if kind in colors.SIGNED:  # factors and biases: shaded by sign and magnitude
            level = colors.signed_levels(values, offset, factor)
        else:
            level = colors.levels(np.abs(values) if magnitude else values, offset, factor)
        argb = palette.argb[kind][level]
        if present is not None:
            argb[~present] = palette.empty_argb[kind]
            level[~present] = 0
        if kind == L.PREDICTION and self._guess is not None:  # cells without a rating show a prediction, on grey
            guess = self._guess[rows, cols]
            guessed = ~present & ~np.isnan(guess)
            values = np.where(present, values, guess)
            argb[guessed] = colors.GUESS_ARGB
            present = present | guessed
        text, width = self._text, values.shape[1]
        first = self.layout.blocks()[kind][2] + (cols.start or 0)  # the table column of the part's first column
        fits = [self._fits(first + b) for b in range(width)] * values.shape[0]
        flat = values.ravel().tolist()
        if present is None:
            texts = [text(kind, v, f) for v, f in zip(flat, fits)]
        else:
            texts = [text(kind, v, f) if p else "" for v, f, p in zip(flat, fits, present.ravel().tolist())]
        return np.ascontiguousarray(argb), level, texts

    def _pending_block(self, kind: str, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """block() of a preview: the block's faint colour, "…" where the engine will put a number."""
        r0, r1, c0, c1 = self.layout.blocks()[kind]
        shown = self.snapshot.mask if kind == L.PREDICTION else np.ones((r1 - r0, c1 - c0), dtype=bool)
        shown = shown[rows, cols]
        argb = np.full(shown.shape, self._palette.empty_argb[kind], dtype=np.uint32)
        return argb, np.zeros(shown.shape, dtype=np.intp), [PENDING if on else "" for on in shown.ravel().tolist()]

    def _pending_cell(self, kind: str, at: tuple) -> bool:
        """Whether a cell of a preview shows "…" (predictions only where there is a rating to predict)."""
        return kind != L.PREDICTION or bool(self.snapshot.mask[at])

    def _level(self, kind: str, value: float) -> int:
        offset, factor = self._scales[kind]
        if kind in colors.SIGNED:
            return colors.signed_level(value, offset, factor)
        if kind != L.RATING and (kind != L.PREDICTION or self.show_errors):
            value = abs(value)
        return colors.level(value, offset, factor)

    # --- Qt model API ------------------------------------------------------------------------
    def rowCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else self._shape[0]

    def columnCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else self._shape[1]

    def cell(self, index: QModelIndex | QPersistentModelIndex) -> Cell:
        """The block and index under a model index."""
        return self.layout.cell(index.row(), index.column())

    def _locate(self, row: int, col: int) -> tuple[str, tuple]:
        """layout.cell without building a Cell: the hot path of every paint."""
        top, m, fc, k, left = self._edges
        if row >= top:
            i = row - top
            if col < m:
                return L.RATING, (i, col)
            if col >= left:
                return L.PREDICTION, (i, col - left)
            f = col - fc
            if 0 <= f < k:
                return L.USER_FACTORS, (i, f)
            return (L.USER_BIAS, (i,)) if f == k else (L.BLANK, ())
        if col >= left:
            return (L.ITEM_FACTORS, (row, col - left)) if row < k else (L.ITEM_BIAS, (col - left,))
        return (L.LOSS, ()) if col >= fc else (L.BLANK, ())

    def paint_info(self, row: int, col: int):
        """(background brush, text colour, text, alignment, font or None) of one cell: all roles in one call, for the delegate."""
        kind, at = self._locate(row, col)
        palette = self._palette
        if kind == L.BLANK:
            return palette.blank, palette.text_colors[0], "", RIGHT, None
        if kind == L.LOSS:
            if self.pending:
                return palette.cells[L.LOSS][0], palette.text_colors[0], PENDING_LOSS, CENTER, self._loss_font
            return palette.loss, palette.text_colors[-1], self._loss_data(DISPLAY), CENTER, self._loss_font
        if self.pending and kind != L.RATING:
            return palette.empty[kind], palette.text_colors[0], PENDING if self._pending_cell(kind, at) else "", RIGHT, None
        value = self._value(kind, at)
        if value is None:
            return palette.empty[kind], palette.text_colors[0], "", RIGHT, None
        level = self._level(kind, value)
        return palette.cells[kind][level], palette.text_colors[level], self._text(kind, value, self._fits(col)), RIGHT, None

    def flags(self, index):
        return self._flags[self._locate(index.row(), index.column())[0]]

    def data(self, index, role=DISPLAY):
        if role not in HANDLED or self.snapshot is None:
            return None
        kind, at = self._locate(index.row(), index.column())
        if kind == L.BLANK:
            return self._palette.blank if role == BACKGROUND else None
        if self.pending and kind != L.RATING:
            return self._pending_data(kind, at, role)
        if kind == L.LOSS:
            return self._loss_data(role)
        value = self._value(kind, at)
        if role == DISPLAY:
            return self._text(kind, value, self._fits(index.column()))
        if role == BACKGROUND:
            return self._palette.empty[kind] if value is None else self._palette.cells[kind][self._level(kind, value)]
        if role == FOREGROUND:
            return self._palette.text[0 if value is None else self._level(kind, value)]
        if role == ALIGN:
            return RIGHT
        if role == EDIT:
            return "" if value is None else edit_text(value)
        if role == TOOLTIP:
            return self._tooltip(kind, at, value)
        return None

    def _pending_data(self, kind: str, at: tuple, role: int):
        """data() of a cell the engine has not computed yet."""
        palette, loss = self._palette, kind == L.LOSS
        if role == DISPLAY:
            return PENDING_LOSS if loss else PENDING if self._pending_cell(kind, at) else ""
        if role == BACKGROUND:
            return palette.cells[L.LOSS][0] if loss else palette.empty[kind]
        if role == FOREGROUND:
            return palette.text[0]
        if role == FONT:
            return self._loss_font if loss else None
        if role == ALIGN:
            return CENTER if loss else RIGHT
        if role == EDIT:
            return ""
        if role == TOOLTIP:
            what = "loss" if loss else kind if kind == L.PREDICTION else NAMES[kind]
            return f"{what}: pending, the engine is starting"
        return None

    def _value(self, kind: str, at: tuple) -> float | None:
        snap = self.snapshot
        if kind == L.RATING:
            return float(self._ratings[at]) if self._present[at] else None
        if kind == L.PREDICTION:
            if not self._present[at]:
                guess = self._guess[at] if self._guess is not None else np.nan
                return None if guess != guess else float(guess)
            if self.show_errors:
                return float(snap.predictions[at] - self._ratings[at])
            return float(snap.predictions[at])
        return float(snap.params[kind][at])

    def value(self, cell: Cell) -> float | None:
        """The number a rating, factor or bias cell holds (a held-out rating too); None for a blank rating."""
        if cell.kind == L.RATING:
            return float(self._ratings[cell.index]) if self._present[cell.index] else None
        return float(self.snapshot.params[cell.kind][cell.index])

    def _text(self, kind: str, value: float | None, fits: Callable[[str], bool] | None = None) -> str:
        if value is None or value != value:  # NaN: the new user's cells before fold-in
            return ""
        if kind == L.RATING:
            return number_text(value, strip=True, fits=fits)
        return number_text(value, sign=kind == L.PREDICTION and self.show_errors, fits=fits)

    def _loss_data(self, role: int):
        snap = self.snapshot
        if role == DISPLAY:
            text = f"RMSE\n{loss_text(snap.rmse)}"
            if snap.holdout_count:  # a second RMSE: the held-out cells'
                text += f"\nheld out {loss_text(snap.holdout_rmse)}"
            return text + "\ndiverged" if snap.diverged else text
        if role == BACKGROUND:
            return self._palette.loss
        if role == FOREGROUND:
            return self._palette.text[-1]
        if role == FONT:
            return self._loss_font
        if role == ALIGN:
            return CENTER
        if role == TOOLTIP:
            holdout = (f"\nheld out: RMSE {loss_text(snap.holdout_rmse)} over the {snap.holdout_count} hatched cells, which "
                    "the loss leaves out") if snap.holdout_count else ""
            return f"loss: √(SSE / count) = √({loss_text(snap.sse)} / {snap.count}) over the rated cells{holdout}"
        return None

    def cell_name(self, cell) -> str:
        """A cell named as a reader would: "rating of user 42 for Star Wars (1977)", "factor 2 of user 42"."""
        snap, at = self.snapshot, tuple(cell.index)

        def user(i: int) -> str:
            return f"user {snap.user_ids[i]}" if snap is not None and i < len(snap.user_ids) else "you"

        def movie(j: int) -> str:
            return snap.titles[j] if snap is not None and j < len(snap.titles) else f"movie {j + 1}"

        if cell.kind in (L.RATING, L.PREDICTION):
            return f"{cell.kind} of {user(at[0])} for {movie(at[1])}"
        if cell.kind == L.USER_FACTORS:
            return f"factor {at[1] + 1} of {user(at[0])}"
        if cell.kind == L.ITEM_FACTORS:
            return f"factor {at[0] + 1} of {movie(at[1])}"
        if cell.kind == L.USER_BIAS:
            return f"bias of {user(at[0])}"
        if cell.kind == L.ITEM_BIAS:
            return f"bias of {movie(at[0])}"
        return cell.kind.replace("_", " ")

    def _tooltip(self, kind: str, at: tuple, value: float | None) -> str:
        snap = self.snapshot
        shown = "blank" if value is None else f"{value:.6g}"
        if kind in (L.RATING, L.PREDICTION):
            i, j = at
            what = "error" if kind == L.PREDICTION and self.show_errors else kind
            holdout = " (held out of the loss)" if self.holdout is not None and self.holdout[i, j] else ""
            return f"user {snap.user_ids[i]} · {snap.titles[j]} (id {snap.item_ids[j]})\n{what}: {shown}{holdout}"
        return f"{NAMES[kind]} {'·'.join(str(x + 1) for x in at)}: {shown}"

    def headerData(self, section, orientation, role=DISPLAY):
        if self.snapshot is None or role not in (DISPLAY, TOOLTIP):
            return None
        lay, snap = self.layout, self.snapshot
        if orientation == HORIZONTAL:
            j = lay.column_item(section)
            if j is not None:
                title = snap.titles[j]
                return title if role == DISPLAY else f"{title}\nid {snap.item_ids[j]}"
            if section == lay.gap:
                return ""
            f = section - lay.factor_col
            return (f"f{f + 1}" if f < lay.k else "bias") if role == DISPLAY else \
                ("user factor " + str(f + 1) if f < lay.k else "user bias")
        i = lay.row_user(section)
        if i is not None:
            if role == DISPLAY:
                return str(snap.user_ids[i])
            return self.recommendations.get(i, f"user {snap.user_ids[i]}")
        return (f"f{section + 1}" if section < lay.k else "bias") if role == DISPLAY else \
            ("movie factor " + str(section + 1) if section < lay.k else "movie bias")

    # --- edits -------------------------------------------------------------------------------
    def setData(self, index, value, role=EDIT) -> bool:
        if role != EDIT or self.snapshot is None or not self.editable:
            return False
        cell = self.cell(index)
        if cell.kind not in EDITABLE:
            return False
        text = "" if value is None else str(value).strip()
        if text == "" and cell.kind == L.RATING:
            self.edit_requested.emit(cell.kind, cell.index, None)
            return True
        try:
            number = parse_number(text)
        except ValueError as error:
            what = "a rating" if cell.kind == L.RATING else f"a {NAMES[cell.kind]}"
            why = ("is too large for a 64-bit number (they end near 1.8e308)" if isinstance(error, Overflowed)
                   else "is not a number")
            self.invalid_edit.emit(f"“{text}” {why}, so it cannot be {what}; the cell keeps its value.")
            return False
        self.edit_requested.emit(cell.kind, cell.index, number)
        return True
