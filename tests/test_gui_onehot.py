"""The View menu's one-hot × embedding view: a selected rating's one-hot rows pick the same rows as the lookup,
live with the sheet's factors."""
from __future__ import annotations

import numpy as np
import pytest

from collabsheet.gui.sheet.layout import RATING, Cell

WAIT_MS = 30_000


@pytest.fixture
def window(shown_window):
    return shown_window


def test_a_selected_rating_shows_its_one_hot_rows_products_and_lookups(qtbot, window):
    tab = window.sheet
    view_menu = [m for m in window.menuBar().actions() if m.text() == "&View"][0].menu()
    assert tab.actions["onehot"] in view_menu.actions()
    tab.actions["onehot"].trigger()
    dialog = tab.onehot
    assert dialog is not None and dialog.isVisible()
    snap = tab.snapshot
    i, j = (int(x) for x in np.argwhere(snap.mask)[7])
    tab.view.select_cell(Cell(RATING, (i, j)))
    qtbot.waitUntil(lambda: dialog.view() is not None and dialog.view().user_one_hot[i] == 1, timeout=WAIT_MS)
    v = dialog.view()
    assert v.user_one_hot.sum() == 1 and v.item_one_hot[j] == 1 and v.item_one_hot.sum() == 1
    np.testing.assert_array_equal(v.user_product, snap.user_factors[i])
    np.testing.assert_array_equal(v.user_lookup, snap.user_factors[i])
    np.testing.assert_array_equal(v.item_product, snap.item_factors[:, j])
    assert dialog.equal()
    text = dialog.browser.toPlainText()
    assert f"{snap.rmse:.12f}" in text and text.count(f"{snap.rmse:.12f}") == 3  # both long sheets' and the sheet's
    assert "NOT equal" not in text and text.count("equal") == 2
    # Live: steps move the factors, and the rows shown follow them.
    before = v.user_lookup.copy()
    tab.engine.step(5)
    qtbot.waitUntil(lambda: tab.snapshot.step == snap.step + 5 and tab.state == "idle", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not np.array_equal(dialog.view().user_lookup, before), timeout=WAIT_MS)
    np.testing.assert_array_equal(dialog.view().user_product, tab.snapshot.user_factors[i])
    qtbot.waitUntil(lambda: f"{tab.snapshot.rmse:.12f}" in dialog.browser.toPlainText(), timeout=WAIT_MS)


def test_a_blank_cell_keeps_the_rating_shown(qtbot, window):
    tab = window.sheet
    tab.actions["onehot"].trigger()
    dialog = tab.onehot
    dialog.row.setValue(3)
    shown = dialog.view().index
    i, j = (int(x) for x in np.argwhere(~tab.snapshot.mask)[0])
    tab.select(Cell(RATING, (i, j)))  # a rating cell with no rating in it
    assert dialog.view().index == shown == 2
