"""Every view agrees with the engine's frame after every transition (issue 20): Reset, a new file, a new top-N, a
reshape (biases), a racer taken, another branch, a divergence. Each test drives one in the real window, then
checks the loss plot, the boxes over the cells, the coach bar, the status bar, the labels, the spin boxes and the
branch picker against the snapshot shown (`assert_views_agree`)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from collabsheet.engine.config import OptimizerSettings
from collabsheet.gui.sheet.cell_text import loss_text
from collabsheet.gui.sheet.layout import Cell
from collabsheet.gui.sheet.overlay import precedent_ranges
from collabsheet.gui.sheet.transitions import EFFECTS, ORDER, SheetTransitions
from sheet_helpers import WAIT_MS, run



@pytest.fixture
def window(laptop_window):
    return laptop_window


def idle(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=WAIT_MS)


def assert_views_agree(window) -> None:
    """Every view of the Sheet tab shows the snapshot on screen, and nothing of a state before it."""
    tab = window.sheet
    snap, c, s = tab.snapshot, tab.controls, snap_settings(tab)
    n, m = snap.ratings.shape
    # spin boxes and boxes
    assert (c.k.value(), c.biases.isChecked(), c.squash.isChecked()) == (snap.k, snap.biases, snap.squash)
    assert c.squash_range.currentData() == snap.squash_range and c.squash_range.isEnabled() == snap.squash
    assert c.optimizer.currentData() == s.name and c.lr.value() == pytest.approx(s.lr)
    assert c.top.value() == max(n, m)  # top-N users × top-N movies, each as many as there are
    # labels and the status bar
    assert f"{snap.dataset}" in window.status_labels["dataset"].text() and f"sheet {n}×{m}" in \
        window.status_labels["dataset"].text()
    assert window.status_labels["step"].text().startswith(f"step {snap.step:,}")
    assert loss_text(snap.rmse) in window.status_labels["rmse"].text()
    assert tab.legend.context.text().endswith(f"k={snap.k} · {s.label} lr {s.lr:g}")
    # the boxes over the cells: on this layout, inside the table
    layout = tab.model.layout
    expected = precedent_ranges(layout, tab.precedents) if tab.explain.cell is not None else ()
    assert tab.view.precedents == expected
    rows, cols = tab.model.rowCount(), tab.model.columnCount()
    assert all(r1 < rows and c1 < cols for _, r1, _, c1 in tab.view.precedents)
    for cell in tab.view.edited | ({tab.view.coached} if tab.view.coached else set()):
        r, col = layout.position(cell)
        assert 0 <= r < rows and 0 <= col < cols, cell
    # the coach: shown exactly when it has a verdict on this run, its box only then
    if tab.coach.diagnosis is None:
        assert tab.coach.bar.isHidden() and tab.view.coached is None
    # the branch picker names the branch followed by its settings now
    bar = tab.timeline_bar
    assert bar.branches.currentData() == tab.timeline.branch
    assert f"{s.label} · lr {s.lr:g}" in bar.branches.currentText() or snap.step < tab.timeline.end
    # the loss plot: only this run's curves, over this run's steps
    plot = tab.losses.plot
    if plot is not None:
        start = tab.timeline.start
        for trace in plot.traces.values():
            if trace.item.getViewBox() is plot.plot.getViewBox() and trace.n:
                assert trace.x[:trace.n].min() >= start


def snap_settings(tab) -> OptimizerSettings:
    return tab.snapshot.settings


def test_every_effect_the_table_names_has_a_view_that_applies_it():
    """The one table: each transition's effects are views the tab clears; a tab that left one out is refused."""
    assert set().union(*EFFECTS.values()) <= set(ORDER)
    with pytest.raises(ValueError, match="explain"):
        SheetTransitions({name: (lambda frame, previous: None) for name in ORDER if name != "explain"})


def test_reset_after_a_long_run_shows_the_short_new_one(qtbot, window):
    """Item 5: after Reset the plot kept the old run's x-range (0–300,000) and start dot; a short new run was invisible."""
    tab = window.sheet
    run(qtbot, tab, 3000)
    tab.select(Cell("prediction", (2, 3)))
    window.statusBar().showMessage("said of the old run")
    tab.actions["reset"].trigger()
    qtbot.waitUntil(lambda: tab.snapshot.step == 0, timeout=WAIT_MS)
    idle(qtbot, tab)
    run(qtbot, tab, 20)
    plot = tab.losses.plot
    qtbot.waitUntil(lambda: plot.plot.getViewBox().viewRange()[0][1] < 1000, timeout=WAIT_MS)
    starts = [t for t in plot.traces.values() if t.item.name() is None and t.n == 1]
    assert len(starts) <= 1  # one start dot: the new run's
    assert window.statusBar().currentMessage() == ""
    assert_views_agree(window)


def test_a_new_file_clears_the_marks_on_the_you_row_and_every_view_follows(qtbot, window, tmp_path):
    """Item 8: dashed boxes stayed on the "you" row after loading another dataset."""
    tab = window.sheet
    tab.actions["add_me"].trigger()
    qtbot.waitUntil(lambda: tab.model.new_user_row is not None, timeout=WAIT_MS)
    idle(qtbot, tab)
    tab.select(Cell("prediction", (tab.model.new_user_row, 2)))
    qtbot.waitUntil(lambda: len(tab.view.precedents) > 0, timeout=WAIT_MS)
    path = tmp_path / "small.csv"
    path.write_text("user,item,rating\n" + "\n".join(f"{u},{i},{(u * i) % 5 + 1}" for u in range(4) for i in range(6)))
    tab.open_ratings(str(path))
    qtbot.waitUntil(lambda: tab.snapshot.dataset == "small.csv", timeout=WAIT_MS)
    idle(qtbot, tab)
    qtbot.waitUntil(lambda: tab.snapshot.ratings.shape == (4, 6), timeout=WAIT_MS)
    assert_views_agree(window)
    assert tab.model.new_user_row is None or all(r0 < tab.model.rowCount() for r0, *_ in tab.view.precedents)


def test_toggling_biases_keeps_the_boxes_on_the_cells_the_formula_reads(qtbot, window):
    """Item 8: boxes were off by one column after toggling biases: placed on the layout before the frame's."""
    tab = window.sheet
    tab.view.select_cell(Cell("prediction", (1, 1)))
    qtbot.waitUntil(lambda: tab.precedents != (), timeout=WAIT_MS)
    before = tab.view.precedents
    tab.controls.biases.setChecked(not tab.controls.biases.isChecked())
    qtbot.waitUntil(lambda: tab.snapshot.biases == tab.controls.biases.isChecked() and
                    tab.view.precedents != before, timeout=WAIT_MS)
    idle(qtbot, tab)
    assert_views_agree(window)


def test_the_sigmoid_and_its_range_reshape_and_every_view_follows_through_a_reset(qtbot, window):
    """The sigmoid box and its range (the lesson's min–max, the course's 0–max+10%) reshape the sheet; a Reset keeps
    them; every view shows the snapshot's after each."""
    tab, c = window.sheet, window.sheet.controls
    c.squash.setChecked(True)
    qtbot.waitUntil(lambda: tab.snapshot.squash, timeout=WAIT_MS)
    idle(qtbot, tab)
    assert_views_agree(window)
    c.squash_range.setCurrentIndex(c.squash_range.findData("wide"))
    qtbot.waitUntil(lambda: tab.snapshot.squash_range == "wide", timeout=WAIT_MS)
    run(qtbot, tab, 20)
    assert_views_agree(window)
    tab.actions["reset"].trigger()
    qtbot.waitUntil(lambda: tab.snapshot.step == 0, timeout=WAIT_MS)
    idle(qtbot, tab)
    assert tab.snapshot.squash and tab.snapshot.squash_range == "wide"
    assert_views_agree(window)
    c.squash_range.setCurrentIndex(c.squash_range.findData("data"))
    c.squash.setChecked(False)
    qtbot.waitUntil(lambda: not tab.snapshot.squash and tab.snapshot.squash_range == "data", timeout=WAIT_MS)
    idle(qtbot, tab)
    assert_views_agree(window)


def test_a_new_top_n_rebuilds_and_every_view_follows(qtbot, window):
    """A new top-N (asked first, after steps): the spin box, the plot and the status bar show the new sheet."""
    tab = window.sheet
    run(qtbot, tab, 50)
    tab.controls.top.setValue(10)
    qtbot.waitUntil(lambda: tab.question is not None and tab.question.isVisible(), timeout=WAIT_MS)
    tab.question.button(QMessageBox.Yes).click()
    qtbot.waitUntil(lambda: tab.snapshot.ratings.shape == (10, 10), timeout=WAIT_MS)
    idle(qtbot, tab)
    assert tab.last_transitions[:1] == ["loss_plot"]
    assert_views_agree(window)


def test_taking_momentum_renames_the_branch_and_every_view_follows(qtbot, window):
    """Item 9: the branch picker said "Adam · lr 0.05" after taking Momentum from the race."""
    tab = window.sheet
    tab.engine.set_optimizer(OptimizerSettings("adam", lr=0.05))
    run(qtbot, tab, 30)
    tab.race.start([OptimizerSettings("momentum", lr=0.01), OptimizerSettings("sgd", lr=0.01)], 100)
    qtbot.waitUntil(lambda: tab.race.frame is not None and not tab.race.frame.running, timeout=WAIT_MS)
    qtbot.mouseClick(tab.race.panel.cards[0].take, Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.snapshot.settings.name == "momentum", timeout=WAIT_MS)
    idle(qtbot, tab)
    assert "→ Momentum" in tab.timeline_bar.branches.currentText(), tab.timeline_bar.branches.currentText()
    assert tab.coach.diagnosis is None or tab.coach.diagnosis.step >= 30  # no verdict measured under Adam
    assert_views_agree(window)


def test_switching_branch_shows_that_branchs_settings_everywhere(qtbot, window):
    """Another branch picked: the spin boxes, labels and picker show its settings, not the branch left."""
    tab = window.sheet
    run(qtbot, tab, 10)
    tab.engine.seek(5)
    qtbot.waitUntil(lambda: tab.snapshot.step == 5, timeout=WAIT_MS)
    tab.engine.set_optimizer(OptimizerSettings("sgd", lr=0.02))
    qtbot.waitUntil(lambda: tab.timeline_bar.branches.count() == 2 and tab.state == "idle", timeout=WAIT_MS)
    run(qtbot, tab, 3)
    first = tab.timeline_bar.branches.itemData(0)
    tab.engine.resume(first)
    qtbot.waitUntil(lambda: tab.timeline.branch == first and tab.snapshot.step == 10, timeout=WAIT_MS)
    idle(qtbot, tab)
    assert tab.last_transitions and "controls" in tab.last_transitions
    assert tab.controls.lr.value() == pytest.approx(tab.snapshot.settings.lr) != 0.02
    assert_views_agree(window)


def test_a_divergence_leaves_every_view_on_the_last_good_step(qtbot, window):
    """A refused step: the status bar says so, and every view shows the kept parameters."""
    tab = window.sheet
    run(qtbot, tab, 20)
    tab.engine.set_optimizer(OptimizerSettings("sgd", lr=100.0))
    tab.engine.step(5)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Diverged"), timeout=WAIT_MS)
    idle(qtbot, tab)
    assert tab.snapshot.settings.lr == 100.0 and "controls" in tab.last_transitions
    assert_views_agree(window)


def test_a_segment_of_one_point_is_drawn_as_a_dot(qtbot):
    """Item 12: the lr 100 segment (one point before it diverged) was named in the legend and drawn nowhere."""
    from collabsheet.gui.runtime.series import LINE, Points
    from collabsheet.gui.widgets.curve_plot import QCurvePlot

    plot = QCurvePlot("RMSE", "step", log_y=True)
    qtbot.addWidget(plot)
    plot.add([Points(1, "SGD · lr 100", 20, np.array([3.5]), LINE)])
    plot.refresh()
    assert plot.traces[1].item.opts["symbol"] == "o"  # a dot where the line cannot be
    plot.add([Points(1, "SGD · lr 100", 21, np.array([2.5]), LINE)])
    plot.refresh()
    assert plot.traces[1].item.opts["symbol"] is None  # a line once there are two points
