"""Where a lesson-style collab sheet keeps its blocks, found from its formulas rather than from fixed positions.

The loss cell =SQRT(SUMXMY2(ratings, predictions)/COUNT(ratings)) names the ratings and the predictions.
Each prediction =IF(rating="",0,MMULT(user factor row, movie factor column)) names its user's factors
and its movie's factors; on the sheet with biases it adds the movie's bias (a cell in the movie's column)
and the user's bias (a cell in the user's row), in either order, inside the IF or outside it as the
course's bias sheet does (=IF(H2="",0,MMULT($B26:$F26,H$20:H$24))+H$19+$A26: a blank rating's cell then
shows the two biases, which the loss skips, since SUMXMY2 passes over pairs with a blank).
"""
from __future__ import annotations

from dataclasses import dataclass

from collabsheet.engine.xlsx.errors import XlsxError, a1
from collabsheet.engine.xlsx.lesson.book import Book
from collabsheet.engine.xlsx.lesson.formulas import Binary, Call, FormulaError, Num, Ref, Text, parse, sqrt_of
from collabsheet.engine.xlsx.lesson.refs import Area, RefError, resolve

LOSS = "=SQRT(SUMXMY2(ratings, predictions)/COUNT(ratings))"
BLANK = (Num(0.0), Text(""))  # what a prediction shows where the rating is blank
PREDICTION = '=IF(rating="",0,MMULT(user factors, movie factors)), optionally + the movie\'s and the user\'s bias'


@dataclass
class Prediction:
    """What one prediction cell's formula names."""

    at: Area
    user: Area
    movie: Area
    user_bias: Area | None = None
    movie_bias: Area | None = None


@dataclass(frozen=True)
class Blocks:
    """Every block of one collab sheet, as rectangles of cells; biases are None where the formulas add none."""

    loss: Area  # the loss cell
    ratings: Area  # users down, movies across
    predictions: Area  # the same shape, one formula per cell
    users: tuple[Area, ...]  # each user's factors: one row of k cells
    movies: tuple[Area, ...]  # each movie's factors: one column of k cells
    user_bias: tuple[Area, ...] | None  # one cell per user
    movie_bias: tuple[Area, ...] | None  # one cell per movie

    @property
    def k(self) -> int:
        return self.users[0].cols


def has_loss_formula(book: Book, sheet: str) -> bool:
    """Whether any cell of the sheet is a SUMXMY2 formula: a candidate for the lesson's loss cell."""
    if not book.is_worksheet(sheet) or not book.mentions(sheet, "SUMXMY2"):
        return False
    return any(_is_loss_candidate(v) for row in book.formulas(sheet).rows for v in row)


def find_blocks(book: Book, sheet: str) -> Blocks:
    """The blocks the sheet's loss cell and prediction formulas name, or an XlsxError saying which part is missing."""
    loss, ratings, predictions = _loss(book, sheet)
    rows = [[_prediction(book, predictions.at(i, j), ratings.at(i, j)) for j in range(predictions.cols)]
            for i in range(predictions.rows)]
    columns = [list(column) for column in zip(*rows)]
    first = rows[0][0]
    users = tuple(_same(book, row, "user") for row in rows)
    movies = tuple(_same(book, column, "movie") for column in columns)
    biases = {}
    for kind, lines in (("user_bias", rows), ("movie_bias", columns)):
        has = getattr(first, kind) is not None
        odd = next((p for row in rows for p in row if (getattr(p, kind) is not None) != has), None)
        if odd is not None:
            what = "has no" if getattr(odd, kind) is None else "has"
            raise _fail(book, odd.at, f"{what} a {kind.replace('_', ' ')}, unlike {first.at}")
        biases[kind] = tuple(_same(book, line, kind) for line in lines) if has else None
    return Blocks(loss, ratings, predictions, users, movies, biases["user_bias"], biases["movie_bias"])


def _fail(book: Book, at: Area, what: str) -> XlsxError:
    return XlsxError(f"{book.name}: {at} {what}")


def _is_loss_candidate(formula) -> bool:
    return isinstance(formula, str) and "SUMXMY2" in formula.upper()


def _loss(book: Book, sheet: str) -> tuple[Area, Area, Area]:
    """(loss cell, ratings, predictions) from the sheet's first cell holding the loss formula."""
    formulas, misfit = book.formulas(sheet), None
    for r, row in enumerate(formulas.rows, 1):
        for c, text in enumerate(row, 1):
            if not _is_loss_candidate(text):
                continue
            at = Area(sheet, r, c, r, c)
            parts = _loss_parts(text)
            if parts is None:
                misfit = misfit or at
                continue
            ranges = []
            for ref in parts:
                try:
                    ranges.append(resolve(ref.text, sheet, book.names))
                except RefError as exc:
                    raise _fail(book, at, f"is the loss formula, but {exc}") from None
            x, y, counted = ranges
            if counted not in (x, y):
                raise _fail(book, at, f"divides by COUNT({counted}), which is neither of SUMXMY2's ranges "
                                      f"({x} and {y}); it should count the ratings")
            ratings, predictions = (x, y) if counted == x else (y, x)
            if (ratings.rows, ratings.cols) != (predictions.rows, predictions.cols):
                raise _fail(book, at, f"compares ratings {ratings} ({ratings.shape}) with predictions "
                                      f"{predictions} ({predictions.shape}); they should have the same shape")
            if ratings == predictions:
                raise _fail(book, at, f"compares {ratings} with itself; it should compare ratings with predictions")
            return at, ratings, predictions
    if misfit is not None:
        found = formulas.get(misfit.top, misfit.left)
        shown = found if len(found) <= 120 else found[:119] + "…"  # a crafted formula may be 8,192 characters
        raise _fail(book, misfit, f"uses SUMXMY2 but is not the loss formula {LOSS}; found {shown}")
    raise XlsxError(f"{book.name}: sheet {sheet!r} has no loss cell (a formula {LOSS})")


def _loss_parts(text: str) -> tuple[Ref, Ref, Ref] | None:
    """The three references of SQRT(SUMXMY2(x, y)/COUNT(z)), or None when the formula is something else."""
    ratio = sqrt_of(text)
    if not (isinstance(ratio, Binary) and ratio.op == "/"):
        return None
    sums, count = ratio.left, ratio.right
    if not (_call(sums, "SUMXMY2", 2) and _call(count, "COUNT", 1)):
        return None
    refs = (*sums.args, count.args[0])
    return refs if all(isinstance(r, Ref) for r in refs) else None


def _call(node, name: str, arity: int) -> bool:
    return isinstance(node, Call) and node.name == name and len(node.args) == arity


def _prediction(book: Book, at: Area, rating: Area) -> Prediction:
    """What one prediction cell names, checked: its rating, one row of user factors, one column of movie factors."""
    text = book.formulas(at.sheet).get(at.top, at.left)
    if text is None:
        raise _fail(book, at, f"holds no formula; each prediction should be {PREDICTION}")
    try:
        tree = parse(text)
    except FormulaError:
        tree = None
    parts = _prediction_parts(tree) if tree is not None else None
    if parts is None:
        raise _fail(book, at, f"is {text}; a prediction should be the dot product {PREDICTION}")
    tested, user, movie, extra = parts
    try:
        tested, user, movie = (resolve(r.text, at.sheet, book.names) if r is not None else None
                               for r in (tested, user, movie))
        extra = [resolve(r.text, at.sheet, book.names) for r in extra]
    except RefError as exc:
        raise _fail(book, at, f"is a prediction, but {exc}") from None
    if tested is not None and tested != rating:
        raise _fail(book, at, f"tests {tested} for a blank, but its rating is {rating}")
    if user.rows != 1:
        raise _fail(book, at, f"multiplies {user} ({user.shape}); MMULT's first range should be one row of "
                              "user factors")
    if movie.cols != 1:
        raise _fail(book, at, f"multiplies by {movie} ({movie.shape}); MMULT's second range should be one column "
                              "of movie factors")
    if user.cols != movie.rows:
        raise _fail(book, at, f"multiplies {user.cols} user factors ({user}) by {movie.rows} movie factors ({movie}); "
                              "both blocks should have the same number of factors k")
    found = Prediction(at, user, movie)
    for term in extra:
        kind = _bias_kind(term, at, user, movie)
        if kind is None:
            raise _fail(book, at, f"adds {term}, which is not one cell in the movie's column ({_column(movie)}) "
                                  f"or in the user's row ({user.top}); a bias should be")
        if getattr(found, kind) is not None:
            raise _fail(book, at, f"adds two {kind.replace('_', ' ')}es ({getattr(found, kind)} and {term})")
        setattr(found, kind, term)
    return found


def _prediction_parts(tree):
    """(tested rating or None, user row, movie column, added terms) as references, or None for another formula.

    The terms may sit inside the IF's rated branch, after the IF, or both: a sum of refs around one MMULT."""
    outer = _terms(tree)
    guards = [i for i, t in enumerate(outer) if isinstance(t, Call) and t.name == "IF"]
    tested, terms = None, outer
    if guards:
        if len(guards) != 1:
            return None
        guarded = _unguard(outer[guards[0]])
        if guarded is None:
            return None
        tested, inner = guarded
        terms = _terms(inner) + [t for i, t in enumerate(outer) if i != guards[0]]
    products = [t for t in terms if _call(t, "MMULT", 2) and all(isinstance(a, Ref) for a in t.args)]
    rest = [t for t in terms if t not in products]
    if len(products) != 1 or len(rest) > 2 or not all(isinstance(t, Ref) for t in rest):
        return None
    return tested, products[0].args[0], products[0].args[1], rest


def _unguard(node: Call):
    """(tested rating, the rated branch) of IF(rating="", blank, x) or IF(rating<>"", x, blank); None otherwise."""
    if len(node.args) != 3:
        return None
    test, then, otherwise = node.args
    if then in BLANK and (tested := _blank_test(test)) is not None:
        return tested, otherwise
    if otherwise in BLANK and (tested := _rated_test(test)) is not None:
        return tested, then
    return None


def _blank_test(node) -> Ref | None:
    """The cell that rating="" (or ""=rating, or ISBLANK(rating)) tests."""
    if isinstance(node, Binary) and node.op == "=":
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(a, Ref) and b == Text(""):
                return a
    if _call(node, "ISBLANK", 1) and isinstance(node.args[0], Ref):
        return node.args[0]
    return None


def _rated_test(node) -> Ref | None:
    """The cell that rating<>"" (or NOT(ISBLANK(rating)), NOT(rating="")) tests."""
    if isinstance(node, Binary) and node.op == "<>":
        return _blank_test(Binary("=", node.left, node.right))
    if _call(node, "NOT", 1):
        return _blank_test(node.args[0])
    return None


def _terms(node) -> list:
    """The summands of a + b + c."""
    if isinstance(node, Binary) and node.op == "+":
        return _terms(node.left) + _terms(node.right)
    return [node]


def _bias_kind(term: Area, at: Area, user: Area, movie: Area) -> str | None:
    """'movie_bias' for one cell in the movie's column, 'user_bias' for one in the user's row, else None."""
    if (term.rows, term.cols) != (1, 1):
        return None
    in_column = (term.sheet, term.left) in ((movie.sheet, movie.left), (at.sheet, at.left))
    in_row = (term.sheet, term.top) in ((user.sheet, user.top), (at.sheet, at.top))
    if in_column == in_row:
        return None
    return "movie_bias" if in_column else "user_bias"


def _column(area: Area) -> str:
    return a1(1, area.left)[:-1]


def _same(book: Book, line: list[Prediction], kind: str) -> Area:
    """The one block (or bias) every prediction of a user's row, or a movie's column, names."""
    expected = getattr(line[0], kind)
    for p in line:
        if getattr(p, kind) != expected:
            what = {"user": "user factors", "movie": "movie factors"}.get(kind, kind.replace("_", " "))
            raise _fail(book, p.at, f"uses {what} {getattr(p, kind)}, but {line[0].at} uses {expected} "
                                    f"for the same {kind.split('_')[0]}")
    return expected
