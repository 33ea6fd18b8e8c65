"""Import of the course's own workbook: a collab sheet laid out as the lesson's, read into the engine's sheet."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.models.factorization import cells
from collabsheet.engine.xlsx.collab.read import ImportedSheet
from collabsheet.engine.xlsx.errors import XlsxError, a1
from collabsheet.engine.xlsx.lesson.blocks import LOSS, Blocks, find_blocks, has_loss_formula
from collabsheet.engine.xlsx.lesson.book import Book
from collabsheet.engine.xlsx.lesson.long import LONG_LOSS, has_long_loss, read_long
from collabsheet.engine.xlsx.lesson.refs import Area
from collabsheet.engine.xlsx.package import check_package
from collabsheet.engine.xlsx.values import Values, show

TOLERANCE = 1e-9  # how far the workbook's cached loss may be from the engine's before the user hears of it


def import_lesson(path: str | Path, sheet: str | None = None) -> ImportedSheet:
    """The lesson's collab sheet `sheet` (or the first sheet laid out as one) as the engine's sheet, at step 0."""
    path = Path(path)
    check_package(path, macros=True, pivot_tables=True)  # openpyxl never runs macros; pivot tables are not read
    with Book(path) as book:
        if sheet is not None:
            found = book.names.sheet(sheet)
            if found is None:
                listed = ", ".join(repr(s) for s in book.sheets)
                raise XlsxError(f"{path.name}: has no sheet {sheet!r} (its sheets: {listed})")
            return _import(book, found)
        first_misfit = None
        for name in book.sheets:
            try:
                if _has_loss(book, name):
                    return _import(book, name)
            except XlsxError as exc:
                first_misfit = first_misfit or exc
        if first_misfit is not None:
            raise first_misfit
        raise XlsxError(f"{path.name}: no sheet has a loss cell (a formula {LOSS}, or {LONG_LOSS} on a "
                        "sheet with a row per rating); is it laid out like the lesson's collab sheets?")


def list_collab_sheets(path: str | Path) -> list[str]:
    """The workbook's sheets that import as lesson-style collab sheets, in the workbook's order."""
    path = Path(path)
    check_package(path, macros=True, pivot_tables=True)
    fits = []
    with Book(path) as book:
        for name in book.sheets:
            try:
                if _has_loss(book, name):
                    _import(book, name)
                    fits.append(name)
            except XlsxError:
                continue
    return fits


def _has_loss(book: Book, sheet: str) -> bool:
    """Whether the sheet has a loss cell: the crosstab sheets' SUMXMY2 or the long sheets' SQRT(AVERAGE(…))."""
    return has_loss_formula(book, sheet) or has_long_loss(book, sheet)


def _import(book: Book, sheet: str) -> ImportedSheet:
    """One sheet's blocks, read from the values the spreadsheet last calculated."""
    if not has_loss_formula(book, sheet) and has_long_loss(book, sheet):
        return _import_long(book, sheet)
    blocks = find_blocks(book, sheet)
    crosstab = _crosstab(book, blocks, sheet)
    params, notes = _params(book, blocks)
    try:
        config = SheetConfig(k=blocks.k, biases="user_bias" in params)
    except ValueError as exc:
        raise XlsxError(f"{book.name}: sheet {sheet!r}: {exc}") from exc
    engine = _rmse(crosstab.ratings, params)
    workbook, loss_notes = _workbook_loss(book, blocks.loss, engine)
    return ImportedSheet(
        path=str(book.path), grid=crosstab, config=config, settings=OptimizerSettings(), params=params,
        optimizer_state={}, step=0, workbook_loss=workbook, engine_loss=engine, exported="", device="",
        notes=tuple(notes + loss_notes),
    )


def _import_long(book: Book, sheet: str) -> ImportedSheet:
    """A long sheet (one row per rating) as the engine's sheet: its ratings crosstabbed, the factors it looks up."""
    long = read_long(book, sheet)
    params = {"user_factors": long.user_factors, "item_factors": long.item_factors}
    try:
        config = SheetConfig(k=long.user_factors.shape[1], biases=False)
    except ValueError as exc:
        raise XlsxError(f"{book.name}: sheet {sheet!r}: {exc}") from exc
    engine = _rmse(long.grid.ratings, params)
    workbook, loss_notes = _workbook_loss(book, long.loss, engine)
    return ImportedSheet(
        path=str(book.path), grid=long.grid, config=config, settings=OptimizerSettings(), params=params,
        optimizer_state={}, step=0, workbook_loss=workbook, engine_loss=engine, exported="", device="",
        notes=tuple(list(long.notes) + loss_notes),
    )


def _crosstab(book: Book, blocks: Blocks, sheet: str) -> Crosstab:
    """Ratings with user ids in the column to their left and movie ids in the row above."""
    area = blocks.ratings
    values = book.values(area.sheet)
    ratings = np.array([[values.number(r, c, blank_ok=True) for c in range(area.left, area.right + 1)]
                        for r in range(area.top, area.bottom + 1)]).reshape(area.rows, area.cols)
    if np.isnan(ratings).all():
        raise XlsxError(f"{book.name}: the ratings {area} are all blank; the sheet needs at least one rating")
    if area.left == 1 or area.top == 1:
        side = "column left of" if area.left == 1 else "row above"
        raise XlsxError(f"{book.name}: the ratings {area} have no {side} them for the "
                        f"{'user' if area.left == 1 else 'movie'} ids")
    users = _ids(values, [(r, area.left - 1) for r in range(area.top, area.bottom + 1)], "user")
    movies = _ids(values, [(area.top - 1, c) for c in range(area.left, area.right + 1)], "movie")
    return Crosstab(ratings, users, movies, tuple(str(m) for m in movies), f"{book.name}, sheet {sheet}")


def _ids(values: Values, cells: list[tuple[int, int]], what: str) -> tuple:
    """Numeric ids (whole numbers as int), each once."""
    ids, seen = [], {}
    for row, col in cells:
        value = values.get(row, col)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise values.fail(row, col, f"should be a {what} id (a number), found {show(value)}")
        value = int(value) if float(value).is_integer() else float(value)
        if value in seen:
            raise values.fail(row, col, f"repeats {what} id {value} of {values.name}!{seen[value]}")
        seen[value] = a1(row, col)
        ids.append(value)
    return tuple(ids)


def _numbers(book: Book, areas: tuple[Area, ...]) -> np.ndarray:
    """The cached numbers of each area's cells, one row per area."""
    return np.array([[book.values(a.sheet).number(r, c) for r, c in a.cells()] for a in areas], dtype=np.float64)


def _params(book: Book, blocks: Blocks) -> tuple[dict[str, np.ndarray], list[str]]:
    """Factors (and biases) in SheetModel.flatten's shapes; one bias without the other gets the other at 0."""
    n, m = blocks.ratings.rows, blocks.ratings.cols
    params = {"user_factors": _numbers(book, blocks.users).reshape(n, blocks.k),
              "item_factors": _numbers(book, blocks.movies).reshape(m, blocks.k).T.copy()}
    notes = []
    if blocks.user_bias is not None or blocks.movie_bias is not None:
        for name, area, size, what in (("user_bias", blocks.user_bias, n, "user"),
                                       ("item_bias", blocks.movie_bias, m, "movie")):
            if area is None:
                params[name] = np.zeros(size)
                notes.append(f"the predictions add no {what} bias; the engine adds one, starting at 0")
            else:
                params[name] = _numbers(book, area).reshape(size)
    return params, notes


def _rmse(ratings: np.ndarray, params: dict[str, np.ndarray]) -> float:
    """The engine's loss cell for these factors: RMSE over the rated cells."""
    raw = cells(params["user_factors"], params["item_factors"], params.get("user_bias"), params.get("item_bias"))
    rated = ~np.isnan(ratings)
    return math.sqrt(float(np.mean((raw[rated] - ratings[rated]) ** 2)))


def _workbook_loss(book: Book, loss: Area, engine: float) -> tuple[float | None, list[str]]:
    """The loss cell as the spreadsheet last calculated it, and what the user should hear about it."""
    value = book.values(loss.sheet).get(loss.top, loss.left)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            return None, [f"the workbook's loss cell {loss} was never calculated; open and save it in a spreadsheet "
                          "to compare it with the engine's"]
        return None, [f"the workbook's loss cell {loss} shows {show(value)}"]
    value = float(value)
    if not abs(value - engine) <= TOLERANCE:
        return value, [f"the workbook's loss cell {loss} shows {value:.10g} but its ratings and factors give "
                       f"{engine:.10g}; was it saved before it recalculated?"]
    return value, []
