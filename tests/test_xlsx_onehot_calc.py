"""The exported movielens_1hot and movielens_emb sheets, recalculated by LibreOffice, give the engine's loss."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest

from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet import onehot
from collabsheet.engine.xlsx import SHEET, Layout, export_xlsx
from collabsheet.engine.xlsx.collab.layout import EMB, ONEHOT
from test_xlsx_calc import TOLERANCE, export_cases, recalculate, sheet_for, soffice, type_params

CASES = {"plain": SheetConfig(), "biases+squash": SheetConfig(biases=True, squash=True)}


@pytest.fixture(scope="module")
def calculated(tmp_path_factory) -> dict[str, tuple]:
    """name -> (snapshot, recalculated path); one LibreOffice run, with a workbook whose factors were changed."""
    soffice()
    src, out = tmp_path_factory.mktemp("exported"), tmp_path_factory.mktemp("calculated")
    cases = {name: (snap, recalculated) for name, (snap, _, recalculated)
             in export_cases(CASES, src, out, long_sheets=True).items()}
    # New factors typed into the Sheet after export (as Solver writes them): the long sheets follow them.
    changed, moved = src / "changed.xlsx", sheet_for(SheetConfig(biases=True))
    export_xlsx(moved.snapshot(), changed, long_sheets=True)
    moved.step(200)
    wb = openpyxl.load_workbook(changed)
    type_params(wb[SHEET], moved.params(), Layout(15, 15, 5, True))
    wb.save(changed)
    cases["changed"] = (moved.snapshot(), out / changed.name)
    recalculate([src / f"{n.replace('+', '_')}.xlsx" for n in cases], out, tmp_path_factory.mktemp("profile"))
    return cases


@pytest.mark.parametrize("name", [*CASES, "changed"])
def test_both_long_sheets_recalculate_to_the_engines_loss(calculated, name):
    snap, recalculated = calculated[name]
    wb = openpyxl.load_workbook(recalculated, data_only=True)
    sheet_loss = wb[SHEET]["B2"].value
    assert abs(sheet_loss - snap.rmse) <= TOLERANCE
    long = onehot.long_form(snap)
    look = onehot.by_lookup(snap, long)
    for name_ in (ONEHOT, EMB):
        ws = wb[name_]
        assert abs(ws["B2"].value - snap.rmse) <= TOLERANCE, name_
        assert [ws.cell(5 + r, 4).value for r in range(len(long))] == list(long.user_idx)  # MATCH's indices
        assert [ws.cell(5 + r, 5).value for r in range(len(long))] == list(long.item_idx)
    hot = wb[ONEHOT]
    rows = np.array([[hot.cell(5 + r, 6 + c).value for c in range(15)] for r in range(len(long))], dtype=float)
    np.testing.assert_array_equal(rows, onehot.one_hot(long.user_idx, 15))
    k = snap.k
    first = 6 + 30  # the user activations follow the two one-hot blocks
    acts = np.array([[hot.cell(5 + r, first + f).value for f in range(k)] for r in range(len(long))], dtype=float)
    np.testing.assert_allclose(acts, look.user, rtol=1e-14, atol=0)
