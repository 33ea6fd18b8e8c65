"""The Sheet tab's timeline: scrub to any step, branch from the past, resume a branch, and the coach's fixes.

The runner's side is checked without Qt; the window's through its slider, branch picker, loss plot and coach bar.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.sheet.sheet import Sheet
from gui_thread_probe import assert_gui_thread_runs_no_torch
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.frames import Frame, LoadRequest
from collabsheet.gui.sheet.layout import Cell
from collabsheet.gui.sheet.runner import SheetRunner
from sheet_helpers import WAIT_MS, run

BLOCKS = ("user_factors", "item_factors")


def engine_sheet(movielens, steps: int = 0, settings: OptimizerSettings = OptimizerSettings()) -> Sheet:
    """The engine's own sheet, as the window's first one, stepped `steps` times."""
    sheet = Sheet(top_crosstab(movielens, 15), SheetConfig(), settings, device="cpu")
    sheet.step(steps)
    return sheet


def same_params(snap, sheet: Sheet) -> None:
    for block in BLOCKS:
        np.testing.assert_array_equal(snap.params[block], sheet.params()[block])


# --- the runner, without Qt ----------------------------------------------------------------------
@pytest.fixture
def runner(movielens):
    r = SheetRunner(Mailbox(Frame), device="cpu")
    r.loader.load(LoadRequest(ratings=movielens))
    r.mailbox.take()
    return r


def test_seeking_publishes_that_steps_sheet_and_where_it_is(runner, movielens):
    runner.step(300)
    runner.history.seek(137)
    frame = runner.mailbox.take()
    same_params(frame.snapshot, engine_sheet(movielens, 137))
    info = frame.timeline
    assert (info.step, info.end, info.branch, info.at_head) == (137, 300, 0, False)
    assert frame.display is frame.snapshot  # no new user's row: the table shows the snapshot itself


def test_replaying_a_recorded_stretch_draws_nothing_and_continues_bit_for_bit(runner, movielens):
    runner.step(300)
    runner.history.seek(137)
    runner.mailbox.take()
    runner.step(100)  # along the recorded branch: the curve has these steps already
    frame = runner.mailbox.take()
    assert not frame.losses and frame.timeline.end == 300
    same_params(frame.snapshot, engine_sheet(movielens, 237))
    runner.step(100)  # past the head: 63 replayed, 37 recorded and drawn
    frame = runner.mailbox.take()
    assert frame.timeline.end == 337 and frame.losses[-1].x0 == 301 and len(frame.losses[-1].values) == 37
    reference = engine_sheet(movielens, 337)
    same_params(frame.snapshot, reference)
    assert frame.losses[-1].values[-1] == reference.rmse()


def test_a_new_lr_at_a_past_step_starts_a_branch_and_the_old_one_stays(runner, movielens):
    runner.step(200)
    head = runner.sheet.params()
    runner.history.seek(80)
    runner.set_optimizer(OptimizerSettings("adam", lr=0.01))
    runner.step(50)
    frame = runner.mailbox.take()
    info = frame.timeline
    assert [(b.id, b.parent, b.fork, b.end) for b in info.branches] == [(0, None, 0, 200), (1, 0, 80, 130)]
    assert [b.number for b in info.branches] == [1, 2]  # as the picker and the legend show them
    new = [p for p in frame.losses if info.series.get(p.series) == 1]
    assert new[0].x0 == 80 and new[0].label == "Adam · lr 0.01 · branch 2" and new[-1].x0 + len(new[-1].values) == 131
    reference = engine_sheet(movielens, 80)
    reference.set_optimizer(OptimizerSettings("adam", lr=0.01))
    reference.step(50)
    same_params(frame.snapshot, reference)
    runner.history.resume(0)  # the old branch, as it was
    frame = runner.mailbox.take()
    assert frame.snapshot.step == 200 and frame.timeline.branch == 0
    for block in BLOCKS:
        np.testing.assert_array_equal(frame.snapshot.params[block], head[block])


def test_a_reset_starts_a_new_tree(runner):
    runner.step(20)
    runner.history.seek(5)
    runner.set_optimizer(OptimizerSettings("sgd", lr=0.01))
    runner.reset(3)
    frame = runner.mailbox.take()
    assert frame.clear_curves and [b.parent for b in frame.timeline.branches] == [None]
    assert frame.timeline.branch == 2 and frame.timeline.end == 0


def test_the_coach_speaks_after_a_run_diverges(runner):
    runner.set_optimizer(OptimizerSettings("sgd", lr=5.0))
    runner.step(100)
    frame = runner.mailbox.take()
    d = frame.diagnosis
    assert frame.diagnosed and d.kind == "diverging" and "refused" in d.evidence and d.cell[0] in BLOCKS
    assert [f.settings.lr for f in d.fixes] == [0.5, 0.01]


# --- the window ----------------------------------------------------------------------------------
@pytest.fixture
def window(laptop_window):
    return laptop_window


def loss_cell(tab) -> str:
    model = tab.model
    return model.data(model.index(*model.layout.position(Cell(L.LOSS))), Qt.DisplayRole)


def test_scrubbing_the_timeline_shows_that_steps_numbers(qtbot, window, movielens):
    tab = window.sheet
    run(qtbot, tab, 300)
    bar = tab.timeline_bar
    assert (bar.slider.minimum(), bar.slider.maximum(), bar.slider.value()) == (0, 300, 300)
    tab.view.select_cell(Cell(L.PREDICTION, (0, 0)))
    bar.slider.setValue(120)  # as a drag leaves it
    qtbot.waitUntil(lambda: tab.snapshot.step == 120 and tab.explain.explanation is not None
                    and ("step", 120) not in tab.explain.explanation.terms, timeout=WAIT_MS)
    reference = engine_sheet(movielens, 120)
    same_params(tab.snapshot, reference)
    assert loss_cell(tab) == f"RMSE\n{reference.rmse():.4f}"
    expected = reference.snapshot().predictions[0, 0]
    qtbot.waitUntil(lambda: dict(tab.explain.explanation.terms)["prediction p"] == pytest.approx(expected, rel=1e-12),
                    timeout=WAIT_MS)
    assert window.status_labels["step"].text() == "step 120 of 300" and bar.position.text() == "step 120 of 300"
    assert tab.losses.plot.cursor.value() == 120


def test_a_branch_with_another_lr_keeps_the_old_one_and_both_curves_show(qtbot, window, movielens):
    tab = window.sheet
    run(qtbot, tab, 200)
    tab.timeline_bar.slider.setValue(90)
    qtbot.waitUntil(lambda: tab.snapshot.step == 90, timeout=WAIT_MS)
    tab.controls.lr.setValue(0.01)  # the control strip, at a past step: a branch from here
    qtbot.waitUntil(lambda: tab.snapshot.settings.lr == 0.01, timeout=WAIT_MS)
    run(qtbot, tab, 60)
    info = tab.timeline
    assert [(b.fork, b.end) for b in info.branches] == [(0, 200), (90, 150)] and info.branch == 1
    tab.losses.plot.refresh()
    by_branch = {}
    for series, trace in tab.losses.plot.traces.items():
        if series in info.series:
            by_branch.setdefault(info.series[series], []).append(trace)
    old, new = by_branch[0][0], by_branch[1][0]
    assert (old.x[0], old.x[old.n - 1]) == (0, 200) and (new.x[0], new.x[new.n - 1]) == (90, 150)
    assert new.item.opts["pen"].widthF() > old.item.opts["pen"].widthF()  # the branch followed is bold
    assert tab.losses.plot.color_of[series_of(info, 0)] != tab.losses.plot.color_of[series_of(info, 1)]
    assert tab.timeline_bar.branches.count() == 2
    reference = engine_sheet(movielens, 90)
    reference.set_optimizer(OptimizerSettings("adam", lr=0.01))
    reference.step(60)
    same_params(tab.snapshot, reference)


def series_of(info, branch: int) -> int:
    return next(s for s, b in info.series.items() if b == branch)


def test_resuming_a_branch_from_the_picker_and_from_its_curve(qtbot, window, movielens):
    tab = window.sheet
    run(qtbot, tab, 100)
    tab.engine.seek(40)
    qtbot.waitUntil(lambda: tab.snapshot.step == 40, timeout=WAIT_MS)
    tab.engine.set_optimizer(OptimizerSettings("momentum", lr=0.02))
    run(qtbot, tab, 30)
    picker = tab.timeline_bar.branches
    picker.activated.emit(picker.findData(0))  # as a pick from the list
    qtbot.waitUntil(lambda: tab.timeline.branch == 0 and tab.snapshot.step == 100, timeout=WAIT_MS)
    same_params(tab.snapshot, engine_sheet(movielens, 100))
    tab.losses.plot.curve_clicked.emit(1, 55)  # a click on branch 1's curve at step 55
    qtbot.waitUntil(lambda: tab.timeline.branch == 1 and tab.snapshot.step == 55, timeout=WAIT_MS)
    assert tab.snapshot.settings == OptimizerSettings("momentum", lr=0.02)
    assert tab.controls.optimizer.currentData() == "momentum" and tab.controls.lr.value() == 0.02
    run(qtbot, tab, 45)  # along the recorded branch 1 to its head at 70, then on
    reference = engine_sheet(movielens, 40)
    reference.set_optimizer(OptimizerSettings("momentum", lr=0.02))
    reference.step(60)
    same_params(tab.snapshot, reference)
    assert tab.timeline.end == 100 and tab.timeline.branch == 1


def test_the_coach_bar_offers_a_fix_for_a_diverging_run_and_the_fix_holds(qtbot, window):
    tab = window.sheet
    tab.engine.set_optimizer(OptimizerSettings("sgd", lr=5.0))
    tab.engine.step(100)
    bar = tab.coach.bar
    qtbot.waitUntil(lambda: bar.isVisible() and tab.state == "idle", timeout=WAIT_MS)
    d = tab.coach.diagnosis
    assert d.kind == "diverging" and bar.evidence.text() == d.evidence and "largest gradient" in d.evidence
    assert tab.view.coached == Cell(*d.cell)
    fix = bar.buttons[0]
    assert "lr ÷ 10" in fix.label
    qtbot.mouseClick(fix, Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.snapshot.settings.lr == 0.5 and tab.snapshot.step == d.step, timeout=WAIT_MS)
    assert not bar.isVisible()
    run(qtbot, tab, 300)
    assert not tab.snapshot.diverged and tab.snapshot.rmse < 1
    assert tab.coach.diagnosis is None or tab.coach.diagnosis.kind != "diverging"


def test_a_fix_for_an_oscillating_run_starts_a_branch(qtbot, window):
    tab = window.sheet
    # SGD at lr 2.5 settles into a steady oscillation on this sheet (Adam at lr 1 is chaotic: on some CPUs it
    # oscillates, on others it stalls)
    tab.engine.set_optimizer(OptimizerSettings("sgd", lr=2.5))
    run(qtbot, tab, 1000)
    qtbot.waitUntil(lambda: tab.coach.bar.isVisible(), timeout=WAIT_MS)
    d = tab.coach.diagnosis
    assert d.kind == "oscillating" and d.step < 1000
    switch = tab.coach.bar.buttons[1]
    assert "switch to Adam" in switch.label
    qtbot.mouseClick(switch, Qt.LeftButton)  # back to the best step, on with another optimizer
    qtbot.waitUntil(lambda: len(tab.timeline.branches) == 2 and tab.snapshot.step == d.step, timeout=WAIT_MS)
    assert tab.timeline.branches[1].fork == d.step and tab.timeline.branches[0].end == 1000
    run(qtbot, tab, 500)
    assert tab.coach.diagnosis is None or tab.coach.diagnosis.kind not in ("oscillating", "diverging")


def test_the_gui_thread_runs_no_torch_code_with_the_timeline_race_coach_and_new_user():
    """Seeking, branching, the coach, a race, held-out cells and fold-in all compute in the worker."""
    assert_gui_thread_runs_no_torch("""
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from collabsheet.engine.config import OptimizerSettings as O
from collabsheet.gui.main_window import QMainSheetWindow
app = QApplication([])
w = QMainSheetWindow()
tab, done = w.sheet, []
def later(ms, f):
    QTimer.singleShot(ms, f)
def drive():
    if tab.snapshot is None or tab.losses.plot is None:
        return later(50, drive)
    tab.actions["holdout"].trigger()
    tab.engine.send("step", 50)  # at once (Step ×N would run in chunks, after the commands below)
    tab.engine.seek(20)
    tab.engine.set_optimizer(O("sgd", lr=5.0))
    tab.engine.send("step", 30)
    tab.race.start([O("sgd", lr=0.01), O("adam", lr=0.05)], 300)
    tab.actions["add_me"].trigger()
    later(1500, fold)
def fold():
    tab.engine.edit("rating", (15, 0), 5.0)
    tab.engine.edit("rating", (15, 1), 2.0)
    tab.engine.fold_in()
    later(1500, finish)
def finish():
    done.append((tab.coach.bar.isVisible(), tab.race.frame is not None and not tab.race.frame.running,
                 tab.new_user.row is not None and tab.new_user.row.folded_at is not None, len(tab.timeline.branches)))
    w.close()
    app.quit()
w.show()
later(50, drive)
later(60_000, app.quit)
app.exec()
assert done == [(True, True, True, 2)], done
""")
