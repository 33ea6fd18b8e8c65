"""The course's long sheets (movielens_1hot, movielens_emb) import by their formulas, in the spellings a workbook uses.

Each workbook has a dot-product sheet laid out as the lesson's and long sheets beside it, one row per rating in a
shuffled order: one-hot rows times the dot-product sheet's factor columns (MMULT per cell) and rows (SUMPRODUCT);
one {=MMULT(one-hot, matrix)} array per side over factor matrices copied onto the long sheet, with typed indices;
lookups by OFFSET and by INDEX in either orientation. LibreOffice calculates them; the import must give the
dot-product sheet's ratings, factors and loss.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter as col
from openpyxl.worksheet.formula import ArrayFormula

from collabsheet.engine.xlsx import XlsxError
from collabsheet.engine.xlsx.lesson import import_lesson, list_collab_sheets
from test_xlsx_calc import recalculate, soffice
from test_xlsx_lesson import Case, Drawn, Where, draw, write

TOLERANCE = 1e-9
TOP = 5  # the first rating row of a long sheet


def rated(d: Drawn, seed: int) -> list[tuple[int, int]]:
    """The rated (user, movie) positions, shuffled: the import may not lean on the order."""
    pairs = [(i, j) for i in range(d.ratings.shape[0]) for j in range(d.ratings.shape[1])
             if not np.isnan(d.ratings[i, j])]
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[p] for p in order]


def block(top: int, left: int, rows: int, cols: int, sheet: str = "", anchored: bool = True) -> str:
    s = "$" if anchored else ""
    return f"{sheet}{s}{col(left)}{s}{top}:{s}{col(left + cols - 1)}{s}{top + rows - 1}"


def long_sheet(wb, title: str, d: Drawn, w: Where, style: str, seed: int, spoil: str = "") -> None:
    """A long sheet over the dot-product sheet `w` in one of the workbook spellings (see the module's docstring)."""
    ws = wb.create_sheet(title)
    n, m, k = d.user_factors.shape[0], d.item_factors.shape[1], d.user_factors.shape[1]
    dp = f"'{w.sheet}'!"
    (rt, rl), (ut, ul), (mt, ml) = w.ratings, w.users, w.movies
    user_ids, movie_ids = block(rt, rl - 1, n, 1, dp), block(rt - 1, rl, 1, m, dp)
    ws.append(["userId", "movieId", "rating", "user idx", "movie idx"])
    hot = style.startswith("1hot")
    by_id = style == "1hot-ids"  # the one-hot rows compare the ids with the ids over their columns
    uh, mh = 6, 6 + n  # first user / movie one-hot column
    ua = (6 + n + m) if hot else 6  # first user / movie activation column
    ma, pred = ua + k, ua + 2 * k
    err = pred + 1
    own_u, own_m = err + 2, err + 3 + k  # where the copied matrices sit (the array style), rows TOP …
    if hot:
        for i in range(n):
            ws.cell(TOP - 1, uh + i).value = d.user_ids[i] if by_id else i + 1
        for j in range(m):
            ws.cell(TOP - 1, mh + j).value = d.movie_ids[j] if by_id else j + 1
    if style == "vlookup":  # tables of their own: an id, then its factors
        for i in range(n):
            ws.cell(TOP + i, own_u).value = d.user_ids[i]
            for f in range(k):
                ws.cell(TOP + i, own_u + 1 + f).value = float(d.user_factors[i, f])
        for j in range(m):
            ws.cell(TOP + j, own_m).value = d.movie_ids[j]
            for f in range(k):
                ws.cell(TOP + j, own_m + 1 + f).value = float(d.item_factors[f, j])
    if style == "1hot-array":
        for i in range(n):
            for f in range(k):
                ws.cell(TOP + i, own_u + f).value = float(d.user_factors[i, f])
        for j in range(m):
            for f in range(k):
                ws.cell(TOP + j, own_m + f).value = float(d.item_factors[f, j])
    pairs = rated(d, seed)
    if spoil == "twice":
        pairs[3] = pairs[0]
    for row, (i, j) in enumerate(pairs, TOP):
        ws.cell(row, 1).value = d.user_ids[i]
        ws.cell(row, 2).value = d.movie_ids[j]
        ws.cell(row, 3).value = float(d.ratings[i, j]) if spoil != "twice" or row != TOP + 3 else 4.0
        if style == "1hot-array":  # indices typed in: no MATCH, so the ids are numbered 1 … n
            ws.cell(row, 4).value, ws.cell(row, 5).value = i + 1, j + 1
        else:
            ws.cell(row, 4).value = f"=MATCH($A{row},{user_ids},0)"
            ws.cell(row, 5).value = f"=MATCH($B{row},{movie_ids},0)"
        if hot:
            for c in range(uh, mh + m):
                index = ("$A" if c < mh else "$B") if by_id else ("$D" if c < mh else "$E")
                ws.cell(row, c).value = f"=IF({index}{row}={col(c)}${TOP - 1},1,0)"
            if spoil == "two-ones" and row == TOP + 2:
                ws.cell(row, uh).value, ws.cell(row, uh + 1).value = 1, 1
            users_hot, movies_hot = block(row, uh, 1, n), block(row, mh, 1, m)
        for f in range(k):
            u, v = ws.cell(row, ua + f), ws.cell(row, ma + f)
            if style in ("1hot", "1hot-ids"):
                u.value = f"=MMULT({users_hot},{block(ut, ul + f, n, 1, dp)})"
                v.value = f"=SUMPRODUCT({movies_hot},{block(mt + f, ml, 1, m, dp)})"
            elif style == "offset":
                u.value = f"=OFFSET({dp}${col(ul - 1)}${ut - 1},$D{row},{f + 1})"
                v.value = f"=OFFSET({dp}${col(ml - 1)}${mt + f},0,$E{row})"
            elif style == "index":
                u.value = f"=INDEX({block(ut, ul, n, k, dp)},$D{row},{f + 1})"
                v.value = f"=INDEX({block(mt, ml, k, m, dp)},{f + 1},$E{row})"
            elif style == "vlookup":
                u.value = f"=VLOOKUP($A{row},{block(TOP, own_u, n, k + 1)},{f + 2},FALSE)"
                v.value = f"=VLOOKUP($B{row},{block(TOP, own_m, m, k + 1)},{f + 2},FALSE)"
        if style == "1hot-array":
            users, movies = block(TOP, own_u, n, k), block(TOP, own_m, m, k)
            first_u, first_m = ws.cell(row, ua).coordinate, ws.cell(row, ma).coordinate
            ws.cell(row, ua).value = ArrayFormula(f"{first_u}:{col(ua + k - 1)}{row}",
                                                  f"=MMULT({users_hot},{users})")
            ws.cell(row, ma).value = ArrayFormula(f"{first_m}:{col(ma + k - 1)}{row}",
                                                  f"=MMULT({movies_hot},{movies})")
        acts = f"{col(ua)}{row}:{col(ua + k - 1)}{row}", f"{col(ma)}{row}:{col(ma + k - 1)}{row}"
        ws.cell(row, pred).value = f"=SUMPRODUCT({acts[0]},{acts[1]})"
        if spoil == "not-squared":
            ws.cell(row, err).value = f"=$C{row}-{col(pred)}{row}"
        elif style == "1hot-array":
            ws.cell(row, err).value = f"=POWER({col(pred)}{row}-$C{row},2)"
        else:
            ws.cell(row, err).value = f"=($C{row}-{col(pred)}{row})^2"
    errors = block(TOP, err, len(pairs), 1)
    ws.cell(2, 1).value = "RMSE"
    ws.cell(2, 2).value = (f"=SQRT(SUM({errors})/COUNT({errors}))" if style == "1hot-array"
                           else f"=SQRT(AVERAGE({errors}))")


STYLES = {"movielens_1hot": "1hot", "movielens_emb": "offset", "emb_index": "index", "1hot_array": "1hot-array",
          "1hot_ids": "1hot-ids", "emb_vlookup": "vlookup"}
SPOILED = {"twice": "rates", "two-ones": "one-hot row", "not-squared": "should be an error"}


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, tuple[Drawn, Path]]:
    """'course' -> a workbook with a dot-product sheet and every style of long sheet; one per spoiled sheet too."""
    soffice()
    src, out = tmp_path_factory.mktemp("built"), tmp_path_factory.mktemp("calculated")
    made = {}
    for name, spoil in [("course", ""), *((s, s) for s in SPOILED)]:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        d = draw(Case(seed=11, n=9, m=12, k=3) if spoil else Case(seed=10))
        where = write(wb, "dotprod", Case(), d) if not spoil else write(wb, "dotprod", Case(n=9, m=12, k=3), d)
        for title, style in STYLES.items():
            if spoil and style not in ("1hot", "offset"):
                continue
            long_sheet(wb, title, d, where, style, seed=len(title), spoil=spoil if style == "1hot" else "")
        path = src / f"{name}.xlsx"
        wb.save(path)
        made[name] = (d, path)
    d = draw(Case(seed=12))
    where = write(openpyxl.Workbook(), "dotprod", Case(), d)  # positions only: the long sheet holds its own matrices
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    long_sheet(wb, "1hot_array", d, where, "1hot-array", seed=3)
    wb.save(src / "own.xlsx")
    made["own"] = (d, src / "own.xlsx")
    recalculate([path for _, path in made.values()], out, tmp_path_factory.mktemp("profile"))
    return {name: (d, out / path.name) for name, (d, path) in made.items()}


def test_the_window_offers_every_long_sheet_beside_the_dot_product_sheet(books):
    _, path = books["course"]
    assert list_collab_sheets(path) == ["dotprod", *STYLES]


@pytest.mark.numeric
@pytest.mark.parametrize("sheet", list(STYLES))
def test_a_long_sheet_imports_as_the_dot_product_sheet_it_looks_up(books, sheet):
    d, path = books["course"]
    dotprod = import_lesson(path, "dotprod")
    book = import_lesson(path, sheet)
    assert book.notes == () and book.workbook_loss is not None
    assert abs(book.engine_loss - book.workbook_loss) <= TOLERANCE
    assert abs(book.engine_loss - dotprod.workbook_loss) <= TOLERANCE  # the lesson's point: the same loss
    np.testing.assert_array_equal(np.isnan(book.grid.ratings), np.isnan(d.ratings))
    np.testing.assert_array_equal(np.nan_to_num(book.grid.ratings), np.nan_to_num(d.ratings))
    np.testing.assert_allclose(book.params["user_factors"], d.user_factors, rtol=1e-14, atol=0)
    np.testing.assert_allclose(book.params["item_factors"], d.item_factors, rtol=1e-14, atol=0)
    if STYLES[sheet] == "1hot-array":  # typed indices: the ids are the indices
        assert book.grid.user_ids == tuple(range(1, 16)) and book.grid.item_ids == tuple(range(1, 16))
    else:
        assert book.grid.user_ids == d.user_ids and book.grid.item_ids == d.movie_ids
    assert book.config.k == 5 and not book.config.biases
    sheet_ = book.to_sheet("cpu")
    assert abs(sheet_.rmse() - book.workbook_loss) <= TOLERANCE
    assert sheet_.step(2).steps == 2


def test_a_workbook_of_one_long_sheet_with_its_own_matrices_imports_without_naming_it(books):
    d, path = books["own"]
    assert list_collab_sheets(path) == ["1hot_array"]
    book = import_lesson(path)
    assert abs(book.engine_loss - book.workbook_loss) <= TOLERANCE
    np.testing.assert_allclose(book.params["user_factors"], d.user_factors, rtol=1e-14, atol=0)


def test_a_long_sheet_never_calculated_says_to_calculate_it(books):
    _, path = books["own"]
    wb = openpyxl.load_workbook(path)  # openpyxl saves formulas without the values a spreadsheet calculated
    uncalculated = path.parent / "uncalculated.xlsx"
    wb.save(uncalculated)
    with pytest.raises(XlsxError, match="never calculated; open the workbook in a spreadsheet and save it"):
        import_lesson(uncalculated)


@pytest.mark.parametrize("spoil", list(SPOILED))
def test_a_long_sheet_that_does_not_fit_says_which_cell(books, spoil):
    _, path = books[spoil]
    with pytest.raises(XlsxError) as caught:
        import_lesson(path, "movielens_1hot")
    message = str(caught.value)
    assert "\n" not in message and path.name in message and "movielens_1hot!" in message
    assert SPOILED[spoil] in message
    book = import_lesson(path, "movielens_emb")  # the workbook's other long sheet is unharmed
    assert abs(book.engine_loss - book.workbook_loss) <= TOLERANCE


def test_a_long_sheet_of_too_many_ratings_is_one_line_before_any_row_is_read(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "movielens_1hot"
    ws["B2"] = "=SQRT(AVERAGE(Z5:Z1000000))"
    path = tmp_path / "huge.xlsx"
    wb.save(path)
    with pytest.raises(XlsxError) as caught:
        import_lesson(path, "movielens_1hot")
    assert str(caught.value) == ("huge.xlsx: movielens_1hot!B2 averages 999,996 errors; a long sheet is read up to "
                                 "20,000 ratings (the lesson's has a few hundred)")
