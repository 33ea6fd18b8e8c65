"""A race in the Sheet tab: three optimizers from the sheet's factors, their curves, heat maps and RMSEs, and taking one."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from collabsheet.engine.config import OptimizerSettings as O
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.gui.race.dialog import QRaceDialog
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.sheet.frames import Frame, LoadRequest
from collabsheet.gui.sheet.runner import SheetRunner

WAIT_MS = 60_000
RACERS = [O("sgd", lr=0.01), O("momentum", lr=0.01), O("adam", lr=0.05)]


def alone(movielens, start: int, settings: O, steps: int) -> Sheet:
    """A plain Sheet run: the window's first sheet after `start` steps of Adam, then `steps` with a fresh optimizer."""
    sheet = Sheet(top_crosstab(movielens, 15), SheetConfig(), O(), device="cpu")
    if start:  # (Sheet.step(0) fails in the engine: torch.stack of no losses)
        sheet.step(start)
    sheet.set_optimizer(settings if settings.name != "adam" else O("sgd"))  # a fresh optimizer state, as a racer has
    sheet.set_optimizer(settings)
    sheet.step(steps)
    return sheet


@pytest.fixture
def window(laptop_window):
    return laptop_window


def test_the_dialog_offers_the_default_racers(qtbot):
    dialog = QRaceDialog()
    qtbot.addWidget(dialog)
    assert dialog.racers() == RACERS and dialog.max_steps() == 10_000
    dialog.rows["rmsprop"][0].setChecked(True)
    dialog.rows["rmsprop"][1].setValue(0.002)
    assert O("rmsprop", lr=0.002) in dialog.racers()
    for tick, _ in dialog.rows.values():
        tick.setChecked(False)
    assert not dialog.ok.isEnabled()


def test_a_race_of_three_shows_three_curves_and_heat_maps_whose_rmse_equal_separate_runs(qtbot, window, movielens):
    tab = window.sheet
    tab.engine.step(50)
    qtbot.waitUntil(lambda: tab.snapshot.step == 50 and tab.state == "idle", timeout=WAIT_MS)
    tab.race.start(RACERS, 1500)
    qtbot.waitUntil(lambda: tab.race.frame is not None and not tab.race.frame.running, timeout=WAIT_MS)
    panel = tab.race.panel
    assert tab.side_tabs.currentWidget() is panel
    assert panel.labels() == ["SGD 0.01", "Momentum 0.01", "Adam 0.05"]
    assert len(panel.cards) == 3 and all(card.heatmap._image is not None for card in panel.cards)
    for view, curve, card in zip(tab.race.frame.racers, panel.curves, panel.cards):
        x, y = curve.xData, curve.yData  # the data as given (getData gives log10 y on the log axis)
        assert len(x) == view.steps + 1 and y[-1] == pytest.approx(view.rmse, rel=1e-12)
        reference = alone(movielens, 50, view.settings, view.steps)
        assert view.rmse == pytest.approx(reference.rmse(), rel=1e-12), view.label
        np.testing.assert_allclose(view.predictions[reference.snapshot().mask],
                                   reference.snapshot().predictions[reference.snapshot().mask], rtol=1e-12)
        assert f"RMSE {view.rmse:.4f}" in card.numbers.text() and card.take.isEnabled()
    assert tab.snapshot.step == 50  # the sheet stayed where it was


def test_a_racer_refused_early_keeps_its_few_points_on_the_plot_beside_long_ones(qtbot, window):
    """pyqtgraph's auto downsampling takes its factor from the whole view: a racer refused within a few steps of a
    5,000-step race was thinned to no points at all, named in the legend and drawn nowhere."""
    tab = window.sheet
    tab.race.start([O("sgd", lr=10.0), O("adam", lr=0.05)], 5000)  # SGD at lr 10 is refused at its second step
    qtbot.waitUntil(lambda: tab.race.frame is not None and not tab.race.frame.running, timeout=WAIT_MS)
    panel = tab.race.panel
    short, long = tab.race.frame.racers
    assert 1 <= short.steps < 10 and long.steps == 5000
    qtbot.wait(100)  # the view takes its range from the long curve
    shown, given = panel.curves[0].getData()[0], panel.curves[0].xData  # as displayed, as given
    assert len(given) == short.steps + 1 and len(shown) == len(given)  # every one of its points is drawn
    assert panel.curves[0].opts["symbol"] is None and panel.curves[1].opts["symbol"] is None  # lines, both


def test_a_racer_refused_at_its_first_step_is_drawn_as_its_one_point(qtbot, window):
    tab = window.sheet
    tab.race.start([O("sgd", lr=1e9), O("adam", lr=0.05)], 300)
    qtbot.waitUntil(lambda: tab.race.frame is not None and not tab.race.frame.running, timeout=WAIT_MS)
    short, long = tab.race.frame.racers
    assert short.steps == 0 and long.steps == 300
    curve = tab.race.panel.curves[0]
    assert np.count_nonzero(np.isfinite(curve.yData)) == 1 and curve.opts["symbol"] == "o"
    assert len(curve.scatter.data) == 1  # the point is painted: a line of one point is not


def test_taking_a_racer_puts_its_factors_in_the_sheet_at_the_current_step(qtbot, window, movielens):
    tab = window.sheet
    tab.race.start(RACERS, 400)
    qtbot.waitUntil(lambda: tab.race.frame is not None and not tab.race.frame.running, timeout=WAIT_MS)
    adam = tab.race.frame.racers[2]
    qtbot.mouseClick(tab.race.panel.cards[2].take, Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.snapshot.rmse == pytest.approx(adam.rmse, rel=1e-12), timeout=WAIT_MS)
    assert tab.snapshot.step == 0 and tab.snapshot.settings == adam.settings
    reference = alone(movielens, 0, adam.settings, adam.steps)
    reference.step(10)  # the taken racer goes on exactly as it would have
    tab.engine.step(10)
    qtbot.waitUntil(lambda: tab.snapshot.step == 10, timeout=WAIT_MS)
    np.testing.assert_allclose(tab.snapshot.user_factors, reference.params()["user_factors"], rtol=1e-12)
    assert [e.kind for e in tab.engine.runner.timeline.branch.events][-1:] == ["race"]


def test_a_race_stops_when_asked_and_refuses_a_racer_for_a_sheet_of_another_shape(movielens):
    runner = SheetRunner(Mailbox(Frame), device="cpu")
    runner.loader.load(LoadRequest(ratings=movielens))
    runner.race.start(RACERS, 100_000)
    runner.tick()
    runner.race.stop()
    frame = runner.mailbox.take()
    assert not frame.race.running and 0 < frame.race.steps < 100_000 and runner.tick() is None
    runner.configure(SheetConfig(k=3), 15)
    with pytest.raises(ValueError, match="changed shape"):
        runner.race.take(0)
    with pytest.raises(ValueError, match="no racer 4"):
        runner.race.session.state_for(3, runner.sheet)
