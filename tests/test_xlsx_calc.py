"""The exported formulas, recalculated by a real spreadsheet (LibreOffice Calc, headless), equal the engine's numbers."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx import ENGINE, SHEET, Layout, export_xlsx, import_xlsx

INSTALL = "LibreOffice Calc is needed to recalculate the exported formulas: apt-get install libreoffice-calc-nogui"
TOLERANCE = 1e-9
# Recalculate every formula on load ("always"), whatever the file's cached values say.
PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""
CASES = {"plain": SheetConfig(), "biases": SheetConfig(biases=True), "squash": SheetConfig(squash=True),
         "biases+squash": SheetConfig(biases=True, squash=True), "k1": SheetConfig(k=1, seed=3)}


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run these tests. {INSTALL}")
        pytest.skip(INSTALL)
    return found


def grid(seed: int = 0, n: int = 15, m: int = 15) -> Crosstab:
    rng = np.random.default_rng(seed)
    ratings = rng.integers(1, 11, (n, m)) / 2.0
    ratings[rng.random((n, m)) < 0.4] = np.nan
    titles = tuple(["=1+1", "+x", "-y", "@z"][j] if j < 4 else f"Movie {j}" for j in range(m))
    return Crosstab(ratings, tuple(range(1, n + 1)), tuple(range(101, 101 + m)), titles, "synthetic")


def sheet_for(config: SheetConfig) -> Sheet:
    sheet = Sheet(grid(), config, OptimizerSettings("adam", lr=0.05), "cpu")
    sheet.step(60)  # fitted factors, biases away from 0 and predictions across the sigmoid
    return sheet


def recalculate(books: list[Path], out: Path, profile: Path) -> None:
    """Open each workbook in LibreOffice, recalculate, and save it again as .xlsx into `out`."""
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(PROFILE)
    command = [soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--convert-to", "xlsx", "--outdir", str(out), *map(str, books)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    missing = [b.name for b in books if not (out / b.name).is_file()]
    assert not missing, f"LibreOffice did not convert {missing}: {done.stdout} {done.stderr}"


def export_cases(configs: dict[str, SheetConfig], src: Path, out: Path, **options) -> dict[str, tuple]:
    """name -> (snapshot, exported path, where LibreOffice's recalculation of it will go), each exported with options."""
    cases = {}
    for name, config in configs.items():
        snap = sheet_for(config).snapshot()
        path = src / f"{name.replace('+', '_')}.xlsx"
        export_xlsx(snap, path, **options)
        cases[name] = (snap, path, out / path.name)
    return cases


def type_params(ws, params: dict[str, np.ndarray], lay: Layout) -> None:
    """Other factors and biases typed into an exported sheet's cells, as Solver would write them."""
    for i in range(lay.n):
        for f in range(lay.k):
            ws.cell(lay.prediction_row(i), lay.user_col(f)).value = float(params["user_factors"][i, f])
    for j in range(lay.m):
        for f in range(lay.k):
            ws.cell(lay.factor_row(f), lay.movie_col(j)).value = float(params["item_factors"][f, j])
    if "user_bias" in params:
        for i in range(lay.n):
            ws.cell(lay.prediction_row(i), lay.bias_col).value = float(params["user_bias"][i])
        for j in range(lay.m):
            ws.cell(lay.movie_bias_row, lay.movie_col(j)).value = float(params["item_bias"][j])


@pytest.fixture(scope="module")
def calculated(tmp_path_factory) -> dict[str, tuple]:
    """name -> (snapshot, exported path, LibreOffice-recalculated path); one LibreOffice run for all."""
    soffice()
    src, out = tmp_path_factory.mktemp("exported"), tmp_path_factory.mktemp("calculated")
    cases = export_cases(CASES, src, out)
    # A workbook the user changed in the spreadsheet: other factors (as Solver would write) and a new rating.
    solved = sheet_for(SheetConfig(biases=True))
    solved.step(400)
    changed = src / "changed.xlsx"
    export_xlsx(sheet_for(SheetConfig(biases=True)).snapshot(), changed)
    wb = openpyxl.load_workbook(changed)
    lay = Layout(15, 15, 5, True)
    ws = wb[SHEET]
    type_params(ws, solved.params(), lay)
    ws.cell(lay.rating_row(0), lay.movie_col(1)).value = 4.5
    wb.save(changed)
    cases["changed"] = (None, changed, out / changed.name)
    recalculate([path for _, path, _ in cases.values()], out, tmp_path_factory.mktemp("profile"))
    return cases


def predictions(path: Path, snap_like) -> tuple[np.ndarray, object]:
    ws = openpyxl.load_workbook(path, data_only=True)[SHEET]
    lay = Layout(len(snap_like.user_ids), len(snap_like.item_ids), snap_like.k, snap_like.biases)
    values = [[ws.cell(lay.prediction_row(i), lay.movie_col(j)).value for j in range(lay.m)] for i in range(lay.n)]
    return values, ws.cell(lay.loss_row, 2).value


@pytest.mark.parametrize("name", list(CASES))
def test_spreadsheet_predictions_and_loss_equal_the_engines(calculated, name):
    snap, exported, recalculated = calculated[name]
    before, loss_before = predictions(exported, snap)
    assert loss_before is None and before[0][0] is None  # openpyxl wrote no cached values
    values, loss = predictions(recalculated, snap)
    assert all(v is not None for row in values for v in row) and loss is not None  # really recalculated
    np.testing.assert_allclose(np.array(values, dtype=float), snap.predictions, rtol=0, atol=TOLERANCE)
    assert abs(loss - snap.rmse) <= TOLERANCE
    engine = openpyxl.load_workbook(recalculated, data_only=True)[ENGINE]
    table = {engine.cell(r, 1).value: engine.cell(r, 2).value for r in range(1, 40)}
    assert table["Workbook loss (RMSE)"] == pytest.approx(loss, abs=1e-15)
    assert abs(table["Workbook − engine"]) <= TOLERANCE


@pytest.mark.parametrize("name", ["biases", "biases+squash"])
def test_import_of_the_recalculated_workbook(calculated, name):
    snap, _, recalculated = calculated[name]
    book = import_xlsx(recalculated)  # LibreOffice saved it: still ours, still importable
    assert abs(book.workbook_loss - snap.rmse) <= TOLERANCE
    assert book.grid.titles == snap.titles and book.grid.user_ids == snap.user_ids
    for block, value in book.params.items():
        np.testing.assert_allclose(value, snap.params[block], rtol=1e-14, atol=0)  # Calc saves 15 digits
    assert abs(book.to_sheet("cpu").rmse() - book.workbook_loss) <= TOLERANCE


def test_changed_workbook_loss_equals_the_recomputed_loss(calculated):
    _, _, recalculated = calculated["changed"]
    book = import_xlsx(recalculated)
    assert book.grid.ratings[0, 1] == 4.5
    assert book.workbook_loss is not None and book.workbook_loss < book.engine_loss  # "Solver" did better
    assert abs(book.to_sheet("cpu").rmse() - book.workbook_loss) <= TOLERANCE
