"""Import of a workbook laid out as the course's collab_filter.xlsx collab sheets (dot product, and with biases).

The workbooks are built here to the lesson's described layout: ratings with user ids to their left and
movie ids above, factor blocks of =RAND()-style numbers, predictions =IF(rating="",0,MMULT(user row,
movie column)) (+ biases), and the loss cell =SQRT(SUMXMY2(ratings, predictions)/COUNT(ratings)).
LibreOffice recalculates them, so the cached loss a student's copy would carry is a real spreadsheet's.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.utils import get_column_letter as col
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from collabsheet.engine.xlsx import XlsxError
from collabsheet.engine.xlsx.lesson import import_lesson, list_collab_sheets
from collabsheet.engine.xlsx.lesson.book import Book
from collabsheet.engine.xlsx.lesson.formulas import Binary, Call, Num, Ref, Text, Unary, parse
from collabsheet.engine.xlsx.lesson.refs import Area, Names, RefError, resolve
from collabsheet.engine.xlsx.package import check_package
from test_xlsx_calc import recalculate, soffice

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Case:
    """One collab sheet to build."""

    n: int = 15
    m: int = 15
    k: int = 5
    biases: str = ""  # "", "movie+user" or "user+movie": the order the predictions add the biases in
    dollars: bool = True  # $-anchored references as the course's filled-down formulas have; else plain relative ones
    array: bool = False  # predictions entered as array formulas (Ctrl+Shift+Enter)
    apart: bool = False  # ratings on their own sheet, factor blocks away from the predictions, the loss by names
    seed: int = 0


@dataclass(frozen=True)
class Drawn:
    ratings: np.ndarray
    user_ids: tuple
    movie_ids: tuple
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray


@dataclass(frozen=True)
class Where:
    """Where the builder put each block (1-based), so tests can spoil one cell."""

    sheet: str
    ratings_sheet: str
    ratings: tuple[int, int]  # top, left
    users: tuple[int, int]  # the user factors' top, left
    movies: tuple[int, int]  # the movie factors' top, left
    predictions: tuple[int, int]
    loss: tuple[int, int]
    user_bias_col: int | None
    movie_bias_row: int | None


def draw(case: Case) -> Drawn:
    """Half-star ratings with blanks, distinct numeric ids, factors like =RAND()'s, biases around 0."""
    rng = np.random.default_rng(case.seed)
    ratings = rng.integers(1, 11, (case.n, case.m)) / 2.0
    ratings[rng.random((case.n, case.m)) < 0.3] = np.nan
    ratings[0, 0] = 4.0
    users = tuple(int(u) for u in rng.choice(np.arange(1, 700), case.n, replace=False))
    movies = tuple(int(m) for m in rng.choice(np.arange(1, 1700), case.m, replace=False))
    return Drawn(ratings, users, movies, rng.random((case.n, case.k)), rng.random((case.k, case.m)),
                 rng.random(case.n) - 0.5, rng.random(case.m) - 0.5)


def write(wb: openpyxl.Workbook, title: str, case: Case, d: Drawn) -> Where:
    """A collab sheet named `title` in wb, laid out as the lesson's (or with its blocks apart)."""
    ws = wb.create_sheet(title)
    n, m, k, b = case.n, case.m, case.k, bool(case.biases)
    if case.apart:
        data = wb.create_sheet(f"{title} data")
        where = Where(title, data.title, ratings=(6, 4), users=(30, 2), movies=(2, 20), predictions=(10, 8),
                      loss=(4, 2), user_bias_col=2 + k if b else None, movie_bias_row=2 + k if b else None)
    else:
        data = ws
        top = 3 + k + b
        left = m + 3 + k + b  # the predictions' first column, under the movie factors, right of the user factors
        where = Where(title, title, ratings=(3, 2), users=(top, m + 3), movies=(3, left), predictions=(top, left),
                      loss=(1, left), user_bias_col=m + 3 + k if b else None, movie_bias_row=3 + k if b else None)
        ws.cell(1, 1).value = "=a title, not a formula"
        ws.cell(1, 1).data_type = "s"
    (rt, rl), (ut, ul), (mt, ml), (pt, pl) = where.ratings, where.users, where.movies, where.predictions
    for j in range(m):
        data.cell(rt - 1, rl + j).value = d.movie_ids[j]
    for i in range(n):
        data.cell(rt + i, rl - 1).value = d.user_ids[i]
        for j in range(m):
            if not np.isnan(d.ratings[i, j]):
                data.cell(rt + i, rl + j).value = float(d.ratings[i, j])
    for i in range(n):
        for f in range(k):
            ws.cell(ut + i, ul + f).value = float(d.user_factors[i, f])
        if b:
            ws.cell(ut + i, where.user_bias_col).value = float(d.user_bias[i])
    for j in range(m):
        for f in range(k):
            ws.cell(mt + f, ml + j).value = float(d.item_factors[f, j])
        if b:
            ws.cell(where.movie_bias_row, ml + j).value = float(d.item_bias[j])
    s = "$" if case.dollars else ""
    qualify = f"'{data.title}'!" if case.apart else ""
    for i in range(n):
        for j in range(m):
            rating = f"{qualify}{col(rl + j)}{rt + i}"
            user = f"{s}{col(ul)}{ut + i}:{s}{col(ul + k - 1)}{ut + i}"
            movie = f"{col(ml + j)}{s}{mt}:{col(ml + j)}{s}{mt + k - 1}"
            terms = {"movie": f"+{col(ml + j)}{s}{where.movie_bias_row}",
                     "user": f"+{s}{col(where.user_bias_col or 1)}{ut + i}"}
            extra = "".join(terms[t] for t in case.biases.split("+")) if b else ""
            text = f'=IF({rating}="",0,MMULT({user},{movie}){extra})'
            cell = ws.cell(pt + i, pl + j)
            cell.value = ArrayFormula(cell.coordinate, text) if case.array else text
    ratings = f"{s}{col(rl)}{s}{rt}:{s}{col(rl + m - 1)}{s}{rt + n - 1}"
    predictions = f"{s}{col(pl)}{s}{pt}:{s}{col(pl + m - 1)}{s}{pt + n - 1}"
    if case.apart:
        wb.defined_names[f"Ratings_{title}"] = DefinedName(f"Ratings_{title}", attr_text=f"'{data.title}'!{ratings}")
        wb.defined_names[f"preds_{title}"] = DefinedName(f"preds_{title}", attr_text=f"'{title}'!{predictions}")
        ratings, predictions = f"Ratings_{title}", f"preds_{title}"
        count = ratings.lower()  # names are case-insensitive
    else:
        count = ratings
    ws.cell(*where.loss).value = f"=SQRT(SUMXMY2({ratings},{predictions})/COUNT({count}))"
    ws.cell(where.loss[0], where.loss[1] - 1).value = "RMSE"
    return where


def build(path: Path, sheets: dict[str, Case], extra=None) -> dict[str, tuple[Drawn, Where]]:
    """A workbook with one collab sheet per entry; extra(wb) may add or spoil cells before it is saved."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    out = {}
    for title, case in sheets.items():
        d = draw(case)
        out[title] = (d, write(wb, title, case, d))
    if extra:
        extra(wb)
    wb.save(path)
    return out


CASES = {
    "dotprod": Case(),
    "relative": Case(dollars=False, seed=1),
    "movie+user": Case(biases="movie+user", seed=2),
    "user+movie": Case(biases="user+movie", dollars=False, seed=3),
    "apart": Case(apart=True, biases="user+movie", n=9, m=12, k=3, seed=4),
    "array": Case(array=True, seed=5),
    "k1": Case(k=1, n=6, m=7, seed=6),
}


def raw_and_linear(wb: openpyxl.Workbook) -> None:
    """The course workbook's other kinds of sheet: the ratings as a table, a SUMXMY2 loss that is no collab sheet."""
    raw = wb.create_sheet("ratings", 0)
    raw.append(["userId", "movieId", "rating"])
    rng = np.random.default_rng(9)
    for _ in range(200):
        raw.append([int(rng.integers(1, 50)), int(rng.integers(1, 90)), float(rng.integers(1, 11)) / 2])
    lin = wb.create_sheet("linear", 1)
    lin.append(["x", "y", "a*x+b"])
    for r in range(2, 12):
        lin.append([r, 2 * r + 1, f"=$E$1*A{r}+$E$2"])
    lin["E1"], lin["E2"] = 1.5, 0.5
    lin["E4"] = "=SQRT(SUMXMY2(B2:B11,C2:C11)/COUNT(B2:B11))"


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, tuple]:
    """name -> (case, drawn, where, LibreOffice-recalculated path); one LibreOffice run for all."""
    soffice()
    src, out = tmp_path_factory.mktemp("built"), tmp_path_factory.mktemp("calculated")
    made = {}
    for name, case in CASES.items():
        path = src / f"{name.replace('+', '_')}.xlsx"
        (d, where), = build(path, {"dotprod" if not case.biases else "bias": case}).values()
        made[name] = (case, d, where, path)
    course = src / "course.xlsx"
    parts = build(course, {"dotprod": Case(seed=7), "bias": Case(biases="movie+user", seed=8)}, raw_and_linear)
    made["course"] = (None, parts, None, course)
    recalculate([path for *_, path in made.values()], out, tmp_path_factory.mktemp("profile"))
    return {name: (*rest, out / path.name) for name, (*rest, path) in made.items()}


def check_matches(book, d: Drawn, case: Case) -> None:
    """The import equals what was written, and the engine's loss equals the spreadsheet's cached loss."""
    np.testing.assert_array_equal(np.isnan(book.grid.ratings), np.isnan(d.ratings))
    np.testing.assert_array_equal(np.nan_to_num(book.grid.ratings), np.nan_to_num(d.ratings))
    assert book.grid.user_ids == d.user_ids and book.grid.item_ids == d.movie_ids
    assert book.config.k == case.k and book.config.biases == bool(case.biases) and not book.config.squash
    expected = {"user_factors": d.user_factors, "item_factors": d.item_factors}
    if case.biases:
        expected |= {"user_bias": d.user_bias, "item_bias": d.item_bias}
    assert set(book.params) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(book.params[name], value, rtol=1e-14, atol=0)  # Calc saves 15 digits
    assert book.step == 0 and book.optimizer_state == {}
    assert book.workbook_loss is not None and book.notes == ()
    assert abs(book.engine_loss - book.workbook_loss) <= TOLERANCE
    sheet = book.to_sheet("cpu")
    assert abs(sheet.rmse() - book.workbook_loss) <= TOLERANCE
    assert sheet.step(3).steps == 3  # a live sheet: it trains from the workbook's factors


@pytest.mark.parametrize("name", list(CASES))
def test_import_equals_the_workbook_and_its_cached_loss(books, name):
    case, d, where, path = books[name]
    book = import_lesson(path)
    check_matches(book, d, case)
    assert where.sheet in book.grid.name and path.name in book.grid.name


def test_the_recalculated_loss_is_the_rmse_of_the_rated_cells(books):
    """A check of the test itself: blanks predict 0 but SUMXMY2 skips them, as the engine's RMSE does."""
    case, d, where, path = books["movie+user"]
    cached = openpyxl.load_workbook(path, data_only=True)[where.sheet].cell(*where.loss).value
    raw = d.user_factors @ d.item_factors + d.user_bias[:, None] + d.item_bias[None, :]
    rated = ~np.isnan(d.ratings)
    assert cached == pytest.approx(np.sqrt(np.mean((raw - d.ratings)[rated] ** 2)), abs=TOLERANCE)


# ---------------------------------------------------------------- the course's whole workbook

PIVOT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PIVOT_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def add_pivot_table(src: Path, dst: Path, cache_id: str = "1") -> None:
    """Copy src with a pivot table on its first sheet whose cache records openpyxl's full reader cannot read."""
    definition = (f'<pivotCacheDefinition xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                  f'xmlns:r="{PIVOT_NS}" r:id="rId1" refreshedVersion="6" recordCount="2">'
                  '<cacheSource type="worksheet"><worksheetSource ref="A1:C201" sheet="ratings"/></cacheSource>'
                  '<cacheFields count="1"><cacheField name="userId" numFmtId="0"><sharedItems count="0"/>'
                  '</cacheField></cacheFields></pivotCacheDefinition>')
    records = ('<pivotCacheRecords xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1">'
               '<r><x v="first"/></r></pivotCacheRecords>')  # a shared-item index that is not a number
    table = ('<pivotTableDefinition xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'name="PivotTable1" cacheId="1" dataCaption="Values"><location ref="E1:F3" firstHeaderRow="1" '
             'firstDataRow="1" firstDataCol="1"/><pivotFields count="1"><pivotField showAll="0"/></pivotFields>'
             '</pivotTableDefinition>')

    def rels(*items: tuple[str, str, str]) -> str:
        body = "".join(f'<Relationship Id="{i}" Type="{PIVOT_NS}/{t}" Target="{target}"/>' for i, t, target in items)
        ns = "http://schemas.openxmlformats.org/package/2006/relationships"
        return f'<Relationships xmlns="{ns}">{body}</Relationships>'

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        assert "xl/worksheets/_rels/sheet1.xml.rels" not in zin.namelist()
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"</workbook>", f'<pivotCaches><pivotCache cacheId="{cache_id}" '
                                                    f'r:id="rIdPivot1"/></pivotCaches></workbook>'.encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdPivot1" Type="{PIVOT_NS}/'
                                    'pivotCacheDefinition" Target="pivotCache/pivotCacheDefinition1.xml"/>'
                                    '</Relationships>'.encode())
            elif info.filename == "[Content_Types].xml":
                overrides = "".join(f'<Override PartName="/xl/{part}.xml" ContentType="{PIVOT_TYPES}.{kind}+xml"/>'
                                    for part, kind in (("pivotCache/pivotCacheDefinition1", "pivotCacheDefinition"),
                                                       ("pivotCache/pivotCacheRecords1", "pivotCacheRecords"),
                                                       ("pivotTables/pivotTable1", "pivotTable")))
                data = data.replace(b"</Types>", f"{overrides}</Types>".encode())
            zout.writestr(info, data)
        zout.writestr("xl/pivotCache/pivotCacheDefinition1.xml", definition)
        zout.writestr("xl/pivotCache/_rels/pivotCacheDefinition1.xml.rels",
                      rels(("rId1", "pivotCacheRecords", "pivotCacheRecords1.xml")))
        zout.writestr("xl/pivotCache/pivotCacheRecords1.xml", records)
        zout.writestr("xl/pivotTables/pivotTable1.xml", table)
        zout.writestr("xl/pivotTables/_rels/pivotTable1.xml.rels",
                      rels(("rId1", "pivotCacheDefinition", "../pivotCache/pivotCacheDefinition1.xml")))
        zout.writestr("xl/worksheets/_rels/sheet1.xml.rels",
                      rels(("rIdT1", "pivotTable", "../pivotTables/pivotTable1.xml")))


@pytest.fixture(scope="module")
def course(books, tmp_path_factory) -> tuple[dict, Path]:
    """The whole workbook: a ratings table with a pivot table openpyxl chokes on, a linear fit, dotprod and bias."""
    _, parts, _, calculated = books["course"]
    path = tmp_path_factory.mktemp("course") / "collab_filter.xlsx"
    add_pivot_table(calculated, path)
    with pytest.raises(Exception, match="expected <class 'int'>"):
        openpyxl.load_workbook(path)  # really chokes
    return parts, path


def test_the_course_workbook_opens_with_its_pivot_table_and_other_sheets(course):
    parts, path = course
    with pytest.raises(XlsxError, match="contains pivot tables"):
        check_package(path)  # collabsheet's own workbooks still may not have them
    assert list_collab_sheets(path) == ["dotprod", "bias"]  # not the ratings table, not the linear fit
    with Book(path) as book:  # the ratings table is passed over without reading its cells
        assert [book.mentions(s, "sumxmy2") for s in book.sheets] == [False, True, True, True]
    first = import_lesson(path)  # the first sheet that fits
    check_matches(first, parts["dotprod"][0], Case(seed=7))
    bias = import_lesson(path, "BIAS")  # Excel's sheet names are case-insensitive
    check_matches(bias, parts["bias"][0], Case(biases="movie+user", seed=8))


def test_a_pivot_cache_even_the_read_only_reader_trips_on_is_set_aside(books, tmp_path):
    _, parts, _, calculated = books["course"]
    path = tmp_path / "tripping.xlsx"
    add_pivot_table(calculated, path, cache_id="first")
    with pytest.raises(Exception):
        openpyxl.load_workbook(path, read_only=True)  # really trips, even read-only
    check_matches(import_lesson(path, "bias"), parts["bias"][0], Case(biases="movie+user", seed=8))


def test_a_sheet_that_is_no_collab_sheet_says_why(course):
    _, path = course
    assert refused(path, "linear").startswith(f"{path.name}: linear!C2 is =$E$1*A2+$E$2; a prediction should be")
    assert refused(path, "ratings") == (f"{path.name}: sheet 'ratings' has no loss cell "
                                        "(a formula =SQRT(SUMXMY2(ratings, predictions)/COUNT(ratings)))")
    assert refused(path, "nope") == (f"{path.name}: has no sheet 'nope' "
                                     "(its sheets: 'ratings', 'linear', 'dotprod', 'bias')")


def to_shared_formulas(src: Path, dst: Path, sheet_xml: str, block: str) -> int:
    """Copy src with the block's formulas stored as Excel stores a filled range: one shared formula; returns cells."""
    top_left = block.split(":")[0]
    left, top, right, bottom = openpyxl.utils.range_boundaries(block)
    count = 0

    def share(match: re.Match) -> str:
        nonlocal count
        coordinate, attrs, text = match.groups()
        column, row = openpyxl.utils.cell.coordinate_from_string(coordinate)
        if not (top <= row <= bottom and left <= openpyxl.utils.column_index_from_string(column) <= right):
            return match.group(0)
        count += 1
        master = coordinate == top_left
        formula = f'<f t="shared" ref="{block}" si="0">{text}</f>' if master else '<f t="shared" si="0"/>'
        return f'<c r="{coordinate}"{attrs}>{formula}'

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == sheet_xml:
                data = re.sub(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f[^>]*>([^<]*)</f>', share, data.decode()).encode()
            zout.writestr(info, data)
    return count


def test_shared_formulas_as_excel_saves_a_filled_range(books, tmp_path):
    case, d, where, calculated = books["dotprod"]
    (pt, pl) = where.predictions
    block = f"{col(pl)}{pt}:{col(pl + case.m - 1)}{pt + case.n - 1}"
    path = tmp_path / "shared.xlsx"
    assert to_shared_formulas(calculated, path, "xl/worksheets/sheet1.xml", block) == case.n * case.m
    with zipfile.ZipFile(path) as zf:
        assert zf.read("xl/worksheets/sheet1.xml").count(b'<f t="shared" si="0"/>') == case.n * case.m - 1
    check_matches(import_lesson(path), d, case)


def edit_sheet_xml(src: Path, dst: Path, edits: list[tuple[str, str]]) -> None:
    """Copy src with regular-expression edits to its first sheet's XML, as a spreadsheet could have saved it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for pattern, replacement in edits:
                    text, count = re.subn(pattern, replacement, text)
                    assert count == 1, pattern
                data = text.encode()
            zout.writestr(info, data)


def test_a_stale_or_failed_loss_cell_is_reported(books, tmp_path):
    case, d, where, calculated = books["dotprod"]
    assert where.users == (8, 18) and where.loss == (1, 23)
    stale = tmp_path / "stale.xlsx"  # a factor changed, the workbook saved without recalculating
    edit_sheet_xml(calculated, stale, [(r'(<c r="R8"[^>]*>)<v>[^<]*</v>', r"\g<1><v>0.5</v>")])
    book = import_lesson(stale)
    assert book.params["user_factors"][0, 0] == 0.5
    assert abs(book.workbook_loss - book.engine_loss) > 1e-6
    assert abs(book.to_sheet("cpu").rmse() - book.engine_loss) < 1e-12
    assert book.notes == (f"the workbook's loss cell dotprod!W1 shows {book.workbook_loss:.10g} but its ratings and "
                          f"factors give {book.engine_loss:.10g}; was it saved before it recalculated?",)
    failed = tmp_path / "failed.xlsx"
    edit_sheet_xml(calculated, failed, [(r'<c r="W1"([^>]*) t="n"><f([^>]*)>([^<]*)</f><v>[^<]*</v>',
                                         r'<c r="W1"\1 t="e"><f\2>\3</f><v>#DIV/0!</v>')])
    book = import_lesson(failed)
    assert book.workbook_loss is None and book.notes == ("the workbook's loss cell dotprod!W1 shows '#DIV/0!'",)


def test_a_chart_sheet_is_passed_over(tmp_path):
    def chart(wb):
        bars = BarChart()
        bars.add_data(Reference(wb["dotprod"], min_col=2, min_row=3, max_col=4, max_row=5))
        wb.create_chartsheet("chart", 0).add_chart(bars)

    path = tmp_path / "chart.xlsx"
    build(path, {"dotprod": Case(n=3, m=3, k=2)}, chart)
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == ["chart", "dotprod"]
    assert list_collab_sheets(path) == ["dotprod"] and import_lesson(path).config.k == 2
    assert refused(path, "chart") == f"{path.name}: 'chart' is a chart sheet, not a worksheet"


# ---------------------------------------------------------------- spellings a spreadsheet allows

def spell(wb, pattern: str, replacement: str, sheet: str = "dotprod") -> None:
    """Rewrite every formula of the sheet with a regular expression."""
    for row in wb[sheet].iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.value = re.sub(pattern, replacement, cell.value)


CELL_OR_RANGE = r"(?<![A-Za-z!$])(\$?[A-Z]{1,3}\$?[0-9]+(:\$?[A-Z]{1,3}\$?[0-9]+)?)(?![\w(])"  # not SUMXMY2(
SPELLINGS = {
    "lower case and spaces": lambda wb: spell(wb, r"=SQRT\(SUMXMY2\((.*?),(.*?)\)/COUNT\((.*?)\)\)",
                                              lambda m: f"=sqrt( sumxmy2( {m[1].lower()} , {m[2].lower()} ) "
                                                        f"/ count( {m[3].lower()} ) )"),
    "brackets and ISBLANK": lambda wb: spell(wb, r'=IF\((\w+)="",0,(MMULT\(.*\))\)', r"=IF(ISBLANK(\1),0,((\2)))"),
    '"" first, "" for blanks': lambda wb: spell(wb, r'=IF\((\w+)="",0,', r'=IF(""=\1,"",'),
    'IF(rating<>"") and @': lambda wb: spell(wb, r'=IF\((\w+)="",0,(MMULT\(.*\))\)', r'=IF(\1<>"",_xlfn.SINGLE(\2),0)'),
    "NOT(ISBLANK())": lambda wb: spell(wb, r'=IF\((\w+)="",0,(MMULT\(.*\))\)', r'=IF(NOT(ISBLANK(\1)),\2,"")'),
    "no IF": lambda wb: spell(wb, r'=IF\(\w+="",0,(MMULT\(.*\))\)', r"=\1"),
    "own sheet named": lambda wb: spell(wb, CELL_OR_RANGE, r"dotprod!\1"),
    "names": lambda wb: (wb.defined_names.add(DefinedName("ratings", attr_text="dotprod!$B$3:$P$17")),
                         spell(wb, r"\$B\$3:\$P\$17", "Ratings")),
    "sheet-local name": lambda wb: (wb["dotprod"].defined_names.add(DefinedName("preds",
                                                                                 attr_text="dotprod!$W$8:$AK$22")),
                                    spell(wb, r"\$W\$8:\$AK\$22", "PREDS")),
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_formula_spellings_a_spreadsheet_allows(tmp_path, name):
    """Without a spreadsheet run: the blocks are found the same way, the factors read, and the loss left unknown."""
    path = tmp_path / "spelled.xlsx"
    d, where = build(path, {"dotprod": Case()}, SPELLINGS[name])["dotprod"]
    assert where.predictions == (8, 23)  # the names above point at these cells
    book = import_lesson(path)
    np.testing.assert_allclose(book.params["user_factors"], d.user_factors, rtol=1e-15, atol=0)  # as openpyxl wrote
    np.testing.assert_allclose(book.params["item_factors"], d.item_factors, rtol=1e-15, atol=0)
    assert book.grid.user_ids == d.user_ids and book.grid.item_ids == d.movie_ids
    assert book.workbook_loss is None and "was never calculated" in book.notes[0]
    rated = ~np.isnan(d.ratings)
    errors = (d.user_factors @ d.item_factors - d.ratings)[rated]
    assert book.engine_loss == pytest.approx(np.sqrt(np.mean(errors ** 2)))


def test_one_bias_only_gets_the_other_at_zero(tmp_path):
    path = tmp_path / "one.xlsx"
    d, where = build(path, {"bias": Case(biases="movie+user")},
                     lambda wb: spell(wb, r"\+\$[A-Z]+[0-9]+\)$", ")", "bias"))["bias"]
    book = import_lesson(path)
    assert book.config.biases and not book.params["user_bias"].any()
    np.testing.assert_allclose(book.params["item_bias"], d.item_bias, rtol=1e-15, atol=0)
    assert book.notes[0] == "the predictions add no user bias; the engine adds one, starting at 0"


# ---------------------------------------------------------------- workbooks that do not fit

def refused(path: Path, sheet: str | None = None) -> str:
    """Import must fail with XlsxError: one line, naming the file."""
    with pytest.raises(XlsxError) as info:
        import_lesson(path, sheet)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path.name}: "), message
    return message


def cell(ws, row: int, column: int, value) -> None:
    ws.cell(row, column).value = value


# Spoil the "dotprod" sheet of Case(): ratings B3:P17 with user ids in A3:A17 and movie ids in B2:P2, movie
# factors W3:AK7, user factors R8:V22, predictions W8:AK22 and the loss in W1; then the message expected.
MISFITS = {
    "no loss cell": (lambda ws: cell(ws, 1, 23, 0.5), "sheet 'dotprod' has no loss cell (a formula "
                                                      "=SQRT(SUMXMY2(ratings, predictions)/COUNT(ratings)))"),
    "another SUMXMY2": (lambda ws: cell(ws, 1, 23, "=SUMXMY2($B$3:$P$17,$W$8:$AK$22)"),
                        "dotprod!W1 uses SUMXMY2 but is not the loss formula"),
    "shapes differ": (lambda ws: cell(ws, 1, 23, "=SQRT(SUMXMY2($B$3:$P$17,$W$8:$AJ$22)/COUNT($B$3:$P$17))"),
                      "dotprod!W1 compares ratings dotprod!B3:P17 (15×15) with predictions dotprod!W8:AJ22 (15×14); "
                      "they should have the same shape"),
    "counts something else": (lambda ws: cell(ws, 1, 23, "=SQRT(SUMXMY2($B$3:$P$17,$W$8:$AK$22)/COUNT($B$3:$P$16))"),
                              "dotprod!W1 divides by COUNT(dotprod!B3:P16), which is neither of SUMXMY2's ranges"),
    "unknown name": (lambda ws: cell(ws, 1, 23, "=SQRT(SUMXMY2(ratings,$W$8:$AK$22)/COUNT(ratings))"),
                     "dotprod!W1 is the loss formula, but ratings is not a cell or a range"),
    "missing sheet": (lambda ws: cell(ws, 1, 23, "=SQRT(SUMXMY2(gone!B3:P17,$W$8:$AK$22)/COUNT(gone!B3:P17))"),
                      "dotprod!W1 is the loss formula, but gone!B3:P17 names a sheet this workbook does not have"),
    "another workbook": (lambda ws: cell(ws, 1, 23, "=SQRT(SUMXMY2([1]x!B3:P17,$W$8:$AK$22)/COUNT([1]x!B3:P17))"),
                         "dotprod!W1 is the loss formula, but [1]x!B3:P17 refers to another workbook"),
    "not a dot product": (lambda ws: cell(ws, 9, 24, '=IF(C4="",0,SUMPRODUCT($R9:$V9,X$3:X$7))'),
                          'dotprod!X9 is =IF(C4="",0,SUMPRODUCT($R9:$V9,X$3:X$7)); a prediction should be the '
                          'dot product =IF(rating="",0,MMULT(user factors, movie factors))'),
    "a product of two cells": (lambda ws: cell(ws, 9, 24, "=R9*X3"), "dotprod!X9 is =R9*X3; a prediction should"),
    "a number": (lambda ws: cell(ws, 9, 24, 3.5), "dotprod!X9 holds no formula; each prediction should be"),
    "column times row": (lambda ws: cell(ws, 9, 24, '=IF(C4="",0,MMULT(X$3:X$7,$R9:$V9))'),
                         "dotprod!X9 multiplies dotprod!X3:X7 (5×1); MMULT's first range should be one row of "
                         "user factors"),
    "k differs": (lambda ws: [cell(ws, 8 + i, 23 + j, f'=IF({col(2 + j)}{3 + i}="",0,MMULT($R{8 + i}:$V{8 + i},'
                                                      f'{col(23 + j)}$3:{col(23 + j)}$6))')
                              for i in range(15) for j in range(15)],
                  "dotprod!W8 multiplies 5 user factors (dotprod!R8:V8) by 4 movie factors (dotprod!W3:W6); both "
                  "blocks should have the same number of factors k"),
    "another user's factors": (lambda ws: cell(ws, 9, 24, '=IF(C4="",0,MMULT($R10:$V10,X$3:X$7))'),
                               "dotprod!X9 uses user factors dotprod!R10:V10, but dotprod!W9 uses dotprod!R9:V9 "
                               "for the same user"),
    "another movie's factors": (lambda ws: cell(ws, 9, 24, '=IF(C4="",0,MMULT($R9:$V9,Y$3:Y$7))'),
                                "dotprod!X9 uses movie factors dotprod!Y3:Y7, but dotprod!X8 uses dotprod!X3:X7 "
                                "for the same movie"),
    "tests another rating": (lambda ws: cell(ws, 9, 24, '=IF(C5="",0,MMULT($R9:$V9,X$3:X$7))'),
                             "dotprod!X9 tests dotprod!C5 for a blank, but its rating is dotprod!C4"),
    "a stray term": (lambda ws: cell(ws, 9, 24, '=IF(C4="",0,MMULT($R9:$V9,X$3:X$7)+$A$1)'),
                     "dotprod!X9 adds dotprod!A1, which is not one cell in the movie's column (X) or in the user's "
                     "row (9); a bias should be"),
    "a bias on one cell only": (lambda ws: cell(ws, 9, 24, '=IF(C4="",0,MMULT($R9:$V9,X$3:X$7)+X$2)'),
                                "dotprod!X9 has a movie bias, unlike dotprod!W8"),
    "a text factor": (lambda ws: cell(ws, 11, 19, "x"), "dotprod!S11 should be a number, found 'x'"),
    "a blank factor": (lambda ws: cell(ws, 5, 30, None), "dotprod!AD5 should be a number, found a blank cell"),
    "a text rating": (lambda ws: cell(ws, 4, 3, "five"), "dotprod!C4 should be a number, found 'five'"),
    "a text user id": (lambda ws: cell(ws, 5, 1, "Ann"), "dotprod!A5 should be a user id (a number), found 'Ann'"),
    "a blank movie id": (lambda ws: cell(ws, 2, 4, None),
                         "dotprod!D2 should be a movie id (a number), found a blank cell"),
    "a repeated id": (lambda ws: cell(ws, 5, 1, ws.cell(3, 1).value), "dotprod!A5 repeats user id"),
    "no ratings": (lambda ws: [cell(ws, r, c, None) for r in range(3, 18) for c in range(2, 17)],
                   "the ratings dotprod!B3:P17 are all blank; the sheet needs at least one rating"),
}


@pytest.mark.parametrize("name", list(MISFITS))
def test_a_sheet_that_does_not_fit_says_which_part(tmp_path, name):
    spoil, expected = MISFITS[name]
    path = tmp_path / "spoiled.xlsx"
    where = build(path, {"dotprod": Case()}, lambda wb: spoil(wb["dotprod"]))["dotprod"][1]
    assert (where.users, where.movies, where.predictions, where.loss) == ((8, 18), (3, 23), (8, 23), (1, 23))
    message = refused(path, "dotprod")
    assert message.startswith(f"{path.name}: {expected}"), message
    if name == "no loss cell":
        assert refused(path) == (f"{path.name}: no sheet has a loss cell (a formula =SQRT(SUMXMY2(ratings, "
                                 "predictions)/COUNT(ratings)), or =SQRT(AVERAGE(errors)) with each error "
                                 "=(rating-prediction)^2 on a sheet with a row per rating); is it laid out like the "
                                 "lesson's collab sheets?")
    else:
        assert refused(path) == message  # the same when the first sheet that could fit is picked
    assert list_collab_sheets(path) == []


def test_a_k_beyond_the_engines_limit_is_refused(tmp_path):
    path = tmp_path / "wide.xlsx"
    build(path, {"dotprod": Case(k=1001, n=2, m=2)})
    assert refused(path) == f"{path.name}: sheet 'dotprod': factors k must be between 1 and 1000, got 1001"


def test_a_file_that_is_no_workbook_is_refused_as_before(tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_text("not a workbook")
    assert refused(path) == f"{path.name}: not an Excel workbook (.xlsx)"
    assert refused(tmp_path / "missing.xlsx") == "missing.xlsx: no such file"


def test_check_package_allows_pivot_tables_and_macros_only_when_asked(tmp_path):
    path = tmp_path / "macro.xlsx"
    build(path, {"dotprod": Case(n=3, m=3, k=2)})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/vbaProject.bin", b"\0" * 16)
        zf.writestr("xl/pivotTables/pivotTable1.xml", "<pivotTableDefinition/>")
    with pytest.raises(XlsxError, match="contains macros"):
        check_package(path)
    with pytest.raises(XlsxError, match="contains pivot tables"):
        check_package(path, macros=True)
    check_package(path, macros=True, pivot_tables=True)
    assert import_lesson(path).config.k == 2  # macros are never run, the pivot table never read


# ---------------------------------------------------------------- formulas and references

def test_formulas_parse_with_excels_precedence():
    assert parse("=1+2*3^2") == Binary("+", Num(1.0), Binary("*", Num(2.0), Binary("^", Num(3.0), Num(2.0))))
    assert parse("=-2^2") == Binary("^", Unary("-", Num(2.0)), Num(2.0))  # Excel: =-2^2 is 4
    assert parse("=8-2-1") == Binary("-", Binary("-", Num(8.0), Num(2.0)), Num(1.0))
    assert parse('=IF( a1 = "" , 0 , _xlfn.MMULT(B1:C1,D1:D2))') == Call(
        "IF", (Binary("=", Ref("a1"), Text("")), Num(0.0), Call("MMULT", (Ref("B1:C1"), Ref("D1:D2")))))
    assert parse("=NOW()") == Call("NOW", ())
    for bad in ("=SUM(", "=A1 B1", "=(A1", "=1+"):
        with pytest.raises(ValueError):
            parse(bad)


def test_references_resolve_like_a_spreadsheets():
    names = Names(["dotprod", "my 'sheet'"], {"Ratings": "dotprod!$B$3:$P$17", "bad": "#REF!"},
                  {"dotprod": {"preds": "dotprod!$V$9:$AJ$23"}})
    assert resolve("$b$3:P$17", "dotprod", names) == Area("dotprod", 3, 2, 17, 16)
    assert resolve("P17:B3", "dotprod", names) == Area("dotprod", 3, 2, 17, 16)
    assert resolve("'My ''Sheet'''!A1", "dotprod", names) == Area("my 'sheet'", 1, 1, 1, 1)
    assert resolve("RATINGS", "my 'sheet'", names) == Area("dotprod", 3, 2, 17, 16)
    assert resolve("preds", "dotprod", names) == Area("dotprod", 9, 22, 23, 36)
    assert str(Area("my 'sheet'", 1, 1, 2, 3)) == "'my ''sheet'''!A1:C2"
    for bad, says in (("preds", "is not a cell or a range"), ("bad", "not one range of cells"),
                      ("A1:XFE1", "outside a worksheet"), ("other!A1", "names a sheet")):
        with pytest.raises(RefError, match=says):
            resolve(bad, "my 'sheet'", names)


def test_the_import_command_opens_the_lessons_workbook_and_prints_both_losses(course, capsys):
    from collabsheet.engine.cli.main import main
    from collabsheet.engine.xlsx.open import import_workbook, is_collabsheet_workbook

    _, path = course
    assert not is_collabsheet_workbook(path)
    book = import_workbook(path, "bias")
    assert book.config.biases and book.grid.ratings.shape == book.params["user_factors"].shape[:1] * 2
    assert main(["import", str(path), "--sheet", "bias", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    workbook = float(out.split("workbook loss (RMSE):")[1].split()[0])
    engine = float(out.split("engine loss (RMSE):")[1].split()[0])
    assert "laid out as the lesson's sheet" in out and abs(workbook - engine) < 1e-9
    assert main(["import", str(path), "--sheet", "ratings", "--device", "cpu"]) == 2
    assert "has no loss cell" in capsys.readouterr().err


def test_the_window_asks_which_collab_sheet_then_opens_it(course, movielens):
    from collabsheet.gui.sheet.frames import LoadRequest
    from collabsheet.gui.sheet.runner import SheetRunner

    _, path = course
    runner = SheetRunner(device="cpu")
    runner.loader.load(LoadRequest(ratings=movielens))
    runner.mailbox.take()
    runner.xlsx.import_xlsx(str(path))  # two collab sheets: the GUI is asked which
    events = runner.mailbox.take().events
    assert ("choose_sheet", (str(path), ["dotprod", "bias"])) in events
    runner.xlsx.import_xlsx(str(path), "bias")
    frame = runner.mailbox.take()
    assert frame.snapshot.biases and frame.snapshot.rmse == pytest.approx(import_lesson(path, "bias").engine_loss)
    assert any(kind == "notice" and "workbook loss" in args[0] for kind, args in frame.events)
