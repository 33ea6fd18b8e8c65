"""Held-out cells in the Sheet tab: hatched, left out of the loss and Solve, and their own RMSE in the loss cell and curve."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.sheet import holdout
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.runtime.series import DASHED
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.cell_text import loss_text
from collabsheet.gui.sheet.frames import HOLDOUT, Frame, LoadRequest
from collabsheet.gui.sheet.layout import Cell
from collabsheet.gui.sheet.runner import HOLDOUT_FRACTION, HOLDOUT_SEED, SheetRunner

WAIT_MS = 30_000


def held_sheet(movielens, config: SheetConfig = SheetConfig()) -> Sheet:
    sheet = Sheet(top_crosstab(movielens, 15), config, OptimizerSettings(), device="cpu")
    sheet.set_holdout(HOLDOUT_FRACTION, HOLDOUT_SEED)
    return sheet


@pytest.fixture
def window(laptop_window):
    return laptop_window


def cell_rect(tab, kind: str, index: tuple):
    return tab.view.visualRect(tab.model.index(*tab.model.layout.position(Cell(kind, index))))


def test_the_toggle_hatches_the_held_out_cells_and_the_loss_cell_shows_their_rmse(qtbot, window, movielens):
    tab = window.sheet
    tab.view.fit()
    before = tab.view.viewport().grab().toImage()
    tab.controls.holdout.setChecked(True)
    qtbot.waitUntil(lambda: tab.snapshot.holdout_count > 0, timeout=WAIT_MS)
    reference = held_sheet(movielens)
    picked = holdout.pick(reference.ratings, HOLDOUT_FRACTION, HOLDOUT_SEED)
    np.testing.assert_array_equal(tab.model.holdout, picked)
    assert tab.snapshot.holdout_rmse == pytest.approx(reference.holdout_rmse(), rel=1e-12)
    assert tab.snapshot.rmse == pytest.approx(reference.rmse(), rel=1e-12) and tab.snapshot.count == reference.model.count
    model = tab.model
    text = model.data(model.index(*model.layout.position(Cell(L.LOSS))), Qt.DisplayRole)
    assert text == f"RMSE\n{loss_text(reference.rmse())}\nheld out {loss_text(reference.holdout_rmse())}"
    i, j = map(int, np.argwhere(picked)[0])
    assert model.data(model.index(*model.layout.position(Cell(L.RATING, (i, j)))), Qt.DisplayRole) != ""  # still shown
    qtbot.wait(100)
    after = tab.view.viewport().grab().toImage()
    ratio = tab.view.viewport().devicePixelRatioF()

    def pixels(image, rect):
        return [image.pixel(int(x * ratio), int(y * ratio)) for x in range(rect.left() + 2, rect.right() - 1)
                for y in range(rect.top() + 2, rect.bottom() - 1)]

    for kind in (L.RATING, L.PREDICTION):  # diagonal lines over the held-out cell, none over a kept one
        assert pixels(before, cell_rect(tab, kind, (i, j))) != pixels(after, cell_rect(tab, kind, (i, j)))
    k, m = map(int, np.argwhere(tab.snapshot.mask)[0])
    assert pixels(before, cell_rect(tab, L.RATING, (k, m))) == pixels(after, cell_rect(tab, L.RATING, (k, m)))


def test_the_curve_shows_the_held_out_rmse_dashed_and_the_explain_panel_its_error(qtbot, window, movielens):
    tab = window.sheet
    tab.actions["holdout"].trigger()
    qtbot.waitUntil(lambda: tab.snapshot.holdout_count > 0, timeout=WAIT_MS)
    assert tab.controls.holdout.isChecked()
    tab.engine.step(40)
    qtbot.waitUntil(lambda: tab.snapshot.step == 40 and tab.state == "idle", timeout=WAIT_MS)
    tab.losses.plot.refresh()
    dashed = [t for s, t in tab.losses.plot.traces.items() if s >= HOLDOUT]
    assert len(dashed) == 1 and dashed[0].n == 41
    reference = held_sheet(movielens)
    result = reference.step(40)
    np.testing.assert_allclose(dashed[0].y[:40], result.holdout_losses, rtol=1e-12)
    assert dashed[0].y[40] == pytest.approx(tab.snapshot.holdout_rmse, rel=1e-12)
    assert dashed[0].item.opts["pen"].style() == Qt.DashLine
    i, j = map(int, np.argwhere(tab.snapshot.holdout)[0])
    tab.view.select_cell(Cell(L.PREDICTION, (i, j)))
    qtbot.waitUntil(lambda: tab.explain.explanation is not None and "held-out rating r" in dict(tab.explain.explanation.terms),
                    timeout=WAIT_MS)
    terms = dict(tab.explain.explanation.terms)
    assert terms["held-out rating r"] == reference.ratings[i, j] and "Held out" in tab.explain.text()


def test_seeking_before_the_toggle_shows_every_cell_again(qtbot, window):
    tab = window.sheet
    tab.engine.step(20)
    qtbot.waitUntil(lambda: tab.snapshot.step == 20 and tab.state == "idle", timeout=WAIT_MS)
    tab.controls.holdout.setChecked(True)
    qtbot.waitUntil(lambda: tab.snapshot.holdout_count > 0, timeout=WAIT_MS)
    tab.engine.step(20)
    qtbot.waitUntil(lambda: tab.snapshot.step == 40, timeout=WAIT_MS)
    tab.engine.seek(10)
    qtbot.waitUntil(lambda: tab.snapshot.step == 10, timeout=WAIT_MS)
    assert tab.snapshot.holdout_count == 0 and not tab.controls.holdout.isChecked() and tab.model.holdout is None


def test_solve_and_the_curve_respect_the_held_out_cells(movielens):
    runner = SheetRunner(Mailbox(Frame), device="cpu", config=SheetConfig(k=2))
    runner.loader.load(LoadRequest(ratings=movielens))
    runner.set_holdout(True)
    runner.solve()
    reference = held_sheet(movielens, SheetConfig(k=2))
    reference.solve()
    assert runner.sheet.rmse() == pytest.approx(reference.rmse(), rel=1e-9)
    assert runner.sheet.holdout_rmse() == pytest.approx(reference.holdout_rmse(), rel=1e-6)
    runner.mailbox.take()
    runner.step(2)
    losses = runner.mailbox.take().losses
    assert [p.style for p in losses if p.series >= HOLDOUT] == [DASHED, DASHED]
    assert losses[-1].values[-1] == pytest.approx(runner.sheet.holdout_rmse(), rel=1e-12)
