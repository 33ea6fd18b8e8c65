"""The course's long sheets (movielens_1hot, movielens_emb), read by following their formulas from the loss cell.

One row per rating: the rating, each side's index into its factor matrix, each side's activations and the
prediction =SUMPRODUCT(user activations, movie activations); each error is (rating − prediction)² and the loss
=SQRT(AVERAGE(errors)). An activation is a one-hot row times the factor matrix — =MMULT(one-hot, a column of the
matrix) or =SUMPRODUCT(one-hot, a row of it) per cell, or one {=MMULT(one-hot, matrix)} over the k cells — or
the matrix's entry looked up by the index: =OFFSET(corner, idx, j), =OFFSET(corner, j, idx), =INDEX(matrix, idx, j)
or =INDEX(matrix, j, idx) — or by the id itself, =VLOOKUP(id, table, j, FALSE) (HLOOKUP across). The factors are read
where the formulas look them up (this sheet or the dot-product sheet), and each side's ids from the range the
index's =MATCH(id, ids, 0) searches, the ids over the one-hot columns (=IF($A5=F$4,1,0)), or the lookup table's
first column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.xlsx.errors import XlsxError
from collabsheet.engine.xlsx.lesson.book import Book
from collabsheet.engine.xlsx.lesson.formulas import Binary, Call, FormulaError, Num, Ref, Text, parse, sqrt_of
from collabsheet.engine.xlsx.lesson.refs import Area, RefError, resolve
from collabsheet.engine.xlsx.values import show

LONG_LOSS = "=SQRT(AVERAGE(errors)) with each error =(rating-prediction)^2"
PREDICTION = "=SUMPRODUCT(user activations, movie activations)"
ACTIVATION = ("=MMULT(one-hot row, factor column), =SUMPRODUCT(one-hot row, factor row), {=MMULT(one-hot row, "
              "factor matrix)}, =OFFSET(corner, idx, j), =INDEX(matrix, idx, j) or =VLOOKUP(id, table, j, FALSE)")
MAX_ROWS = 20_000  # rating rows: the course's long sheets have a few hundred, each row is a dozen formulas to follow
PREDICTION_TOLERANCE = 1e-9  # relative: a cached prediction further than this from its factors' product is stale

Cell = tuple[str, int, int]  # (sheet, row, column)


@dataclass
class Lookup:
    """How one activation cell finds its factor: the index its row uses, and the factor cell for any index."""

    index: int  # 1-based, as MATCH gives it
    cell: Callable[[int], Cell]  # index → the factor's cell
    count: int | None  # how many indices the matrix holds, where the formula says
    ids: Area | None  # the ids the index was MATCHed in, where it was


@dataclass
class Side:
    """One side's factor matrix as the sheet reads it: per factor, the cell of any index; and the ids."""

    cells: list[Callable[[int], Cell]]
    count: int
    ids: Area | None


@dataclass(frozen=True)
class LongSheet:
    """What a long sheet holds, read: its loss cell, the crosstab of its ratings and the factors it looks up."""

    loss: Area
    grid: Crosstab
    user_factors: np.ndarray  # n × k
    item_factors: np.ndarray  # k × m
    notes: tuple[str, ...]


def has_long_loss(book: Book, sheet: str) -> bool:
    """Whether a cell of the sheet is =SQRT(AVERAGE(range)) or =SQRT(SUM(range)/COUNT(range)): a long sheet's loss."""
    if not book.is_worksheet(sheet) or not book.mentions(sheet, "SQRT"):
        return False
    return any(_errors_of(text) is not None for row in book.formulas(sheet).rows for text in row
               if isinstance(text, str) and "SQRT" in text.upper())


def read_long(book: Book, sheet: str) -> LongSheet:
    """The sheet's ratings and factors, followed from its loss cell; an XlsxError names the first cell that does not fit."""
    reader = _Reader(book, sheet)
    return reader.read()


class _Reader:
    def __init__(self, book: Book, sheet: str) -> None:
        self.book, self.sheet = book, sheet

    def fail(self, at: Area | Cell, what: str) -> XlsxError:
        return XlsxError(f"{self.book.name}: {at if isinstance(at, Area) else self._where(at)} {what}")

    def area(self, ref: Ref, at: Area) -> Area:
        try:
            return resolve(ref.text, at.sheet, self.book.names)
        except RefError as exc:
            raise self.fail(at, str(exc)) from None

    def formula(self, at: Area):
        """The parsed formula of one cell, or None where the cell holds a value."""
        text = self.book.formulas(at.sheet).get(at.top, at.left)
        if text is None:
            return None
        try:
            return parse(text)
        except FormulaError as exc:
            raise self.fail(at, f"holds a formula this reader cannot parse ({exc})") from None

    def value(self, cell: Cell):
        return self.book.values(cell[0]).get(cell[1], cell[2])

    def number(self, cell: Cell, what: str) -> float:
        value = self.value(cell)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(cell, f"should be {what} (a number), found {show(value)}; was the workbook saved after "
                                  "it calculated?")
        return float(value)

    # -- the chain: loss → errors → rating and prediction → activations → factors ------------------------------

    def read(self) -> LongSheet:
        loss, errors = self._loss()
        rows = []  # per rating: (rating, user Lookups, movie Lookups, the prediction's cell or None)
        for r, c in errors.cells():
            at = Area(errors.sheet, r, c, r, c)
            rating, prediction = self._error(at)
            rows.append((rating, *self._prediction(prediction)))
        users, movies = (self._side(rows, s, name) for s, name in ((1, "user"), (2, "movie")))
        if users.ids is not None and movies.ids is not None and users.ids.rows == 1 and movies.ids.cols == 1:
            users, movies = movies, users  # users are listed down a column, movies across a row, as the lesson has
            rows = [(rating, m, u, cell) for rating, u, m, cell in rows]
        user_ids, movie_ids = self._ids(users, "user"), self._ids(movies, "movie")
        ratings = np.full((users.count, movies.count), np.nan)
        first: dict[tuple[int, int], Area] = {}
        for (rating_at, user, movie, _), (r, c) in zip(rows, errors.cells()):
            u, m = user[0].index, movie[0].index
            for side, lookups, count in (("user", user, users.count), ("movie", movie, movies.count)):
                if not 1 <= lookups[0].index <= count:
                    raise self.fail(Area(errors.sheet, r, c, r, c), f"(a rating's error) looks up {side} {lookups[0].index}; "
                                    f"the {side}s' factors have {count}")
            if (u, m) in first:
                raise self.fail(rating_at, f"rates movie {movie_ids[m - 1]} for user {user_ids[u - 1]} again "
                                           f"({first[(u, m)]} rates it)")
            first[(u, m)] = rating_at
            ratings[u - 1, m - 1] = self.number((rating_at.sheet, rating_at.top, rating_at.left), "a rating")
        user_factors = self._matrix(users, "user factor")
        item_factors = self._matrix(movies, "movie factor").T.copy()
        grid = Crosstab(ratings, user_ids, movie_ids, tuple(str(m) for m in movie_ids),
                        f"{self.book.name}, sheet {self.sheet}")
        notes = self._check_predictions(rows, user_factors, item_factors)
        return LongSheet(loss, grid, user_factors, item_factors, tuple(notes))

    def _loss(self) -> tuple[Area, Area]:
        """(the loss cell, the errors it averages) from the sheet's first loss formula."""
        formulas = self.book.formulas(self.sheet)
        for r, row in enumerate(formulas.rows, 1):
            for c, text in enumerate(row, 1):
                ref = _errors_of(text) if isinstance(text, str) and "SQRT" in text.upper() else None
                if ref is None:
                    continue
                at = Area(self.sheet, r, c, r, c)
                errors = self.area(ref, at)
                if errors.rows != 1 and errors.cols != 1:
                    raise self.fail(at, f"averages {errors} ({errors.shape}); a long sheet's errors are one column, "
                                        "a row per rating")
                if errors.rows * errors.cols > MAX_ROWS:
                    raise self.fail(at, f"averages {errors.rows * errors.cols:,} errors; a long sheet is read up to "
                                        f"{MAX_ROWS:,} ratings (the lesson's has a few hundred)")
                return at, errors
        raise XlsxError(f"{self.book.name}: sheet {self.sheet!r} has no loss cell (a formula {LONG_LOSS})")

    def _error(self, at: Area) -> tuple[Area, object]:
        """(the rating's cell, the prediction: a cell or a formula) of one error cell (rating − prediction)²."""
        tree = self.formula(at)
        difference = _squared(tree)
        if difference is None:
            raise self.fail(at, f"should be an error =(rating-prediction)^2, found {self._text(at)}")
        kinds = [self._operand(x, at) for x in (difference.left, difference.right)]
        ratings = [x for x, kind in zip((difference.left, difference.right), kinds) if kind == "rating"]
        predictions = [x for x, kind in zip((difference.left, difference.right), kinds) if kind == "prediction"]
        if len(ratings) != 1 or len(predictions) != 1:
            raise self.fail(at, f"should subtract a prediction ({PREDICTION}) from a rating, found {self._text(at)}")
        return self.area(ratings[0], at), (predictions[0], at)

    def _operand(self, node, at: Area) -> str | None:
        """'prediction' for a SUMPRODUCT (or a cell holding one), 'rating' for a cell holding a value."""
        if _dot(node) is not None:
            return "prediction"
        if not isinstance(node, Ref):
            return None
        cell = self.area(node, at)
        if (cell.rows, cell.cols) != (1, 1):
            return None
        tree = self.formula(cell)
        return "rating" if tree is None else "prediction" if _dot(tree) is not None else None

    def _prediction(self, found) -> tuple[list[Lookup], list[Lookup], Area | None]:
        """Each side's lookups, one per factor, of the prediction in an error cell, and the prediction's cell."""
        node, at = found
        cell = None
        if isinstance(node, Ref):
            at = cell = self.area(node, at)
            node = self.formula(at)
        pair = _dot(node)
        if pair is None:  # an error cell checked its operand: only a crafted chain gets here
            raise self.fail(at, f"should be a prediction {PREDICTION}")
        areas = [self.area(ref, at) for ref in pair]
        if len({a.rows * a.cols for a in areas}) != 1:
            raise self.fail(at, f"multiplies {areas[0]} by {areas[1]}; both sides need the same number of factors")
        return self._activations(areas[0]), self._activations(areas[1]), cell

    def _activations(self, area: Area) -> list[Lookup]:
        """One lookup per activation cell of one side."""
        lookups = []
        for r, c in area.cells():
            at = Area(area.sheet, r, c, r, c)
            array = self._array_over(at, area)
            if array is not None:
                lookups.append(self._in_array(at, *array))
                continue
            tree = self.formula(at)
            if tree is None:
                raise self.fail(at, f"holds no formula; an activation should be {ACTIVATION}")
            lookups.append(self._lookup(tree, at))
        return lookups

    def _array_over(self, at: Area, area: Area) -> tuple[Area, Area] | None:
        """(the corner, the range) of an array formula entered over several of the side's cells, this one among them."""
        for r, c in area.cells():
            spans = self.book.array_range(area.sheet, r, c)
            if spans is None:
                continue
            span = self.area(Ref(spans), at)
            if span.rows * span.cols > 1 and span.top <= at.top <= span.bottom and span.left <= at.left <= span.right:
                return Area(area.sheet, r, c, r, c), span
        return None

    def _in_array(self, at: Area, corner: Area, span: Area) -> Lookup:
        """An activation cell filled by an array formula {=MMULT(one-hot, matrix)} over the side's k cells."""
        tree = self.formula(corner)
        if isinstance(tree, Call) and tree.name == "MMULT" and len(tree.args) == 2:
            hot, matrix = tree.args
            transposed = isinstance(matrix, Call) and matrix.name == "TRANSPOSE" and len(matrix.args) == 1
            inner = matrix.args[0] if transposed else matrix
            if isinstance(hot, Ref) and isinstance(inner, Ref):
                block = self.area(inner, corner)
                index = self._hot_index(self.area(hot, corner), corner)
                k = (at.top - span.top) + (at.left - span.left)
                return self._from_vector(block, k, transposed, index, corner)
        raise self.fail(corner, f"is an array formula over {span}; an activation should be {ACTIVATION}")

    def _from_vector(self, block: Area, k: int, transposed: bool, index: tuple[int, int, Area], at: Area) -> Lookup:
        """The lookup of factor k in a matrix whose rows (columns when transposed) are the indices."""
        position, count, ids = index
        rows = block.cols if transposed else block.rows
        if rows != count:
            raise self.fail(at, f"multiplies a one-hot row of {count} by {block}, which has {rows} "
                                f"{'columns' if transposed else 'rows'}")
        return Lookup(position, lambda i, b=block, t=transposed: (b.sheet, *(b.cell(k, i - 1) if t
                                                                             else b.cell(i - 1, k))), count, ids)

    def _lookup(self, tree, at: Area) -> Lookup:
        """The lookup one activation formula makes."""
        if isinstance(tree, Call) and tree.name in ("MMULT", "SUMPRODUCT") and len(tree.args) == 2 \
                and all(isinstance(a, Ref) for a in tree.args):
            a, b = (self.area(x, at) for x in tree.args)
            hot, vector = (a, b) if (a.sheet, a.top, a.bottom) == (at.sheet, at.top, at.top) else (b, a)
            if (hot.sheet, hot.top, hot.bottom) != (at.sheet, at.top, at.top):
                raise self.fail(at, f"multiplies {a} by {b}; one of them should be this row's one-hot cells")
            position, count, ids = self._hot_index(hot, at)
            if vector.rows * vector.cols != count:
                raise self.fail(at, f"multiplies a one-hot row of {count} by {vector}, which has "
                                    f"{vector.rows * vector.cols} cells")
            return Lookup(position, lambda i, v=vector: (v.sheet, *v.cells()[i - 1]), count, ids)
        if isinstance(tree, Call) and tree.name in ("OFFSET", "INDEX") and len(tree.args) == 3 \
                and isinstance(tree.args[0], Ref):
            corner = self.area(tree.args[0], at)
            shifts = tree.args[1:]
            numbers = [isinstance(s, Num) for s in shifts]
            refs = [isinstance(s, Ref) for s in shifts]
            if sorted(numbers) == [False, True] and sorted(refs) == [False, True]:
                by_row = refs[0]  # the index moves down the rows (users down, factors across)
                index_ref = shifts[0] if by_row else shifts[1]
                j = int(shifts[1].value if by_row else shifts[0].value)
                position, count, ids = self._index(self.area(index_ref, at), at)
                base = 0 if tree.name == "OFFSET" else -1  # OFFSET moves from the corner, INDEX counts from 1
                if tree.name == "INDEX":
                    count = corner.rows if by_row else corner.cols
                    if not 1 <= j <= (corner.cols if by_row else corner.rows):
                        raise self.fail(at, f"looks up factor {j} of {corner}, which has no such "
                                            f"{'column' if by_row else 'row'}")

                def cell(i: int, c=corner, by_row=by_row, j=j, base=base) -> Cell:
                    row, col = (c.top + i + base, c.left + j + base) if by_row else (c.top + j + base,
                                                                                     c.left + i + base)
                    return c.sheet, row, col
                return Lookup(position, cell, count, ids)
        if isinstance(tree, Call) and tree.name in ("VLOOKUP", "HLOOKUP") and len(tree.args) in (3, 4) \
                and all(isinstance(a, Ref) for a in tree.args[:2]) and isinstance(tree.args[2], Num):
            return self._table_lookup(tree, at)
        raise self.fail(at, f"should be an activation ({ACTIVATION}), found {self._text(at)}")

    def _table_lookup(self, tree: Call, at: Area) -> Lookup:
        """=VLOOKUP(id, table, j, FALSE): the row of the table whose first cell is the id, its j-th cell (HLOOKUP:
        the column, across)."""
        key, table = self.area(tree.args[0], at), self.area(tree.args[1], at)
        j, down = int(tree.args[2].value), tree.name == "VLOOKUP"
        # FALSE as Excel writes it, or as LibreOffice saves it (FALSE()), or 0
        exact = len(tree.args) == 3 or tree.args[3] in (Num(0.0), Text("FALSE"), Call("FALSE", ()))
        if not exact:
            raise self.fail(at, f"looks up {key} by the nearest id ({tree.name}'s last argument TRUE); the factors "
                                "of an id are found by an exact match: FALSE")
        ids = Area(table.sheet, table.top, table.left, table.bottom if down else table.top,
                   table.left if down else table.right)
        width = table.cols if down else table.rows
        if not 2 <= j <= width:
            raise self.fail(at, f"looks up cell {j} of {table}'s {'rows' if down else 'columns'}, which have {width}")
        wanted = self.value((key.sheet, key.top, key.left))
        found = [i for i, (r, c) in enumerate(ids.cells(), 1) if self.value((ids.sheet, r, c)) == wanted]
        if not found or wanted is None:
            raise self.fail(key, f"holds {show(wanted)}, which {ids} does not list")

        def cell(i: int, t=table, j=j, down=down) -> Cell:
            return (t.sheet, t.top + i - 1, t.left + j - 1) if down else (t.sheet, t.top + j - 1, t.left + i - 1)
        return Lookup(found[0], cell, ids.rows * ids.cols, ids)

    def _hot_index(self, hot: Area, at: Area) -> tuple[int, int, Area | None]:
        """(the position of the one 1 in a one-hot row, its width, the ids its index was MATCHed in)."""
        values = [self.value((hot.sheet, r, c)) for r, c in hot.cells()]
        if all(v is None for v in values):
            raise self.fail(hot, f"(the one-hot row {at} multiplies) was never calculated; open the workbook in a "
                                 "spreadsheet and save it, then import it")
        ones = [i for i, v in enumerate(values, 1) if v == 1 and not isinstance(v, bool)]
        if len(ones) != 1 or any(v not in (0, 1) or isinstance(v, bool) for v in values):
            raise self.fail(hot, f"should be a one-hot row (one 1, the rest 0) for {at}, found "
                                 f"{', '.join(show(v) for v in values[:20])}")
        ids = None
        # =IF($D5=F$4,1,0) compares this row's index (perhaps a MATCH) with a number over each column;
        # =IF($A5=F$4,1,0) compares the id itself with the ids over the columns.
        tree = self.formula(hot.at(0, 0))
        if isinstance(tree, Call) and tree.name == "IF" and tree.args and isinstance(tree.args[0], Binary):
            for side in (tree.args[0].left, tree.args[0].right):
                if not isinstance(side, Ref):
                    continue
                cell = self.area(side, hot)
                if (cell.sheet, cell.top) == (hot.sheet, hot.top) and not (hot.left <= cell.left <= hot.right):
                    ids = ids or self._matched(cell)
                elif (cell.sheet, cell.left, cell.rows, cell.cols) == (hot.sheet, hot.left, 1, 1):
                    header = Area(hot.sheet, cell.top, hot.left, cell.top, hot.right)
                    shown = [self.value((hot.sheet, cell.top, c)) for c in range(hot.left, hot.right + 1)]
                    if shown != list(range(1, len(shown) + 1)):
                        ids = ids or header
        return ones[0], len(values), ids

    def _index(self, cell: Area, at: Area) -> tuple[int, int | None, Area | None]:
        """(the whole number an index cell holds, the ids' count and range where it is a MATCH)."""
        if (cell.rows, cell.cols) != (1, 1):
            raise self.fail(at, f"looks up by {cell}; the index should be one cell")
        value = self.number((cell.sheet, cell.top, cell.left), "an index")
        if not value.is_integer() or value < 1:
            raise self.fail(cell, f"should be an index (a whole number from 1), found {show(value)}")
        ids = self._matched(cell)
        return int(value), (ids.rows * ids.cols if ids is not None else None), ids

    def _matched(self, cell: Area) -> Area | None:
        """The range a =MATCH(id, range, 0) in this cell searches, or None where the cell holds no MATCH."""
        tree = self.formula(cell)
        if isinstance(tree, Call) and tree.name == "MATCH" and len(tree.args) >= 2 and isinstance(tree.args[1], Ref):
            ids = self.area(tree.args[1], cell)
            if ids.rows == 1 or ids.cols == 1:
                return ids
        return None

    # -- assembling --------------------------------------------------------------------------------------------

    def _side(self, rows: list, at: int, name: str) -> Side:
        """One side's matrix: the same lookups on every row, and how many indices it holds."""
        first = rows[0][at]
        counts = {lk.count for row in rows for lk in row[at] if lk.count is not None}
        ids = next((lk.ids for row in rows for lk in row[at] if lk.ids is not None), None)
        if len(counts) > 1:
            raise XlsxError(f"{self.book.name}: sheet {self.sheet!r}: the {name}s' lookups disagree on how many "
                            f"{name}s there are ({', '.join(map(str, sorted(counts)))})")
        count = counts.pop() if counts else max(lk.index for row in rows for lk in row[at])
        for row in rows:
            for j, lk in enumerate(row[at]):
                if lk.index != row[at][0].index:
                    raise XlsxError(f"{self.book.name}: sheet {self.sheet!r}: a row looks up {name} "
                                    f"{row[at][0].index} for one factor and {lk.index} for factor {j + 1}")
                if any(lk.cell(i) != first[j].cell(i) for i in (1, count)):
                    cell = lk.cell(1)
                    raise self.fail(row[0], f"(a rating) reads {name} factor {j + 1} from {self._where(cell)}, "
                                            f"but the first row from {self._where(first[j].cell(1))}")
        return Side([lk.cell for lk in first], count, ids)

    def _ids(self, side: Side, name: str) -> tuple:
        """The ids the indices were MATCHed in (whole numbers as int), or 1 … n where no MATCH says."""
        if side.ids is None or side.ids.rows * side.ids.cols != side.count:
            return tuple(range(1, side.count + 1))
        ids, seen = [], set()
        for r, c in side.ids.cells():
            value = self.value((side.ids.sheet, r, c))
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)  # the Sheet writes its ids as text
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, (int, float, str)) or value in seen or value == "":
                raise self.fail((side.ids.sheet, r, c), f"should be a {name} id, once, found {show(value)}")
            seen.add(value)
            ids.append(value)
        return tuple(ids)

    def _matrix(self, side: Side, what: str) -> np.ndarray:
        """count × k factors, read from the cells the lookups name."""
        return np.array([[self.number(cell(i), f"a {what}") for cell in side.cells]
                         for i in range(1, side.count + 1)], dtype=np.float64)

    def _check_predictions(self, rows: list, users: np.ndarray, items: np.ndarray) -> list[str]:
        """A note at the first row whose cached prediction is not its factors' dot product (a workbook saved stale)."""
        for _, user, movie, cell in rows:
            value = None if cell is None else self.value((cell.sheet, cell.top, cell.left))
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue  # never calculated: the loss cell's note says so
            engine = float(users[user[0].index - 1] @ items[:, movie[0].index - 1])
            if not abs(engine - value) <= PREDICTION_TOLERANCE * max(1.0, abs(engine)):
                return [f"the workbook's prediction {cell} shows {value:.10g} but its factors give {engine:.10g}; "
                        "was it saved before it recalculated?"]
        return []

    @staticmethod
    def _where(cell: Cell) -> Area:
        return Area(cell[0], cell[1], cell[2], cell[1], cell[2])

    def _text(self, at: Area) -> str:
        text = self.book.formulas(at.sheet).get(at.top, at.left)
        text = show(self.value((at.sheet, at.top, at.left))) if text is None else text
        return text if len(text) <= 120 else text[:119] + "…"


def _errors_of(text: str) -> Ref | None:
    """The errors range of =SQRT(AVERAGE(e)) or =SQRT(SUM(e)/COUNT(e)), or None for another formula."""
    inner = sqrt_of(text)
    if isinstance(inner, Call) and inner.name == "AVERAGE" and len(inner.args) == 1 and isinstance(inner.args[0], Ref):
        return inner.args[0]
    if isinstance(inner, Binary) and inner.op == "/":
        total, count = inner.left, inner.right
        if all(isinstance(x, Call) and len(x.args) == 1 and isinstance(x.args[0], Ref) for x in (total, count)) \
                and total.name == "SUM" and count.name in ("COUNT", "ROWS") and total.args == count.args:
            return total.args[0]
    return None


def _squared(tree) -> Binary | None:
    """The difference d in d^2, POWER(d, 2) or d*d, or None for another formula."""
    if isinstance(tree, Binary) and tree.op == "^" and tree.right == Num(2.0):
        inner = tree.left
    elif isinstance(tree, Call) and tree.name == "POWER" and len(tree.args) == 2 and tree.args[1] == Num(2.0):
        inner = tree.args[0]
    elif isinstance(tree, Binary) and tree.op == "*" and tree.left == tree.right:
        inner = tree.left
    else:
        return None
    return inner if isinstance(inner, Binary) and inner.op == "-" else None


def _dot(tree) -> tuple[Ref, Ref] | None:
    """The two ranges of =SUMPRODUCT(a, b) or =MMULT(a, TRANSPOSE(b)), or None for another formula."""
    if not (isinstance(tree, Call) and len(tree.args) == 2):
        return None
    a, b = tree.args
    if tree.name == "MMULT" and isinstance(b, Call) and b.name == "TRANSPOSE" and len(b.args) == 1:
        b = b.args[0]
    elif tree.name != "SUMPRODUCT":
        return None
    return (a, b) if isinstance(a, Ref) and isinstance(b, Ref) else None
