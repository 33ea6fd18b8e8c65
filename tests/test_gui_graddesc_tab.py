"""The Gradient descent tab in the real window (pytest-qt, offscreen): rows, path, rmse, compare, files, keys, tabs."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from collabsheet.engine.graddesc import HEADINGS, GradDesc, Settings, columns, least_squares, lesson_data, paths, rmse
from collabsheet.gui.graddesc.table import GROUPS, cell_text

WAIT_MS = 30_000  # generous: the machine running the tests may be busy


@pytest.fixture
def window(qtbot, started_window):
    w = started_window
    w.tabs.setCurrentWidget(w.graddesc)
    qtbot.waitUntil(lambda: w.graddesc.progress is not None and w.graddesc.contour is not None, timeout=WAIT_MS)
    return w


def button(tab, name: str) -> QToolButton:
    return next(b for b in tab.controls.findChildren(QToolButton) if b.defaultAction() is tab.actions[name])


def steps(tab) -> int:
    return tab.progress.steps


def idle(tab) -> bool:
    return tab.state == "idle"


def choose(qtbot, tab, rule: str) -> None:
    tab.controls.optimizer.setCurrentIndex(tab.controls.optimizer.findData(rule))
    qtbot.waitUntil(lambda: tab.settings.rule == rule and steps(tab) == 0, timeout=WAIT_MS)


def column(tab, field: str) -> int:
    return tab.model.fields.index(field)


def path_end(tab) -> tuple[float, float]:
    x, y = tab.contour.path.getData()
    return float(x[-1]), float(y[-1])


def test_step_row_grows_the_table_by_the_engines_row_and_moves_the_path(qtbot, window):
    tab = window.graddesc
    ref = GradDesc(lesson_data(), Settings.lesson("sgd"))
    assert tab.model.rowCount() == 0 and tab.model.fields == columns("sgd")
    for n in (1, 2):
        qtbot.mouseClick(button(tab, "step_row"), Qt.LeftButton)
        qtbot.waitUntil(lambda: tab.model.rowCount() == n, timeout=WAIT_MS)
        row = ref.step_row()
        for field in tab.model.fields:
            assert tab.model.value(n - 1, field) == row[field], field
        assert path_end(tab) == (ref.carry.p[1], ref.carry.p[0])  # the head of the path is the engine's (a, b)
    index = tab.model.index(1, column(tab, "pred"))
    assert tab.model.data(index) == cell_text(float(ref.rows()["pred"][1]), lambda text: True)
    assert tab.model.headerData(column(tab, "est_db"), Qt.Horizontal) == HEADINGS["est_db"]
    assert tab.info.text().startswith("<b>Epoch 1</b>, row 2 of 29")


def test_run_epoch_puts_the_engines_rmse_on_the_curve(qtbot, window):
    tab = window.graddesc
    choose(qtbot, tab, "momentum")
    qtbot.mouseClick(button(tab, "run_epoch"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.progress.epoch == 1 and idle(tab), timeout=WAIT_MS)
    ref = GradDesc(lesson_data(), Settings.lesson("momentum"))
    ref.run_epoch()
    assert tab.model.rowCount() == 29
    np.testing.assert_array_equal(tab.model.rows["m_b"], ref.rows()["m_b"])
    qtbot.waitUntil(lambda: any(t.n for t in tab.rmse_plot.traces.values()), timeout=WAIT_MS)
    line = next(t for t in tab.rmse_plot.traces.values() if t.item.name() == "Momentum · lr 0.0001")
    assert (line.x[: line.n].tolist(), line.y[: line.n].tolist()) == ([1.0], [rmse(ref.rows())])
    assert path_end(tab) == tuple(ref.path()[-1])  # the last row's new (a, b); the next epoch starts elsewhere
    assert len(tab.contour.path.getData()[0]) == 30  # the start and a point per row
    assert window.status_labels["rmse"].text() == f"rmse {rmse(ref.rows()):.6g}"


def test_reset_leaves_the_rmse_plot_no_old_range(qtbot, window):
    tab = window.graddesc
    choose(qtbot, tab, "sgd")
    tab.controls.lr.setValue(0.01)  # diverges: the rmse climbs past 1e20 within a few epochs
    for epoch in (1, 2, 3):
        qtbot.mouseClick(button(tab, "run_epoch"), Qt.LeftButton)
        qtbot.waitUntil(lambda: tab.progress.epoch == epoch and idle(tab), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(t.n for t in tab.rmse_plot.traces.values()), timeout=WAIT_MS)
    tab.rmse_plot.refresh()
    assert tab.rmse_plot.plot.getViewBox().viewRange()[1][1] > 5  # log10: the diverged run's range
    qtbot.mouseClick(button(tab, "reset"), Qt.LeftButton)
    qtbot.waitUntil(lambda: steps(tab) == 0 and not tab.rmse_plot.traces, timeout=WAIT_MS)
    (x0, x1), (y0, y1) = tab.rmse_plot.plot.getViewBox().viewRange()
    assert (x0, x1) == (0.0, 1.0) and (y0, y1) == (0.0, 1.0)  # a plain empty plot, not the diverged run's range
    tab.controls.lr.setValue(0.0001)
    qtbot.mouseClick(button(tab, "run_epoch"), Qt.LeftButton)
    qtbot.waitUntil(lambda: any(t.n for t in tab.rmse_plot.traces.values()), timeout=WAIT_MS)
    line = next(t for t in tab.rmse_plot.traces.values() if t.n)

    def around_the_new_point() -> bool:
        y0, y1 = tab.rmse_plot.plot.getViewBox().viewRange()[1]
        return y0 <= np.log10(line.y[0]) <= y1 and y1 - y0 < 3
    qtbot.waitUntil(around_the_new_point, timeout=WAIT_MS)  # the new run's point, at its own scale


def test_the_optimizer_shows_its_settings_and_columns(qtbot, window):
    tab, c = window.graddesc, window.graddesc.controls
    choose(qtbot, tab, "adamw")
    assert (c.lr.value(), c.beta1.value(), c.beta2.value(), c.wd.value()) == (0.1, 0.9, 0.9, 0.01)
    assert not c.beta1.isHidden() and not c.wd.isHidden() and c.eps.isHidden()  # ε: the library variant's only
    assert tab.model.fields == columns("adamw") and tab.model.columnCount() == 16
    choose(qtbot, tab, "rmsprop")
    assert c.beta1.isHidden() and not c.beta2.isHidden() and c.labels["beta2"].text() == "β" and c.wd.isHidden()
    c.variant.setCurrentIndex(c.variant.findData("library"))
    qtbot.waitUntil(lambda: tab.settings.variant == "library", timeout=WAIT_MS)
    assert not c.eps.isHidden()
    c.lr.setValue(0.05)
    qtbot.waitUntil(lambda: tab.settings.lr == 0.05, timeout=WAIT_MS)
    assert tab.settings == Settings.lesson("rmsprop", "library", lr=0.05)


def test_the_table_colours_groups_and_explains_each_estimate(qtbot, window):
    tab = window.graddesc
    qtbot.mouseClick(button(tab, "step_row"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    fills = {f: tab.model.data(tab.model.index(0, column(tab, f)), Qt.BackgroundRole).color().name()
             for f in tab.model.fields}
    for name, (color, fields) in GROUPS.items():
        for f in fields:
            if f in fills and not f.startswith("est"):
                assert fills[f] == color.lower(), (name, f)
    assert len({fills["x"], fills["b"], fills["pred"], fills["de_db"], fills["est_db"], fills["new_b"]}) == 6
    tip = tab.model.data(tab.model.index(0, column(tab, "est_da")), Qt.ToolTipRole)
    row = tab.model.rows[0]
    assert f"est de/da − de/da = {row['est_da'] - row['de_da']:.6g}" in tip
    assert abs((row["est_da"] - row["de_da"]) - 0.01 * row["x"] ** 2) < 1e-6  # a forward difference: nudge·x²
    tab.table.setColumnWidth(column(tab, "est_da"), 40)  # a narrow column: the number is shortened to fit
    text = tab.model.data(tab.model.index(0, column(tab, "est_da")))
    assert text and tab.table.fontMetrics().horizontalAdvance(text) <= 40


def test_compare_three_rules_draws_three_paths(qtbot, window):
    tab = window.graddesc
    tab.compare(["sgd", "rmsprop", "adam"], 4)
    qtbot.waitUntil(lambda: len(tab.contour.compared) == 3, timeout=WAIT_MS)
    expected = paths(lesson_data(), [Settings.lesson(r) for r in ("sgd", "rmsprop", "adam")], 4)
    for curve, path in zip(tab.contour.compared, expected):
        x, y = curve.getData()
        np.testing.assert_array_equal(np.column_stack([x, y]), path)
    assert tab.contour.labels()[1:] == ["SGD · lr 0.0001", "RMSProp · lr 0.02", "Adam · lr 0.1"]
    assert len({c.opts["pen"].color().name() for c in tab.contour.compared}) == 3
    assert tab.controls.compared() == ["sgd", "rmsprop", "adam"] and "(3)" in tab.actions["compare"].text()
    surface = tab.contour.surface
    assert all(surface.contains(*p) for path in expected for p in path)  # the contour holds every path
    tab.controls.compare_actions["momentum"].trigger()  # ticking one more in the Compare menu draws it too
    qtbot.waitUntil(lambda: len(tab.contour.compared) == 4, timeout=WAIT_MS)
    assert [c.rule for c in tab.compared] == ["sgd", "momentum", "rmsprop", "adam"]
    tab.compare([], 4)
    qtbot.waitUntil(lambda: not tab.contour.compared, timeout=WAIT_MS)


def test_the_data_boxes_make_new_lesson_data(qtbot, window):
    tab = window.graddesc
    tab.engine.step_row()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=WAIT_MS)
    tab.controls.rows.setValue(12)
    qtbot.waitUntil(lambda: tab.progress.rows == 12, timeout=WAIT_MS)
    assert tab.model.rowCount() == 0 and len(tab.path.points) == 1  # a new run from the start
    tab.controls.noise.setValue(3.0)
    qtbot.waitUntil(lambda: "noise" in tab.progress.data, timeout=WAIT_MS)
    tab.engine.run_epoch()
    qtbot.waitUntil(lambda: tab.progress.epoch == 1 and idle(tab), timeout=WAIT_MS)
    np.testing.assert_array_equal(tab.model.rows["y"], lesson_data(12, 42, noise=3.0).y)


def test_a_csv_of_four_rows_is_not_called_data_rows_29(qtbot, window, tmp_path):
    """Issue 20, item 11: after a 4-row CSV the data boxes still read "data: rows 29"."""
    tab = window.graddesc
    assert tab.controls.data_label.text() == "data: rows" and tab.controls.rows.value() == 29
    path = tmp_path / "four.csv"
    path.write_text("x,y\n1,32\n2,34\n3,36\n4,38\n")
    tab.engine.open_csv(str(path))
    qtbot.waitUntil(lambda: tab.progress.rows == 4, timeout=WAIT_MS)
    assert tab.controls.data_label.text() != "data: rows" and "four.csv (4 rows)" in tab.controls.data_name.text()
    tab.controls.rows.setValue(12)  # the recipe again: its boxes speak of the data once more
    qtbot.waitUntil(lambda: tab.progress.rows == 12, timeout=WAIT_MS)
    assert tab.controls.data_label.text() == "data: rows"


def test_a_bad_workbook_says_so_in_one_line_and_the_rows_stay(qtbot, window, tmp_path):
    tab = window.graddesc
    for n in (1, 2, 3):
        tab.engine.step_row()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3, timeout=WAIT_MS)
    before = tab.model.rows.copy()
    bad = tmp_path / "lesson.xlsm"
    bad.write_text("this is not a workbook")
    tab.open_workbook(str(bad))
    qtbot.waitUntil(lambda: bool(window.messages), timeout=WAIT_MS)
    title, text = window.messages[-1]
    assert title == "Could not open the workbook" and text == "lesson.xlsm: not an Excel workbook (.xlsx)"
    qtbot.wait(100)
    assert tab.model.rowCount() == 3 and tab.progress.steps == 3
    np.testing.assert_array_equal(tab.model.rows["new_b"], before["new_b"])


def test_export_then_open_the_workbook_fills_the_table_with_its_epoch(qtbot, window, tmp_path):
    tab = window.graddesc
    choose(qtbot, tab, "adam")
    path = tmp_path / "graddesc.xlsx"
    tab.export(str(path))
    qtbot.waitUntil(lambda: any(n.startswith("Saved") for n in window.notices), timeout=WAIT_MS)
    choose(qtbot, tab, "sgd")
    tab.open_workbook(str(path))  # seven optimizer sheets: the tab asks which
    qtbot.waitUntil(lambda: tab.sheet_dialog is not None, timeout=WAIT_MS)
    assert tab.sheet_dialog.comboBoxItems()[:2] == ["basic", "momentum"] and tab.sheet_dialog.textValue() == "basic"
    tab.sheet_dialog.setTextValue("adam")
    tab.sheet_dialog.accept()
    qtbot.waitUntil(lambda: tab.settings.rule == "adam" and tab.model.rowCount() == 29 and idle(tab), timeout=WAIT_MS)
    ref = GradDesc(lesson_data(), Settings.lesson("adam"))
    ref.run_epoch()
    for field in ("pred", "new_b", "new_a", "v_a"):
        np.testing.assert_array_equal(tab.model.rows[field], ref.rows()[field])
    assert "Opened graddesc.xlsx · adam" in window.notices[-1]
    assert "graddesc.xlsx!adam" in tab.controls.data_name.text()


def test_play_steps_rows_at_the_chosen_pace_and_pause_stops(qtbot, window):
    tab = window.graddesc
    tab.controls.rate.setCurrentIndex(tab.controls.rate.findText("30 rows/s"))
    qtbot.mouseClick(button(tab, "play"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.state == "playing", timeout=WAIT_MS)
    assert tab.actions["play"].text() == "Pause" and not tab.actions["step_row"].isEnabled()
    qtbot.wait(500)
    qtbot.mouseClick(button(tab, "play"), Qt.LeftButton)
    qtbot.waitUntil(lambda: idle(tab), timeout=WAIT_MS)
    done = steps(tab)
    assert 3 <= done <= 40  # about 15 at 30 rows/s; never the thousands a flat-out half second would step
    qtbot.wait(200)
    assert steps(tab) == done and tab.actions["step_row"].isEnabled()


def test_keyboard_shortcuts_work_within_the_tab(qtbot, window):
    tab = window.graddesc
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key_N)
    qtbot.waitUntil(lambda: steps(tab) == 1, timeout=WAIT_MS)
    qtbot.keyClick(tab.table, Qt.Key_E)
    qtbot.waitUntil(lambda: tab.progress.epoch == 1 and idle(tab), timeout=WAIT_MS)
    assert window.sheet.snapshot.step == 0  # the Sheet tab's run was not touched
    for name, key in (("step_row", "N"), ("run_epoch", "E"), ("play", "P")):
        assert tab.actions[name].shortcut().toString() == key
        assert tab.actions[name].shortcutContext() == Qt.WidgetWithChildrenShortcut
    sheet_keys = {k.toString() for a in window.sheet.actions.values() for k in a.shortcuts()}
    ours = {a.shortcut().toString() for a in tab.actions.values() if not a.shortcut().isEmpty()}
    assert not sheet_keys & ours  # the Sheet tab's keys are window-wide: ours must not be ambiguous with them


def test_switching_tabs_keeps_the_sheet_tab_working(qtbot, window):
    tab = window.graddesc
    tab.engine.step_row()
    qtbot.waitUntil(lambda: steps(tab) == 1, timeout=WAIT_MS)
    assert window.status_labels["step"].text() == "epoch 1 · row 1/29"
    window.tabs.setCurrentWidget(window.sheet)
    assert window.status_labels["step"].text() == "step 0"  # the Sheet tab's status, as it left it
    sheet_step = next(b for b in window.sheet.controls.findChildren(QToolButton)
                      if b.defaultAction() is window.actions["step"])
    qtbot.mouseClick(sheet_step, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 1, timeout=WAIT_MS)
    assert window.status_labels["step"].text() == "step 1"
    assert steps(tab) == 1
    window.sheet.view.setFocus()
    qtbot.keyClick(window.sheet.view, Qt.Key_N)  # this tab's keys do nothing while the Sheet tab is shown
    qtbot.wait(200)
    assert steps(tab) == 1
    window.tabs.setCurrentWidget(tab)
    assert window.status_labels["step"].text() == "epoch 1 · row 1/29"


def test_the_tab_runs_without_torch_in_either_thread(tmp_path):
    """The graddesc tab alone in a window, stepped, compared and exported: nothing imports torch."""
    code = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel
from collabsheet.gui.graddesc.handle import QGradDescHandle
from collabsheet.gui.graddesc.runner import GradDescRunner
from collabsheet.gui.graddesc.tab import STATUS, QGradDescTab
from collabsheet.gui.runtime.channel import QChannel
app = QApplication([])
channel = QChannel()
tab = QGradDescTab(channel.add("graddesc", GradDescRunner(), QGradDescHandle), {{n: QLabel() for n in STATUS}})
tab.show()
tab.engine.step_row()
tab.engine.run_epoch()
tab.compare(["sgd", "adam"], 2)
tab.export({str(tmp_path / "out.xlsx")!r})
def check():
    if tab.progress is not None and tab.progress.epoch == 1 and tab.contour.compared and os.path.exists(
            {str(tmp_path / "out.xlsx")!r}):
        app.quit()
    else:
        QTimer.singleShot(20, check)
check()
QTimer.singleShot(60_000, app.quit)
app.exec()
channel.shutdown()
assert tab.progress.epoch == 1, "the epoch did not run"
assert "torch" not in sys.modules, "torch was imported"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_diverging_comparison_is_a_notice_and_the_picture_keeps_the_bowl(qtbot, window, capfd):
    """Issue 20 item 1: Compare → All, SGD lr 0.01, 2 epochs ran to ~1e92, turned the surface inf and the
    picture white (pyqtgraph refused the levels); now a notice says so and the bowl stays drawn."""
    import warnings

    tab = window.graddesc
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow warning from numpy fails the test
        tab.compare(list(tab.controls.compare_actions), 2)
        qtbot.waitUntil(lambda: len(tab.contour.compared) == len(tab.controls.compare_actions), timeout=WAIT_MS)
        tab.controls.lr.setValue(0.01)
        qtbot.waitUntil(lambda: tab.settings.lr == 0.01, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: any("SGD · lr 0.01" in n and "The picture keeps the bowl" in n
                                    for n in window.notices), timeout=WAIT_MS)
        tab.engine.run_epoch()
        qtbot.waitUntil(lambda: tab.progress.epoch == 1 and idle(tab), timeout=WAIT_MS)
        tab.engine.run_epoch()
        qtbot.waitUntil(lambda: (tab.progress.epoch == 2 or tab.progress.diverged) and idle(tab), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: any(n.startswith("This run") for n in window.notices), timeout=WAIT_MS)
    surface = tab.contour.surface
    assert np.isfinite(surface.log_loss).all() and np.isfinite(surface.levels).all()
    lo, hi = tab.contour.image.getLevels()
    assert np.isfinite([lo, hi]).all() and hi > lo
    a0, a1 = surface.a[0], surface.a[-1]
    assert a1 - a0 < 1e6  # the bowl, not a span of 1e92 where it is one pixel
    assert surface.contains(*least_squares(lesson_data()))
    err = capfd.readouterr().err
    assert "Traceback" not in err and "RuntimeWarning" not in err and "overflow" not in err
