"""The first frame without torch: engine.sheet.first_frame against the Sheet, field by field, and its imports."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.sheet.first_frame import first_frame
from collabsheet.engine.sheet.sheet import Sheet

pytestmark = pytest.mark.numeric  # run again under a second kernel configuration (Makefile)

CONFIGS = [SheetConfig(), SheetConfig(biases=True), SheetConfig(biases=True, squash=True),
           SheetConfig(k=1, squash=True, seed=3, init=0.5), SheetConfig(k=12, seed=0)]
IDS = ["plain", "biases", "biases+squash", "k1+squash", "k12"]


def _assert_same(quick, sheet, path: str = "") -> None:
    """Equal to 1e-12 where numbers, exactly elsewhere; dicts and tuples compared item by item."""
    if isinstance(sheet, dict):
        assert quick.keys() == sheet.keys(), path
        for key in sheet:
            _assert_same(quick[key], sheet[key], f"{path}.{key}")
    elif isinstance(sheet, np.ndarray):
        assert isinstance(quick, np.ndarray) and quick.shape == sheet.shape and quick.dtype == sheet.dtype, path
        np.testing.assert_allclose(quick, sheet, rtol=1e-12, atol=1e-12, err_msg=path)
    elif isinstance(sheet, float):
        assert type(quick) is float and quick == pytest.approx(sheet, rel=1e-12, abs=1e-12, nan_ok=True), path
    else:
        assert type(quick) is type(sheet) and quick == sheet, path


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_the_quick_snapshot_is_the_sheets_first_snapshot(grid15, config: SheetConfig) -> None:
    settings = OptimizerSettings("momentum", lr=0.01, weight_decay=0.1)
    quick = first_frame(grid15, config, settings)
    sheet = Sheet(grid15, config, settings, device="cpu").snapshot()
    for field in dataclasses.fields(sheet):
        _assert_same(getattr(quick, field.name), getattr(sheet, field.name), field.name)
    assert quick.optimizer_state == {} and quick.step == 0 and quick.rmse > 0


def test_the_quick_snapshot_copes_with_blank_rows_and_a_wide_grid(movielens) -> None:
    grid = top_crosstab(movielens, 8, 30)
    ratings = grid.ratings.copy()
    ratings[2] = np.nan  # a user with no rating at all
    grid = dataclasses.replace(grid, ratings=ratings)
    for config in CONFIGS[:3]:
        quick, sheet = first_frame(grid, config), Sheet(grid, config, device="cpu").snapshot()
        for field in dataclasses.fields(sheet):
            _assert_same(getattr(quick, field.name), getattr(sheet, field.name), field.name)


def test_the_initial_factors_are_numpys_draw(grid15) -> None:
    sheet = Sheet(grid15, SheetConfig(seed=11, init=2.0), device="cpu")
    rng = np.random.default_rng(11)
    expected = 2.0 * rng.random(15 * 5 + 5 * 15)  # user factors, then movie factors, row by row
    np.testing.assert_array_equal(sheet.theta.numpy(), expected)


def test_the_quick_snapshot_imports_no_torch() -> None:
    """From loading the ratings to the first frame, in a fresh interpreter: torch is never imported."""
    code = """
import sys
imported = []
def audit(event, args):
    if event == "import" and args[0].split(".")[0] == "torch":
        imported.append(args[0])
sys.addaudithook(audit)
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.sheet.first_frame import first_frame

snap = first_frame(top_crosstab(default_ratings(), 15), SheetConfig(biases=True, squash=True))
assert snap.rmse > 0 and snap.predictions.shape == (15, 15)
assert not imported, f"torch was imported: {imported[0]}"
assert not [m for m in sys.modules if m.split(".")[0] == "torch"], "torch is in sys.modules"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
