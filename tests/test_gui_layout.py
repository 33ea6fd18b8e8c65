"""The sheet's table layout and the cell text parser: pure functions, no window."""
from __future__ import annotations

import pytest

from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.layout import Cell, SheetLayout
from collabsheet.gui.sheet.cell_text import edit_text, number_text, parse_number, rating_text


@pytest.mark.parametrize("biases", [False, True])
def test_every_cell_round_trips(biases):
    lay = SheetLayout(n=4, m=3, k=2, biases=biases)
    assert lay.rows == 2 + biases + 4 and lay.columns == 3 + 1 + 2 + biases + 3
    seen = {}
    for row in range(lay.rows):
        for col in range(lay.columns):
            cell = lay.cell(row, col)
            if cell.kind not in (L.BLANK, L.LOSS):
                assert lay.position(cell) == (row, col)
                seen.setdefault(cell.kind, set()).add(cell.index)
    assert len(seen[L.RATING]) == len(seen[L.PREDICTION]) == 12
    assert len(seen[L.USER_FACTORS]) == 8 and len(seen[L.ITEM_FACTORS]) == 6
    assert (L.USER_BIAS in seen) == (L.ITEM_BIAS in seen) == biases


def test_blocks_sit_where_the_workbook_has_them():
    lay = SheetLayout(n=4, m=3, k=2, biases=True)
    assert lay.cell(lay.top, 0) == Cell(L.RATING, (0, 0))  # ratings: users down, movies across
    assert lay.cell(0, lay.left) == Cell(L.ITEM_FACTORS, (0, 0))  # movie factors above the predictions
    assert lay.cell(lay.top, lay.left - 2) == Cell(L.USER_FACTORS, (0, 1))  # user factors to their left
    assert lay.cell(lay.top, lay.left - 1) == Cell(L.USER_BIAS, (0,))
    assert lay.cell(lay.k, lay.left + 2) == Cell(L.ITEM_BIAS, (2,))
    assert lay.loss_span() == (0, lay.factor_col, 3, 3)
    assert lay.cell(0, lay.factor_col).kind == L.LOSS and lay.cell(0, 0).kind == L.BLANK
    assert lay.cell(lay.top, lay.gap).kind == L.BLANK
    assert lay.column_item(lay.left + 1) == 1 and lay.column_item(lay.gap) is None
    assert lay.row_user(lay.top + 3) == 3 and lay.row_user(0) is None


def test_parse_number_and_rating_text():
    assert parse_number(" 4 ") == 4.0 and parse_number("3,5") == 3.5
    for bad in ("abc", "", "nan", "inf", "4..5"):
        with pytest.raises(ValueError):
            parse_number(bad)
    assert rating_text(4.0) == "4" and rating_text(3.5) == "3.5" and rating_text(4.25) == "4.25"


def test_number_text_shortens_as_numbers_grow():
    """Like a spreadsheet's General format: fewer decimals for bigger numbers, then scientific."""
    assert [number_text(v) for v in (-0.5, 9.876, -103.06, 263.22, 1160.42, -1234.567, 99999.4, 263_000.0)] == \
        ["-0.50", "9.88", "-103.1", "263.2", "1160", "-1235", "99999", "2.6e+05"]
    assert number_text(0.53, sign=True) == "+0.53" and number_text(12.0, strip=True) == "12"
    assert number_text(float("nan")) == "nan"
    room = lambda n: (lambda text: len(text) <= n)  # noqa: E731 — a cell that takes n characters
    assert number_text(-103.06, fits=room(7)) == "-103.06"  # a wide enough cell keeps both decimals
    assert [number_text(-103.06, fits=room(n)) for n in (6, 4, 3)] == ["-103.1", "-103", "###"]
    assert number_text(-1234.567, fits=room(5)) == "-1235"
    assert number_text(263_000.0, fits=room(7)) == "263000" and number_text(263_000.0, fits=room(5)) == "3e+05"
    assert number_text(2.63e7, fits=room(7)) == "2.6e+07"
    assert number_text(4.25, strip=True, fits=room(3)) == "4.2" and number_text(1e9, fits=room(0)) == ""
    assert edit_text(-1234.567) == "-1234.567" and edit_text(4.0) == "4" and float(edit_text(0.1 + 0.2)) == 0.1 + 0.2


@pytest.mark.parametrize("biases", [False, True])
def test_blocks_cover_exactly_their_cells(biases):
    lay = SheetLayout(n=4, m=3, k=2, biases=biases)
    for kind, (r0, r1, c0, c1) in lay.blocks().items():
        assert {lay.cell(r, c).kind for r in range(r0, r1) for c in range(c0, c1)} == {kind}
    counted = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in lay.blocks().values())
    kinds = [lay.cell(r, c).kind for r in range(lay.rows) for c in range(lay.columns)]
    assert counted == sum(k not in (L.BLANK, L.LOSS) for k in kinds)
