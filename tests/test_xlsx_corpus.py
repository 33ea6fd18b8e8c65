"""Import refuses what it cannot use (not ours, damaged, macros, pivot tables, extra sheets, bad cells) in one line."""
from __future__ import annotations

import random
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx import ENGINE, SHEET, Layout, XlsxError, export_xlsx, import_xlsx

N, M, K = 8, 6, 3
LAYOUT = Layout(N, M, K, True)


@pytest.fixture
def good(tmp_path) -> Path:
    """A workbook export wrote, with biases, to damage in each test."""
    rng = np.random.default_rng(1)
    ratings = rng.integers(1, 6, (N, M)).astype(float)
    ratings[rng.random((N, M)) < 0.3] = np.nan
    grid = Crosstab(ratings, tuple(range(1, N + 1)), tuple(range(10, 10 + M)), tuple(f"M{j}" for j in range(M)), "t")
    path = tmp_path / "book.xlsx"
    export_xlsx(Sheet(grid, SheetConfig(k=K, biases=True), device="cpu").snapshot(), path)
    return path


def refused(path: Path) -> str:
    """Import must fail with XlsxError: one line, naming the file."""
    with pytest.raises(XlsxError) as info:
        import_xlsx(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path.name}: "), message
    return message


def rezip(src: Path, dest: Path, add: dict[str, bytes] = {}, drop: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename not in drop:
                zout.writestr(item, zin.read(item.filename))
        for name, data in add.items():
            zout.writestr(name, data)
    return dest


def edit(path: Path, change) -> Path:
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)
    return path


# ---------------------------------------------------------------- files that are not ours or not whole

def test_a_workbook_that_is_not_ours(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["user", "movie", "rating"])
    wb.active.append([1, 2, 3.5])
    wb.save(tmp_path / "other.xlsx")
    assert "not a collabsheet workbook" in refused(tmp_path / "other.xlsx")


def test_a_workbook_with_an_engine_sheet_that_is_not_ours(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.create_sheet(ENGINE)["A1"] = "something else"
    wb.save(tmp_path / "lookalike.xlsx")
    assert "not a collabsheet workbook (Engine!A1" in refused(tmp_path / "lookalike.xlsx")


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_a_truncated_file(good, keep):
    data = good.read_bytes()
    good.write_bytes(data[:int(len(data) * keep)])
    assert "damaged" in refused(good)


def test_a_file_with_garbled_zip_data(good):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + 50  # inside the compressed sheet
    data[start:start + 64] = bytes(64)
    good.write_bytes(bytes(data))
    assert "damaged" in refused(good)


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty (0 bytes)"),
    (b"user,movie,rating\n1,2,3\n", "not an Excel workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old-style .xls"),
    (b"PK\x03\x04 not really a zip", "damaged"),
])
def test_files_that_are_not_workbooks(tmp_path, content, expected):
    path = tmp_path / "book.xlsx"
    path.write_bytes(content)
    assert expected in refused(path)


def test_a_zip_that_is_not_a_workbook(tmp_path):
    with zipfile.ZipFile(tmp_path / "doc.xlsx", "w") as zf:
        zf.writestr("word/document.xml", "<document/>")
    assert "not an Excel workbook" in refused(tmp_path / "doc.xlsx")


def test_missing_file_and_folder(tmp_path):
    assert refused(tmp_path / "nowhere.xlsx") == "nowhere.xlsx: no such file"
    (tmp_path / "dir.xlsx").mkdir()
    assert refused(tmp_path / "dir.xlsx") == "dir.xlsx: is a folder, not a workbook"


def test_an_xlsm_with_macros(good, tmp_path):
    book = rezip(good, tmp_path / "book.xlsm", add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(100)})
    assert "contains macros" in refused(book)


def test_a_workbook_with_a_pivot_table(good, tmp_path):
    parts = {"xl/pivotTables/pivotTable1.xml": b"<pivotTableDefinition/>",
             "xl/pivotCache/pivotCacheDefinition1.xml": b"<pivotCacheDefinition/>"}
    assert "contains pivot tables" in refused(rezip(good, tmp_path / "pivot.xlsx", add=parts))


def test_a_workbook_with_an_extra_sheet(good):
    edit(good, lambda wb: wb.create_sheet("My notes"))
    assert refused(good) == ("book.xlsx: has extra sheet 'My notes'; a collabsheet workbook has just 'Sheet' and "
                             "'Engine' (delete the others and save)")


def test_a_workbook_whose_sheet_was_renamed(good):
    def rename(wb):
        wb[SHEET].title = "Ratings"
    edit(good, rename)
    assert "extra sheet 'Ratings'" in refused(good)


# ---------------------------------------------------------------- cells that are not what they should be

def _set(path: Path, row: int, col: int, value, sheet: str = SHEET) -> Path:
    def change(wb):
        wb[sheet].cell(row, col).value = value
    return edit(path, change)


def test_text_where_a_factor_should_be(good):
    row, col = LAYOUT.prediction_row(2), LAYOUT.user_col(1)  # user 3's second factor
    _set(good, row, col, "abc")
    assert refused(good) == f"book.xlsx: Sheet!C{row} should be a number, found 'abc'"
    assert col == 3


def test_a_blank_movie_factor(good):
    _set(good, LAYOUT.factor_row(0), LAYOUT.movie_col(2), None)
    where = f"{get_column_letter(LAYOUT.movie_col(2))}{LAYOUT.factor_row(0)}"
    assert refused(good) == f"book.xlsx: Sheet!{where} should be a number, found a blank cell"


def test_true_where_a_bias_should_be(good):
    _set(good, LAYOUT.movie_bias_row, LAYOUT.movie_col(0), True)
    assert "should be a number, found True" in refused(good)


def test_text_where_a_rating_should_be(good):
    _set(good, LAYOUT.rating_row(0), LAYOUT.movie_col(1), "five")
    where = f"{get_column_letter(LAYOUT.movie_col(1))}{LAYOUT.rating_row(0)}"
    assert refused(good) == f"book.xlsx: Sheet!{where} should be a number, found 'five'"


def test_every_rating_cleared(good):
    def clear(wb):
        for i in range(N):
            for j in range(M):
                wb[SHEET].cell(LAYOUT.rating_row(i), LAYOUT.movie_col(j)).value = None
    edit(good, clear)
    assert "no ratings left" in refused(good)


def test_an_inserted_row(good):
    edit(good, lambda wb: wb[SHEET].insert_rows(8))
    message = refused(good)
    assert "should read 'Movie factors'" in message and "inserted or deleted" in message


def test_a_user_id_that_is_not_a_whole_number(good):
    _set(good, LAYOUT.rating_row(1), 1, "bob")
    assert refused(good) == f"book.xlsx: Sheet!A{LAYOUT.rating_row(1)} should be an integer id, found 'bob'"


def _engine_row(path: Path, label: str) -> int:
    ws = openpyxl.load_workbook(path)[ENGINE]
    return next(r for r in range(1, 60) if ws.cell(r, 1).value == label)


def test_a_bad_setting_on_the_engine_sheet(good):
    _set(good, _engine_row(good, "Seed"), 2, 4.5, ENGINE)
    assert f"Engine!B{_engine_row(good, 'Seed')} should be a whole number, found 4.5" in refused(good)


def test_an_unknown_optimizer(good):
    _set(good, _engine_row(good, "optimizer name"), 2, "lbfgs", ENGINE)
    assert "unknown optimizer 'lbfgs'" in refused(good)


def test_a_missing_engine_row(good):
    _set(good, _engine_row(good, "Factors k"), 1, None, ENGINE)
    assert refused(good) == "book.xlsx: the Engine sheet has no 'Factors k' row"


def test_an_absurd_size(good):
    _set(good, _engine_row(good, "Movies"), 2, 10**6, ENGINE)
    assert "is more movies than a sheet has columns" in refused(good)


def test_a_size_that_does_not_match_the_sheet(good):
    _set(good, _engine_row(good, "Users"), 2, N + 1, ENGINE)
    assert f"Sheet!A{LAYOUT.movies_label_row + 1} should read 'Movie factors'" in refused(good)


def test_a_newer_format(good):
    _set(good, 1, 2, 99, ENGINE)
    assert "newer collabsheet" in refused(good)


# ---------------------------------------------------------------- nothing but XlsxError, whatever the bytes

def test_random_damage_never_crashes(good, tmp_path):
    data = good.read_bytes()
    rng = random.Random(7)
    for trial in range(40):
        broken = bytearray(data)
        if trial % 2:
            broken = broken[:rng.randrange(len(data))]
        else:
            for _ in range(rng.randrange(1, 20)):
                broken[rng.randrange(len(broken))] = rng.randrange(256)
        path = tmp_path / f"broken{trial}.xlsx"
        path.write_bytes(bytes(broken))
        try:
            import_xlsx(path)  # a flip may land somewhere harmless
        except XlsxError as error:
            assert "\n" not in str(error)
