"""The course's movielens_1hot and movielens_emb sheets, written beside the Sheet with formulas linked to its blocks.

Both list the ratings in long form (userId, movieId, rating) with each id's index =MATCH(id, the Sheet's ids, 0).
movielens_1hot writes a one-hot row per rating, =IF($idx = column number, 1, 0), and takes the activations as
one-hot · factor matrix; movielens_emb picks the same numbers with =OFFSET(corner, idx, column). Each ends in
prediction = SUMPRODUCT(user activations, movie activations), error² and loss = SQRT(AVERAGE(error²)), which
recalculate to the Sheet's loss whatever Solver or the user later writes into the factor blocks.
"""
from __future__ import annotations

from openpyxl.utils import get_column_letter as letter

from collabsheet.engine.models import factorization
from collabsheet.engine.sheet.onehot import LongForm, long_form
from collabsheet.engine.sheet.snapshot import Snapshot
from collabsheet.engine.xlsx.cells import Cells
from collabsheet.engine.xlsx.collab.layout import EMB, ONEHOT, SHEET, Layout, XlsxError

HEADER, TOP = 4, 5  # the column titles' row (the one-hot columns' numbers) and the first rating's row
LOSS = "B2"
MAX_ONE_HOT = 300_000  # one-hot cells (ratings × (users + movies)): LibreOffice recalculates these in seconds
_S = f"{SHEET}!"  # the Sheet's name needs no quotes


def check_size(snap: Snapshot) -> None:
    """Refuse a sheet whose one-hot block would be too big to write and recalculate."""
    ratings, width = int(snap.mask.sum()), len(snap.user_ids) + len(snap.item_ids)
    if ratings * width > MAX_ONE_HOT:
        raise XlsxError(f"the one-hot sheet would hold {ratings:,} ratings × {width} columns = {ratings * width:,} "
                        f"cells; at most {MAX_ONE_HOT:,} are written: lower top-N, or export without --onehot")


class _Columns:
    """Where each of a long sheet's columns sits (1-based); the one-hot blocks take no columns on the lookup sheet."""

    def __init__(self, lay: Layout, one_hot: bool) -> None:
        n, m, k = (lay.n, lay.m, lay.k) if one_hot else (0, 0, lay.k)
        self.user_hot, self.item_hot = 6, 6 + n  # after userId, movieId, rating, user idx, movie idx
        self.user_act = 6 + n + m
        self.item_act = self.user_act + k
        self.user_bias = self.item_act + k  # with biases: user bias, movie bias; then prediction, error²
        self.prediction = self.user_bias + 2 * lay.biases
        self.error2 = self.prediction + 1


def _sheet_refs(lay: Layout) -> dict[str, str]:
    """Absolute references to the Sheet's id lists, factor corners and squashing range."""
    first, last = letter(lay.movie_col(0)), letter(lay.movie_col(lay.m - 1))
    before = letter(lay.movie_col(0) - 1)  # the column left of the first movie: OFFSET's corner for the movies
    return {"users": f"{_S}$A${lay.rating_row(0)}:$A${lay.rating_row(lay.n - 1)}",
            "movies": f"{_S}${first}${lay.id_row}:${last}${lay.id_row}",
            "user corner": f"{_S}$A${lay.users_label_row}", "movie corner": f"{_S}${before}${lay.factor_row(0)}",
            "bias corner": f"{_S}${before}${lay.movie_bias_row}",
            "low": f"{_S}${letter(lay.low_col)}${lay.loss_row}", "high": f"{_S}${letter(lay.high_col)}${lay.loss_row}"}


def _user_column(lay: Layout, col: int) -> str:
    """A column of the Sheet's user block (factor or bias) over every user, absolute."""
    c = letter(col)
    return f"{_S}${c}${lay.prediction_row(0)}:${c}${lay.prediction_row(lay.n - 1)}"


def _movie_row(lay: Layout, row: int) -> str:
    """A row of the Sheet's movie block (factor or bias) over every movie, absolute."""
    return f"{_S}${letter(lay.movie_col(0))}${row}:${letter(lay.movie_col(lay.m - 1))}${row}"


def _activations(lay: Layout, cols: _Columns, one_hot: bool, r: int) -> list[tuple[int, str]]:
    """(column, formula) of row r's activations: one-hot products, or lookups by index."""
    refs, out = _sheet_refs(lay), []
    users = f"${letter(cols.user_hot)}{r}:${letter(cols.item_hot - 1)}{r}"
    movies = f"${letter(cols.item_hot)}{r}:${letter(cols.user_act - 1)}{r}"
    for f in range(lay.k):
        if one_hot:
            # one-hot (1 × users) · the user factor column (users × 1): MMULT's single number, in any spreadsheet.
            out.append((cols.user_act + f, f"=MMULT({users},{_user_column(lay, lay.user_col(f))})"))
            # The movie factors lie k × movies, one row per factor: the product with the one-hot row is their
            # SUMPRODUCT (MMULT would need TRANSPOSE, an array formula).
            out.append((cols.item_act + f, f"=SUMPRODUCT({movies},{_movie_row(lay, lay.factor_row(f))})"))
        else:
            out.append((cols.user_act + f, f"=OFFSET({refs['user corner']},$D{r},{lay.user_col(f) - 1})"))
            out.append((cols.item_act + f, f"=OFFSET({refs['movie corner']},{f},$E{r})"))
    if lay.biases:
        if one_hot:
            out.append((cols.user_bias, f"=MMULT({users},{_user_column(lay, lay.bias_col)})"))
            out.append((cols.user_bias + 1, f"=SUMPRODUCT({movies},{_movie_row(lay, lay.movie_bias_row)})"))
        else:
            out.append((cols.user_bias, f"=OFFSET({refs['user corner']},$D{r},{lay.bias_col - 1})"))
            out.append((cols.user_bias + 1, f"=OFFSET({refs['bias corner']},0,$E{r})"))
    return out


def _prediction(lay: Layout, cols: _Columns, squash: bool, r: int) -> str:
    """SUMPRODUCT of the two activation rows, plus the biases and the sigmoid as the Sheet's cells have them."""
    k = lay.k
    dot = (f"SUMPRODUCT({letter(cols.user_act)}{r}:{letter(cols.user_act + k - 1)}{r},"
           f"{letter(cols.item_act)}{r}:{letter(cols.item_act + k - 1)}{r})")
    biases = (f"{letter(cols.user_bias)}{r}", f"{letter(cols.user_bias + 1)}{r}") if lay.biases else (None, None)
    refs = _sheet_refs(lay)
    return "=" + factorization.spreadsheet_formula(dot, *biases, (refs["low"], refs["high"]) if squash else None)


def _titles(cells: Cells, lay: Layout, cols: _Columns, one_hot: bool, title: str) -> None:
    """Row 1's title, the loss label, and the column titles (the one-hot columns' numbers)."""
    cells.put(1, 1, title, "label", text=True)
    cells.put(2, 1, "Loss (RMSE)", "loss", text=True)
    for c, name in enumerate(("userId", "movieId", "rating", "user idx", "movie idx"), start=1):
        cells.put(HEADER, c, name, "label", text=True)
    if one_hot:
        cells.put(HEADER - 1, cols.user_hot, "user one-hot: IF(user idx = column number, 1, 0)", "user label", True)
        cells.put(HEADER - 1, cols.item_hot, "movie one-hot", "movie label", text=True)
        for i in range(lay.n):
            cells.put(HEADER, cols.user_hot + i, i + 1, "user label")
        for j in range(lay.m):
            cells.put(HEADER, cols.item_hot + j, j + 1, "movie label")
    how = "one-hot · factor matrix" if one_hot else "OFFSET(corner, idx, column)"
    cells.put(HEADER - 1, cols.user_act, f"user activations = {how}", "user label", text=True)
    cells.put(HEADER - 1, cols.item_act, "movie activations", "movie label", text=True)
    for f in range(lay.k):
        cells.put(HEADER, cols.user_act + f, f"factor {f + 1}", "user label", text=True)
        cells.put(HEADER, cols.item_act + f, f"factor {f + 1}", "movie label", text=True)
    if lay.biases:
        cells.put(HEADER, cols.user_bias, "user bias", "bias label", text=True)
        cells.put(HEADER, cols.user_bias + 1, "movie bias", "bias label", text=True)
    cells.put(HEADER, cols.prediction, "prediction", "prediction label", text=True)
    cells.put(HEADER, cols.error2, "error²", "loss", text=True)


def _write(ws, cells: Cells, snap: Snapshot, lay: Layout, long: LongForm, one_hot: bool) -> None:
    cols = _Columns(lay, one_hot)
    title = ("movielens_1hot: each rating's user and movie as one-hot rows, times the Sheet's factor matrices"
             if one_hot else "movielens_emb: the same activations looked up by index (an embedding)")
    _titles(cells, lay, cols, one_hot, title)
    refs = _sheet_refs(lay)
    for row in range(len(long)):
        r = TOP + row
        cells.put(r, 1, long.user_ids[row], "id", text=True)  # text, as the Sheet writes ids: MATCH finds them
        cells.put(r, 2, long.item_ids[row], "id", text=True)
        cells.put(r, 3, float(long.ratings[row]), "rating")
        cells.formula(r, 4, f"=MATCH($A{r},{refs['users']},0)", "value")
        cells.formula(r, 5, f"=MATCH($B{r},{refs['movies']},0)", "value")
        if one_hot:
            for i in range(lay.n):
                cells.formula(r, cols.user_hot + i, f"=IF($D{r}={letter(cols.user_hot + i)}${HEADER},1,0)", "value")
            for j in range(lay.m):
                cells.formula(r, cols.item_hot + j, f"=IF($E{r}={letter(cols.item_hot + j)}${HEADER},1,0)", "value")
        for c, text in _activations(lay, cols, one_hot, r):
            cells.formula(r, c, text, "user" if c < cols.item_act else "movie" if c < cols.user_bias else "bias")
        cells.formula(r, cols.prediction, _prediction(lay, cols, snap.squash, r), "prediction")
        cells.formula(r, cols.error2, f"=($C{r}-{letter(cols.prediction)}{r})^2", "value")
    last = TOP + max(len(long), 1) - 1
    err = letter(cols.error2)
    cells.formula(2, 2, f"=SQRT(AVERAGE({err}{TOP}:{err}{last}))", "loss")
    ws.freeze_panes = f"F{TOP}"


def write_long_sheets(wb, styles: dict, snap: Snapshot, lay: Layout) -> None:
    """Add movielens_1hot and movielens_emb to an exported workbook whose Sheet has layout `lay`."""
    long = long_form(snap)
    for name, one_hot in ((ONEHOT, True), (EMB, False)):
        ws = wb.create_sheet(name)
        _write(ws, Cells(ws, styles), snap, lay, long, one_hot)
