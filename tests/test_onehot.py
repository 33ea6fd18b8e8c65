"""One-hot × embedding = lookup: the long form, both ways of getting the activations, and their loss = the Sheet's."""
from __future__ import annotations

import numpy as np
import openpyxl
import pytest

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.sheet import onehot
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx import SHEET, Layout, export_xlsx, import_xlsx
from collabsheet.engine.xlsx.collab.layout import EMB, ONEHOT
from collabsheet.engine.xlsx.errors import XlsxError
from test_xlsx_calc import CASES, grid, sheet_for


@pytest.fixture(scope="module")
def snaps():
    return {name: sheet_for(config).snapshot() for name, config in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_both_losses_equal_the_sheets(snaps, name):
    snap = snaps[name]
    long = onehot.long_form(snap)
    assert len(long) == snap.count
    hot, look = onehot.by_one_hot(snap, long), onehot.by_lookup(snap, long)
    assert abs(hot.loss - snap.rmse) <= 1e-12 and abs(look.loss - snap.rmse) <= 1e-12
    np.testing.assert_array_equal(hot.user, look.user)  # a one-hot product adds zeros: exactly the row
    np.testing.assert_array_equal(hot.item, look.item)
    users, items = long.user_idx - 1, long.item_idx - 1
    np.testing.assert_allclose(hot.predictions, snap.predictions[users, items], rtol=0, atol=1e-12)


def test_long_form_is_matched_by_id(snaps):
    snap = snaps["plain"]
    long = onehot.long_form(snap)
    for row in range(len(long)):
        i, j = snap.user_ids.index(long.user_ids[row]), snap.item_ids.index(long.item_ids[row])
        assert (long.user_idx[row], long.item_idx[row]) == (i + 1, j + 1)  # MATCH's 1-based index
        assert long.ratings[row] == snap.ratings[i, j] and snap.mask[i, j]
    assert list(zip(long.user_idx, long.item_idx)) == sorted(zip(long.user_idx, long.item_idx))  # reading order


def test_one_hot_rows_and_a_rating_seen_both_ways(snaps):
    snap = snaps["biases"]
    long = onehot.long_form(snap)
    hot = onehot.one_hot(long.user_idx, long.n_users)
    assert hot.shape == (len(long), 15) and (hot.sum(1) == 1).all()
    assert (hot[np.arange(len(long)), long.user_idx - 1] == 1).all()
    i, j = np.argwhere(snap.mask)[5]
    row = onehot.row_of(long, int(i), int(j))
    view = onehot.row_view(snap, long, row)
    assert view.user_one_hot[i] == 1 and view.user_one_hot.sum() == 1 and view.item_one_hot[j] == 1
    np.testing.assert_array_equal(view.user_product, snap.user_factors[i])
    np.testing.assert_array_equal(view.user_lookup, snap.user_factors[i])
    np.testing.assert_array_equal(view.item_product, snap.item_factors[:, j])
    np.testing.assert_array_equal(view.item_lookup, snap.item_factors[:, j])
    blank = np.argwhere(~snap.mask)[0]
    assert onehot.row_of(long, int(blank[0]), int(blank[1])) is None


def test_multiply_adds():
    assert onehot.multiply_adds(10, 15, 15, 5) == (10 * (30 * 5 + 5), 50)


def _cell_text(ws, row: int, col: int) -> str:
    return str(ws.cell(row, col).value)


def test_export_writes_both_long_sheets_linked_to_the_factor_blocks(tmp_path, snaps):
    snap = snaps["biases+squash"]
    path = tmp_path / "long.xlsx"
    export_xlsx(snap, path, long_sheets=True)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == [SHEET, "Engine"] and ONEHOT in wb.sheetnames and EMB in wb.sheetnames
    lay = Layout(15, 15, 5, True)
    hot, emb = wb[ONEHOT], wb[EMB]
    assert hot["B2"].value == f"=SQRT(AVERAGE(AW5:AW{4 + snap.count}))"  # after 5 + 15 + 15 + 5 + 5 + 2 + 1 columns
    assert hot["D5"].value == "=MATCH($A5,Sheet!$A$6:$A$20,0)"
    assert hot["F5"].value == "=IF($D5=F$4,1,0)" and hot["F4"].value == 1
    user_block = f"Sheet!$B${lay.prediction_row(0)}:$B${lay.prediction_row(14)}"
    assert hot.cell(5, 36).value == f"=MMULT($F5:$T5,{user_block})"
    assert "OFFSET(Sheet!$A$" in emb["F5"].value and emb["F5"].value.endswith(",$D5,1)")
    assert "Sheet!$D$2" in _cell_text(hot, 5, 48) and "SUMPRODUCT(AJ5:AN5,AO5:AS5)" in _cell_text(hot, 5, 48)
    assert hot.max_row == 4 + snap.count and emb.max_row == 4 + snap.count
    book = import_xlsx(path)  # the long sheets are ours too: the workbook still imports
    np.testing.assert_array_equal(book.params["user_factors"], snap.user_factors)


def test_export_without_the_option_has_no_long_sheets(tmp_path, snaps):
    path = tmp_path / "plain.xlsx"
    export_xlsx(snaps["plain"], path)
    assert ONEHOT not in openpyxl.load_workbook(path).sheetnames


def test_a_sheet_too_big_for_a_one_hot_sheet_is_refused_before_writing(tmp_path):
    sheet = Sheet(grid(seed=1, n=200, m=200), SheetConfig(k=2), OptimizerSettings("adam", lr=0.05), "cpu")
    path = tmp_path / "big.xlsx"
    with pytest.raises(XlsxError, match="one-hot sheet would hold"):
        export_xlsx(sheet.snapshot(), path, long_sheets=True)
    assert not path.exists()
