"""Export to Excel and import back: layout, formulas, colours, Solver's names, exact round trips."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pytest
import torch
from openpyxl.utils import get_column_letter, range_boundaries

from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx import ENGINE, FILLS, SHEET, SOLVER_OPTIONS, Layout, XlsxError, export_xlsx, import_xlsx

# Titles a spreadsheet could mistake for formulas, and some that are merely awkward.
TRICKY = ('=HYPERLINK("http://example.com","click")', "+1 (2001)", "-minus (1999)", "@SUM(A1:A2)", "=1+1",
          "Amélie (2001)", "  spaced  ", "Seven (a.k.a. Se7en) (1995)", "'quoted'", "")
CONFIGS = {"plain": SheetConfig(), "biases": SheetConfig(biases=True),
           "squash": SheetConfig(biases=True, squash=True), "k1": SheetConfig(k=1)}
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def synthetic(n: int = 15, m: int = 15, seed: int = 0, ids: str = "int") -> Crosstab:
    """A crosstab like the lesson's: half-star ratings, blanks, and titles that look like formulas."""
    rng = np.random.default_rng(seed)
    ratings = rng.integers(1, 11, (n, m)) / 2.0
    ratings[rng.random((n, m)) < 0.35] = np.nan
    ratings[0, 0] = 5.0  # the y range reaches the top rating
    titles = tuple(TRICKY[j] if j < len(TRICKY) else f"Movie {j} ({1950 + j})" for j in range(m))
    if ids == "int":
        users, items = tuple(range(100, 100 + n)), tuple(range(1, m + 1))
    elif ids == "float":
        users, items = tuple(0.5 + i for i in range(n)), tuple(1e-3 * (j + 1) for j in range(m))
    else:
        users = tuple(["=A1", "+33 1 23", "-7", "@me"][i] if i < 4 else f"user {i}" for i in range(n))
        items = tuple(f"tt{j:07d}" for j in range(m))
    return Crosstab(ratings, users, items, titles, "synthetic =ratings")


def trained(config: SheetConfig, grid: Crosstab | None = None, steps: int = 40) -> Sheet:
    sheet = Sheet(grid or synthetic(), config, OptimizerSettings("adamw", lr=0.03, weight_decay=0.01), "cpu")
    sheet.step(steps)
    return sheet


@pytest.fixture(params=list(CONFIGS))
def config(request) -> SheetConfig:
    return CONFIGS[request.param]


def layout_of(snap) -> Layout:
    return Layout(len(snap.user_ids), len(snap.item_ids), snap.k, snap.biases)


# ---------------------------------------------------------------- the exported workbook

def test_sheet_is_laid_out_like_the_lesson(tmp_path, config):
    snap = trained(config).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    ws = openpyxl.load_workbook(path)[SHEET]
    lay = layout_of(snap)
    n, m, k = len(snap.user_ids), len(snap.item_ids), snap.k
    for i in range(n):
        assert ws.cell(lay.rating_row(i), 1).value == str(snap.user_ids[i])
        assert ws.cell(lay.prediction_row(i), 1).value == f"=$A{lay.rating_row(i)}"
        for j in range(m):
            rating = ws.cell(lay.rating_row(i), lay.movie_col(j)).value
            assert rating == (None if np.isnan(snap.ratings[i, j]) else snap.ratings[i, j])
        for f in range(k):
            assert ws.cell(lay.prediction_row(i), lay.user_col(f)).value == snap.user_factors[i, f]
    for j in range(m):
        assert ws.cell(lay.id_row, lay.movie_col(j)).value == str(snap.item_ids[j])
        assert ws.cell(lay.title_row, lay.movie_col(j)).value == (snap.titles[j] or None)
        for f in range(k):
            assert ws.cell(lay.factor_row(f), lay.movie_col(j)).value == snap.item_factors[f, j]
    # The top-left prediction cell spelled out: the lesson's formula, plus biases and sigmoid when on.
    c, r, p = get_column_letter(lay.movie_col(0)), lay.rating_row(0), lay.prediction_row(0)
    u0, u1 = get_column_letter(lay.user_col(0)), get_column_letter(lay.user_col(k - 1))
    x = f"MMULT(${u0}{p}:${u1}{p},{c}${lay.factor_row(0)}:{c}${lay.factor_row(k - 1)})"
    if snap.biases:
        x += f"+${get_column_letter(lay.bias_col)}{p}+{c}${lay.movie_bias_row}"
    if snap.squash:
        x = f"$D$2+($E$2-$D$2)/(1+EXP(-({x})))"
    assert ws.cell(p, lay.movie_col(0)).value == f'=IF({c}{r}="",0,{x})'
    last = get_column_letter(lay.movie_col(m - 1))
    ratings = f"${c}${r}:${last}${lay.rating_row(n - 1)}"
    preds = f"${c}${p}:${last}${lay.prediction_row(n - 1)}"
    assert ws["B2"].value == f"=SQRT(SUMXMY2({ratings},{preds})/COUNT({ratings}))"
    if snap.squash:
        assert (ws["D2"].value, ws["E2"].value) == snap.y_range


def test_titles_and_ids_that_look_like_formulas_stay_text(tmp_path):
    snap = trained(SheetConfig(), synthetic(ids="text")).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    ws = openpyxl.load_workbook(path)[SHEET]
    lay = layout_of(snap)
    texts = [ws.cell(lay.title_row, lay.movie_col(j)) for j in range(len(TRICKY))]
    texts += [ws.cell(lay.rating_row(i), 1) for i in range(4)]
    for cell in texts:
        if cell.value is not None:
            assert cell.data_type == "s", cell.coordinate
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    formulas = re.findall(r"<f>(.*?)</f>", xml)
    assert not any("HYPERLINK" in f or f in ("1+1", "A1") or "SUM(" in f for f in formulas)
    assert all(f.startswith(("SQRT(", "IF(", "$A")) for f in formulas)


def test_block_colours_frozen_headers_and_widths(tmp_path):
    snap = trained(SheetConfig(biases=True)).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    ws = openpyxl.load_workbook(path)[SHEET]
    lay = layout_of(snap)

    def fill(row: int, col: int) -> str:
        return ws.cell(row, col).fill.fgColor.rgb[-6:]

    assert fill(lay.rating_row(3), lay.movie_col(4)) == FILLS["rating"]
    assert fill(lay.prediction_row(3), lay.movie_col(4)) == FILLS["prediction"]
    assert fill(lay.factor_row(2), lay.movie_col(4)) == FILLS["movie"]
    assert fill(lay.prediction_row(3), lay.user_col(2)) == FILLS["user"]
    assert fill(lay.movie_bias_row, lay.movie_col(4)) == FILLS["bias"]
    assert fill(lay.prediction_row(3), lay.bias_col) == FILLS["bias"]
    assert fill(lay.loss_row, 2) == FILLS["loss"]
    assert ws["A5"].value == "Ratings" and ws.cell(lay.movies_label_row, 1).value == "Movie factors"
    assert ws.cell(lay.users_label_row, lay.movie_col(0)).value == "Predictions"
    assert ws.freeze_panes == f"{get_column_letter(lay.movie_col(0))}{lay.ratings_label_row}"
    assert ws.column_dimensions["A"].width >= 12
    assert ws.column_dimensions[get_column_letter(lay.movie_col(0))].width >= 12
    assert ws.row_dimensions[lay.title_row].height >= 40


def _solver_names(path) -> dict[str, ElementTree.Element]:
    with zipfile.ZipFile(path) as zf:
        root = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    return {e.get("name"): e for e in root.iterfind("m:definedNames/m:definedName", NS)}


def _cells(areas: str) -> set[tuple[int, int]]:
    """Every (row, col) in a comma-joined union of 'Sheet'!$A$1:$B$2 areas."""
    out = set()
    for area in areas.split(","):
        sheet, ref = area.split("!")
        assert sheet == f"'{SHEET}'"
        left, top, right, bottom = range_boundaries(ref.replace("$", ""))
        out |= {(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)}
    return out


@pytest.mark.parametrize("biases", [False, True])
def test_solver_names_are_hidden_sheet_local_and_complete(tmp_path, biases):
    snap = trained(SheetConfig(biases=biases)).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    names = _solver_names(path)
    assert set(names) == {"solver_opt", "solver_adj"} | set(SOLVER_OPTIONS)
    for name in names.values():
        assert name.get("localSheetId") == "0" and name.get("hidden") == "1"
    assert names["solver_opt"].text == f"'{SHEET}'!$B$2"
    expected = {"solver_typ": "2", "solver_eng": "1", "solver_neg": "2", "solver_num": "0", "solver_ver": "3",
                "solver_cvg": "0.0001", "solver_drv": "2", "solver_est": "1", "solver_itr": "2147483647",
                "solver_mip": "2147483647", "solver_mni": "30", "solver_mrt": "0.075", "solver_msl": "2",
                "solver_nod": "2147483647", "solver_nwt": "1", "solver_pre": "0.000001", "solver_rbv": "2",
                "solver_rlx": "2", "solver_rsd": "0", "solver_scl": "2", "solver_sho": "2", "solver_ssz": "100",
                "solver_tim": "2147483647", "solver_tol": "0.01", "solver_val": "0"}
    assert {k: names[k].text for k in expected} == expected
    lay, n, m, k = layout_of(snap), len(snap.user_ids), len(snap.item_ids), snap.k
    variables = {(lay.factor_row(f), lay.movie_col(j)) for f in range(k) for j in range(m)}
    variables |= {(lay.prediction_row(i), lay.user_col(f)) for i in range(n) for f in range(k)}
    if biases:
        variables |= {(lay.movie_bias_row, lay.movie_col(j)) for j in range(m)}
        variables |= {(lay.prediction_row(i), lay.bias_col) for i in range(n)}
    assert _cells(names["solver_adj"].text) == variables
    # The same names, read back by openpyxl, are scoped to the Sheet.
    ws = openpyxl.load_workbook(path)[SHEET]
    assert ws.defined_names["solver_opt"].attr_text == f"'{SHEET}'!$B$2"


def test_engine_sheet_records_the_engines_side(tmp_path):
    sheet = trained(SheetConfig(biases=True), steps=25)
    snap = sheet.snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    ws = openpyxl.load_workbook(path)[ENGINE]
    table = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(1, 40) if ws.cell(r, 1).value}
    assert table["Engine loss (RMSE)"].value == snap.rmse
    assert table["Step"].value == 25 and table["Seed"].value == 42
    assert table["Dataset"].value == "synthetic =ratings" and table["Dataset"].data_type == "s"
    assert table["Device"].value == "cpu" and table["optimizer name"].value == "adamw"
    assert table["optimizer weight_decay"].value == 0.01
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", table["Exported"].value)
    assert table["Solver variables"].value == (5 + 1) * (15 + 15)
    assert table["Workbook loss (RMSE)"].value == f"='{SHEET}'!$B$2"
    wb_row, eng_row = table["Workbook loss (RMSE)"].row, table["Engine loss (RMSE)"].row
    assert table["Workbook − engine"].value == f"=B{wb_row}-B{eng_row}"
    top = next(r for r in range(1, 60) if ws.cell(r, 1).value == "Engine predictions")
    got = np.array([[ws.cell(top + 2 + i, 2 + j).value for j in range(len(snap.item_ids))]
                    for i in range(len(snap.user_ids))], dtype=float)  # None (unrated) -> NaN
    np.testing.assert_array_equal(got, np.where(snap.mask, snap.predictions, np.nan))


# ---------------------------------------------------------------- import

@pytest.mark.parametrize("ids", ["int", "float", "text"])
def test_round_trip_gives_back_the_same_sheet_exactly(tmp_path, config, ids):
    sheet = trained(config, synthetic(ids=ids))
    snap = sheet.snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    book = import_xlsx(path)
    assert set(book.params) == {b for b, v in snap.params.items() if v is not None}
    for block, value in book.params.items():
        assert value.dtype == np.float64
        np.testing.assert_array_equal(value, snap.params[block])  # bit for bit
    np.testing.assert_array_equal(book.grid.ratings, snap.ratings)  # NaN blanks included
    assert book.grid.user_ids == snap.user_ids and book.grid.item_ids == snap.item_ids
    assert [type(i) for i in book.grid.user_ids] == [type(i) for i in snap.user_ids]
    assert book.grid.titles == snap.titles and book.grid.name == snap.dataset
    assert book.settings == snap.settings and book.step == snap.step
    assert (book.config.k, book.config.biases, book.config.squash, book.config.seed) == \
           (snap.k, snap.biases, snap.squash, snap.seed)
    assert book.engine_loss == snap.rmse and book.workbook_loss is None and book.notes == ()
    again = book.to_sheet("cpu").snapshot()
    assert again.rmse == snap.rmse and again.step == snap.step and again.y_range == snap.y_range
    np.testing.assert_array_equal(again.predictions, snap.predictions)


def test_round_trip_on_movielens(tmp_path):
    movielens = pytest.importorskip("collabsheet.engine.data.movielens")
    from collabsheet.engine.data.crosstab import top_crosstab

    try:
        ratings = movielens.default_ratings()
    except ValueError as exc:  # RatingsError: no cache and no way to fetch it here
        pytest.skip(f"MovieLens is not available: {exc}")
    sheet = trained(SheetConfig(biases=True), top_crosstab(ratings, 15))
    snap = sheet.snapshot()
    export_xlsx(snap, tmp_path / "movielens.xlsx")
    book = import_xlsx(tmp_path / "movielens.xlsx")
    assert book.grid.titles == snap.titles and book.grid.user_ids == snap.user_ids
    for block, value in book.params.items():
        np.testing.assert_array_equal(value, snap.params[block])
    assert book.to_sheet("cpu").rmse() == snap.rmse


def test_import_takes_what_solver_and_the_user_changed(tmp_path):
    sheet = trained(SheetConfig(biases=True), steps=5)
    snap = sheet.snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    sheet.step(300)  # stands in for Excel's Solver: better factors written into the factor cells
    solved = sheet.params()
    lay = layout_of(snap)
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET]
    for i in range(lay.n):
        for f in range(lay.k):
            ws.cell(lay.prediction_row(i), lay.user_col(f), solved["user_factors"][i, f])
        ws.cell(lay.prediction_row(i), lay.bias_col, solved["user_bias"][i])
    for j in range(lay.m):
        for f in range(lay.k):
            ws.cell(lay.factor_row(f), lay.movie_col(j), solved["item_factors"][f, j])
        ws.cell(lay.movie_bias_row, lay.movie_col(j), solved["item_bias"][j])
    ws.cell(lay.rating_row(2), lay.movie_col(3), 1)  # the user re-rated a movie (an int, as Excel may store it)
    ws.cell(lay.rating_row(0), lay.movie_col(0)).value = None  # and cleared another
    ws.cell(lay.title_row, lay.movie_col(1), "Renamed")
    wb.save(path)

    book = import_xlsx(path)
    assert book.grid.ratings[2, 3] == 1.0 and np.isnan(book.grid.ratings[0, 0])
    assert book.grid.titles[1] == "Renamed"
    for block, value in solved.items():
        np.testing.assert_allclose(book.params[block], value, rtol=1e-15, atol=0)  # openpyxl writes 16 digits
    rebuilt = book.to_sheet("cpu")
    expected = Sheet(book.grid, SheetConfig(biases=True), device="cpu")
    expected.load_state_dict(expected.params_state(book.params))
    assert rebuilt.rmse() == expected.rmse()


@pytest.mark.parametrize("kind", ["data", "wide"])
def test_each_sigmoid_range_comes_back_from_its_workbook(tmp_path, kind):
    snap = trained(SheetConfig(squash=True, squash_range=kind)).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    book = import_xlsx(path)
    assert book.config.squash_range == kind and book.notes == ()
    assert book.to_sheet("cpu").model.squash_range == snap.y_range


def test_squash_range_that_no_longer_fits_the_ratings_is_reported(tmp_path):
    snap = trained(SheetConfig(squash=True)).snapshot()
    lo, hi = snap.y_range
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    wb = openpyxl.load_workbook(path)
    lay = layout_of(snap)
    wb[SHEET].cell(lay.rating_row(0), lay.movie_col(0), 10.0)  # a rating above the old top
    wb.save(path)
    book = import_xlsx(path)
    assert len(book.notes) == 1 and f"squashes into {lo:g}..{hi:g}" in book.notes[0]
    assert f"give {lo:g}..10 (their min and max)" in book.notes[0]
    assert book.to_sheet("cpu").model.y_range == (lo, 10.0)


def test_workbook_loss_is_read_from_the_spreadsheets_cached_value(tmp_path):
    snap = trained(SheetConfig()).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    # Put a cached value on the loss cell, as Excel does when it saves.
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml, count = re.subn(r'(<c r="B2"[^>]*><f>[^<]*</f>)<v ?/>', r"\1<v>0.125</v>", xml, count=1)
    assert count == 1
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    assert import_xlsx(path).workbook_loss == 0.125


def test_big_sheet_round_trip_keeps_its_shape(tmp_path):
    grid = synthetic(60, 45, seed=3)
    snap = Sheet(grid, SheetConfig(k=12, biases=True), device="cpu").snapshot()
    export_xlsx(snap, tmp_path / "big.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "big.xlsx")[SHEET]
    assert ws.freeze_panes == "B5"  # 13 factor columns are too many to freeze beside the ids
    book = import_xlsx(tmp_path / "big.xlsx")
    assert book.params["user_factors"].shape == (60, 12) and book.params["item_factors"].shape == (12, 45)
    np.testing.assert_array_equal(book.params["item_bias"], snap.params["item_bias"])


def test_a_failed_export_leaves_the_earlier_file_whole(tmp_path, monkeypatch):
    snap = trained(SheetConfig(), steps=1).snapshot()
    path = tmp_path / "book.xlsx"
    export_xlsx(snap, path)
    before = path.read_bytes()

    def disk_full(src, dest):
        Path(src).write_bytes(b"PK half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", disk_full)
    with pytest.raises(XlsxError, match=r"^book\.xlsx: cannot be written \(No space left on device\)$"):
        export_xlsx(snap, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]  # no half-written temporary left
    monkeypatch.undo()
    with pytest.raises(XlsxError, match="cannot be written"):
        export_xlsx(snap, tmp_path / "no such folder" / "book.xlsx")


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam", "adamw"])
def test_an_imported_run_continues_exactly(tmp_path, grid15, name):
    """The Optimizer sheet carries the running averages (and Adam's t): stepping on after import is bit-identical."""
    settings = OptimizerSettings(name, lr=0.01, weight_decay=0.01)
    sheet = Sheet(grid15, SheetConfig(biases=True), settings, device="cpu")
    sheet.step(30)
    path = tmp_path / "run.xlsx"
    export_xlsx(sheet.snapshot(), path)
    book = import_xlsx(path)
    assert set(book.optimizer_state) == set(sheet.state)
    resumed = book.to_sheet("cpu")
    assert resumed.steps == 30 and resumed.settings == settings
    sheet.step(20)
    resumed.step(20)
    assert torch.equal(resumed.theta, sheet.theta)


def test_a_tampered_optimizer_sheet_names_the_cell(tmp_path, grid15):
    sheet = Sheet(grid15, settings=OptimizerSettings("adam", lr=0.01), device="cpu")
    sheet.step(3)
    path = tmp_path / "run.xlsx"
    export_xlsx(sheet.snapshot(), path)
    wb = openpyxl.load_workbook(path)
    wb["Optimizer"].cell(5, 3, "oops")
    wb.save(path)
    with pytest.raises(XlsxError, match=r"Optimizer!C5 should be a number, found 'oops'"):
        import_xlsx(path)


def test_a_workbook_holds_a_bounded_number_of_cells(tmp_path):
    """Export refuses a sheet import could not read back within its time bound; import refuses such a layout."""
    from collabsheet.engine.xlsx.collab.layout import MAX_CELLS

    lay = Layout(600, 600, 5, False)
    assert lay.cells > MAX_CELLS
    with pytest.raises(XlsxError, match="holds at most 300,000 .* lower top-N or k"):
        lay.check_size()
    Layout(500, 500, 5, True).check_size()  # the largest square sheet with k = 5 and biases fits
    snap = trained(SheetConfig()).snapshot()
    path = tmp_path / "big.xlsx"
    export_xlsx(snap, path)
    wb = openpyxl.load_workbook(path)
    rows = {wb[ENGINE].cell(r, 1).value: r for r in range(1, 40)}
    wb[ENGINE].cell(rows["Users"], 2, 900)  # each within its own limit, together too many cells
    wb[ENGINE].cell(rows["Factors k"], 2, 1000)
    wb.save(path)
    with pytest.raises(XlsxError, match=r"Engine!B\d+ with 15 movies and k = 1000 makes 928,500 cells"):
        import_xlsx(path)
