"""The window end to end (pytest-qt, offscreen): buttons, edits, files, Play, Solve, Stop."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QToolButton

from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.data.ratings import RatingsError, load_ratings
from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.gui.sheet import load_commands
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.controls import RUN
from collabsheet.gui.main_window import QMainSheetWindow
from collabsheet.gui.sheet.layout import Cell

WAIT_MS = 30_000  # generous: the machine running the tests may be busy


@pytest.fixture
def window(started_window):
    return started_window


def reference(movielens, **config) -> Sheet:
    return Sheet(top_crosstab(movielens, 15), SheetConfig(**config), OptimizerSettings(), device="cpu")


def button(w, name: str) -> QToolButton:
    return next(b for b in w.sheet.controls.findChildren(QToolButton) if b.defaultAction() is w.actions[name])


def loss_text(w) -> str:
    model = w.sheet.model
    row, col = model.layout.position(Cell(L.LOSS))
    return model.data(model.index(row, col), Qt.DisplayRole)


def cell_index(w, kind: str, index: tuple):
    return w.sheet.model.index(*w.sheet.model.layout.position(Cell(kind, index)))


def wait_idle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.sheet.state == "idle", timeout=WAIT_MS)


def test_step_button_puts_the_engines_rmse_in_the_loss_cell(qtbot, window, movielens):
    ref = reference(movielens)
    assert window.sheet.snapshot.settings == ref.settings
    assert f"{ref.rmse():.4f}" in loss_text(window)
    qtbot.mouseClick(button(window, "step"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 1, timeout=WAIT_MS)
    ref.step(1)
    assert window.sheet.snapshot.rmse == pytest.approx(ref.rmse(), rel=1e-12)
    assert loss_text(window) == f"RMSE\n{ref.rmse():.4f}"
    assert "step 1" in window.status_labels["step"].text()
    assert window.status_labels["device"].text() == "cpu"


def test_solve_reaches_the_engines_solve_loss(qtbot, window, movielens):
    window.sheet.controls.k.setValue(2)  # a small model, so both solves stay quick
    qtbot.waitUntil(lambda: window.sheet.snapshot.k == 2, timeout=WAIT_MS)
    with qtbot.waitSignal(window.sheet.engine.solved, timeout=120_000):
        qtbot.mouseClick(button(window, "solve"), Qt.LeftButton)
    ref = reference(movielens, k=2)
    ref.solve()
    qtbot.waitUntil(lambda: abs(window.sheet.snapshot.rmse - ref.rmse()) < 1e-9, timeout=WAIT_MS)
    assert f"{ref.rmse():.4f}" in loss_text(window)
    qtbot.waitUntil(lambda: window.sheet.state == "idle", timeout=WAIT_MS)
    qtbot.wait(200)  # any report still in the mailbox is drawn; it must not bring back "iteration …"
    assert window.sheet.controls.solving.text() == "" and "solving" not in window.status_labels["rmse"].text()
    said = window.statusBar().currentMessage()
    assert said.startswith("Solve converged: RMSE ") and said.endswith(" s)")


def test_switching_optimizer_mid_run_keeps_the_factors(qtbot, window):
    window.sheet.engine.step(5)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 5 and window.sheet.state == "idle", timeout=WAIT_MS)
    before = window.sheet.snapshot.params
    window.sheet.controls.optimizer.setCurrentIndex(window.sheet.controls.optimizer.findData("sgd"))
    qtbot.waitUntil(lambda: window.sheet.snapshot.settings.name == "sgd", timeout=WAIT_MS)
    for block in ("user_factors", "item_factors"):
        np.testing.assert_array_equal(window.sheet.snapshot.params[block], before[block])
    window.sheet.engine.step(1)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 6 and window.sheet.losses.plot is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(window.sheet.losses.plot.labels()) == 2, timeout=WAIT_MS)
    assert [x.split(" · ")[0] for x in window.sheet.losses.plot.labels()] == ["Adam", "SGD"]


def test_editing_a_rating_or_a_factor_recomputes_predictions_and_loss(qtbot, window, movielens):
    ref = reference(movielens)
    assert window.sheet.model.setData(cell_index(window, L.RATING, (0, 0)), "1")
    ref.set_rating(0, 0, 1.0)
    qtbot.waitUntil(lambda: window.sheet.snapshot.ratings[0, 0] == 1.0, timeout=WAIT_MS)
    assert window.sheet.snapshot.rmse == pytest.approx(ref.rmse(), rel=1e-12)

    assert window.sheet.model.setData(cell_index(window, L.USER_FACTORS, (0, 0)), "0.5")
    ref.set_param("user_factors", (0, 0), 0.5)
    qtbot.waitUntil(lambda: window.sheet.snapshot.user_factors[0, 0] == 0.5, timeout=WAIT_MS)
    np.testing.assert_allclose(window.sheet.snapshot.predictions, ref.snapshot().predictions, rtol=1e-12)
    assert loss_text(window) == f"RMSE\n{ref.rmse():.4f}"

    rated = np.argwhere(window.sheet.snapshot.mask)[3]
    window.sheet.view.setCurrentIndex(cell_index(window, L.RATING, tuple(rated)))
    qtbot.keyClick(window.sheet.view, Qt.Key_Delete)
    qtbot.waitUntil(lambda: not window.sheet.snapshot.mask[tuple(rated)], timeout=WAIT_MS)
    assert window.sheet.model.data(cell_index(window, L.RATING, tuple(rated))) == ""
    assert window.sheet.model.data(cell_index(window, L.PREDICTION, tuple(rated))) == ""


def test_invalid_text_gets_a_message_and_the_cell_keeps_its_value(qtbot, window):
    index = cell_index(window, L.ITEM_FACTORS, (1, 2))
    shown = window.sheet.model.data(index)
    assert not window.sheet.model.setData(index, "lots")
    assert "not a number" in window.messages[-1][1]
    qtbot.wait(50)
    assert window.sheet.model.data(index) == shown


def test_bad_csv_keeps_the_old_sheet_and_shows_the_engines_message(qtbot, window, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("userId,movieId,rating\n1,10,4\n2,10,five\n2,11,3\n")
    with pytest.raises(RatingsError) as expected:
        load_ratings(bad)
    before = window.sheet.snapshot
    window.sheet.open_ratings(str(bad))
    qtbot.waitUntil(lambda: bool(window.messages), timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert window.messages[-1][1] == str(expected.value)
    assert window._box.isVisible() and not window._box.isModal()
    assert window.sheet.snapshot.user_ids == before.user_ids and window.sheet.snapshot.dataset == before.dataset
    assert window.sheet.engine.runner.sheet.grid.name == before.dataset


def test_good_csv_opens_a_new_sheet(qtbot, window, tmp_path):
    good = tmp_path / "mine.csv"
    rng = np.random.default_rng(1)
    rows = [f"{u},{i},{rng.integers(1, 6)}" for u in range(8) for i in range(9) if rng.random() < 0.7]
    good.write_text("userId,movieId,rating\n" + "\n".join(rows) + "\n")
    window.sheet.open_ratings(str(good))
    qtbot.waitUntil(lambda: window.sheet.snapshot.dataset == "mine.csv", timeout=WAIT_MS)
    assert window.sheet.snapshot.ratings.shape == (8, 9)


def test_play_for_a_second_advances_while_events_are_processed(qtbot, window):
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    step0, frames0 = window.sheet.snapshot.step, window.sheet.frames
    qtbot.mouseClick(button(window, "play"), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.sheet.state == "playing", timeout=WAIT_MS)
    qtbot.wait(1000)
    frames = window.sheet.frames - frames0
    qtbot.mouseClick(button(window, "play"), Qt.LeftButton)  # now Pause
    wait_idle(qtbot, window)
    timer.stop()
    assert window.sheet.snapshot.step > step0 + 10
    assert len(ticks) >= 20, "the GUI thread stopped processing events while playing"
    assert frames >= 5
    assert not window.actions["play"].isChecked()


def test_stop_ends_a_solve(qtbot, window):
    # 150 × 150 under the sigmoid: L-BFGS, which runs to its cap for seconds, so Stop arrives while it runs
    window.sheet.controls.top.setValue(150)
    qtbot.waitUntil(lambda: window.sheet.snapshot.ratings.shape == (150, 150), timeout=WAIT_MS)
    window.sheet.controls.biases.setChecked(True)
    window.sheet.controls.squash.setChecked(True)
    qtbot.waitUntil(lambda: window.sheet.snapshot.squash and window.sheet.snapshot.biases, timeout=WAIT_MS)
    results = []
    window.sheet.engine.solved.connect(results.append)
    window.actions["solve"].trigger()
    qtbot.waitUntil(lambda: window.sheet.state == "solving", timeout=WAIT_MS)
    assert window.actions["stop"].isEnabled() and not window.actions["step"].isEnabled()
    qtbot.mouseClick(button(window, "stop"), Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert results[0].stopped and window.statusBar().currentMessage().startswith("Solve stopped: RMSE ")


def test_a_diverging_run_says_so_stops_playing_and_reset_recovers(qtbot, window):
    c = window.sheet.controls
    c.optimizer.setCurrentIndex(c.optimizer.findData("sgd"))
    c.lr.setValue(100.0)
    qtbot.waitUntil(lambda: window.sheet.snapshot.settings.lr == 100.0, timeout=WAIT_MS)
    window.actions["play"].trigger()
    qtbot.waitUntil(lambda: window.sheet.snapshot.diverged and window.sheet.state == "idle", timeout=WAIT_MS)
    assert loss_text(window).endswith("diverged")
    assert not window.actions["play"].isChecked()
    c.lr.setValue(0.01)
    window.actions["reset"].trigger()
    qtbot.waitUntil(lambda: not window.sheet.snapshot.diverged and window.sheet.snapshot.step == 0, timeout=WAIT_MS)
    assert "diverged" not in loss_text(window)


def test_explain_panel_follows_the_selected_cell_and_the_engine(qtbot, window):
    # Explanations are computed in the worker thread and arrive with the next frame.
    qtbot.waitUntil(lambda: window.sheet.explain.text().startswith("Loss"), timeout=WAIT_MS)
    window.sheet.view.setCurrentIndex(cell_index(window, L.PREDICTION, (0, 0)))
    qtbot.waitUntil(lambda: window.sheet.explain.text().startswith("Prediction"), timeout=WAIT_MS)
    text = window.sheet.explain.text()
    assert text.startswith("Prediction") and f"{window.sheet.snapshot.predictions[0, 0]:.4f}" in text
    window.sheet.engine.step(1)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 1, timeout=WAIT_MS)
    assert window.sheet.explain.text() != text
    window.sheet.view.setCurrentIndex(cell_index(window, L.USER_FACTORS, (2, 1)))
    qtbot.waitUntil(lambda: "next update Δp" in window.sheet.explain.text(), timeout=WAIT_MS)


def test_keyboard_shortcuts(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.sheet.view.setFocus()
    qtbot.keyClick(window.sheet.view, Qt.Key_S)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 1, timeout=WAIT_MS)
    qtbot.keyClick(window.sheet.view, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.sheet.state == "playing", timeout=WAIT_MS)
    qtbot.keyClick(window.sheet.view, Qt.Key_Space)
    wait_idle(qtbot, window)
    qtbot.keyClick(window.sheet.view, Qt.Key_R, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 0, timeout=WAIT_MS)


def test_export_and_import_excel_in_the_worker(qtbot, window, tmp_path):
    qtbot.waitUntil(lambda: window.sheet.files.xlsx_available and window.actions["export"].isEnabled(), timeout=WAIT_MS)
    window.sheet.engine.step(7)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == 7 and window.sheet.state == "idle", timeout=WAIT_MS)
    exported = window.sheet.snapshot
    path = tmp_path / "sheet.xlsx"
    window.sheet.engine.export_xlsx(str(path))
    qtbot.waitUntil(lambda: bool(window.notices), timeout=WAIT_MS)
    assert window.notices[-1] == f"Saved {path}" and path.exists() and not window.messages
    window.sheet.controls.k.setValue(3)
    qtbot.waitUntil(lambda: window.sheet.snapshot.k == 3, timeout=WAIT_MS)
    window.sheet.engine.import_xlsx(str(path))
    qtbot.waitUntil(lambda: window.sheet.snapshot.k == 5, timeout=WAIT_MS)
    np.testing.assert_allclose(window.sheet.snapshot.user_factors, exported.user_factors)
    assert window.sheet.snapshot.rmse == pytest.approx(exported.rmse)
    assert window.sheet.controls.k.value() == 5  # the controls follow the imported sheet
    # the worker publishes the sheet, then reports success: the notice can arrive a poll after the snapshot
    qtbot.waitUntil(lambda: window.notices[-1] == f"Imported {path}", timeout=WAIT_MS)


def test_importing_a_bad_workbook_shows_the_message(qtbot, window, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    before = window.sheet.snapshot
    window.sheet.engine.import_xlsx(str(bad))
    qtbot.waitUntil(lambda: bool(window.messages), timeout=WAIT_MS)
    assert window.messages[-1][0] == "Import from Excel" and "bad.xlsx" in window.messages[-1][1]
    assert window.sheet.snapshot is before


def _first_start(monkeypatch, tmp_path, read) -> None:
    """A start with nothing prepared yet (an empty cache), where the default ratings are `read`."""
    from collabsheet.engine.data import movielens as data

    monkeypatch.setenv("COLLABSHEET_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "default_ratings", read)


def test_first_start_shows_data_preparation_instead_of_freezing(qtbot, monkeypatch, movielens, tmp_path):
    release = threading.Event()

    def slow_download(path=None, *, task=None):
        task.report("Downloading ml-latest-small.zip: 0.8 MB", 0.25)
        release.wait(WAIT_MS / 1000)
        return movielens

    _first_start(monkeypatch, tmp_path, slow_download)
    w = QMainSheetWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: "Downloading" in w.sheet.loading.label.text(), timeout=WAIT_MS)
    assert w.sheet.stack.currentIndex() == 0 and w.sheet.loading.bar.value() == 25
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.wait(300)
    assert len(ticks) >= 5  # the window keeps answering while the data is prepared
    release.set()
    qtbot.waitUntil(lambda: w.sheet.snapshot is not None, timeout=WAIT_MS)
    assert w.sheet.stack.currentIndex() == 1
    w.close()


def _window_after_failure(qtbot, monkeypatch, name: str | None, failing) -> QMainSheetWindow:
    """A window opened with the runner's `name` replaced by `failing` (None: done already), once it has said
    something."""
    if name:
        monkeypatch.setattr(load_commands, name, failing)
    w = QMainSheetWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.messages), timeout=WAIT_MS)
    return w


def test_no_data_at_all_says_why_and_offers_to_open_a_file(qtbot, monkeypatch, tmp_path):
    def offline(path=None, *, task=None):
        raise RatingsError("no ratings data; tried the prepared copy, GroupLens and PyPI")

    _first_start(monkeypatch, tmp_path, offline)
    w = _window_after_failure(qtbot, monkeypatch, None, offline)
    assert "no ratings data" in w.sheet.loading.label.text() and w.sheet.loading.open.isVisible()
    w.close()


def test_play_at_a_set_speed(qtbot, window):
    window.sheet.controls.rate.setCurrentIndex(window.sheet.controls.rate.findText("10/s"))
    step0 = window.sheet.snapshot.step
    window.actions["play"].trigger()
    qtbot.wait(1000)
    window.actions["play"].trigger()
    wait_idle(qtbot, window)
    assert 3 <= window.sheet.snapshot.step - step0 <= 25


def test_the_ratings_show_while_the_engine_starts_and_nothing_runs_until_it_has(qtbot, monkeypatch, grid15):
    """Launch order: the whole sheet first (numpy only: factors, predictions, loss), nothing editable or runnable;
    controls once the engine has built the same sheet."""
    release = threading.Event()
    real_engine = load_commands.engine_sheet

    def slow_engine():  # importing torch, held until the test has looked at the first rendered state
        release.wait(WAIT_MS / 1000)
        return real_engine()

    monkeypatch.setattr(load_commands, "engine_sheet", slow_engine)
    w = QMainSheetWindow()
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.sheet.previews > 0, timeout=WAIT_MS)
        qtbot.wait(100)
        model = w.sheet.model
        assert w.sheet.frames == 0 and w.sheet.snapshot is None and w.sheet.stack.currentIndex() == 1
        first = model.snapshot  # computed without torch
        assert first.params["user_factors"] is not None and np.isfinite(first.rmse)
        preview_layout = model.layout
        assert (preview_layout.n, preview_layout.m) == grid15.ratings.shape
        for (i, j), value in np.ndenumerate(grid15.ratings):  # the ratings block is filled in, as the crosstab has it
            text = model.data(cell_index(w, L.RATING, (i, j)))
            assert (text == "") if np.isnan(value) else (float(text) == value), (i, j, text)
            shown = model.data(cell_index(w, L.PREDICTION, (i, j)))
            assert (shown == "") if np.isnan(value) else (shown not in ("", "…")), (i, j, shown)
        for kind, (r0, r1, c0, c1) in model.layout.blocks().items():
            argb, _, texts = model.block(kind, slice(0, r1 - r0), slice(0, c1 - c0))  # what the painter draws
            for a in range(r1 - r0):
                for b in range(c1 - c0):
                    index = model.index(r0 + a, c0 + b)
                    assert texts[a * (c1 - c0) + b] == model.data(index), (kind, a, b)
                    assert int(argb[a, b]) == model.data(index, Qt.BackgroundRole).color().rgba(), (kind, a, b)
                    assert not model.flags(index) & Qt.ItemIsEditable, (kind, a, b)
                    if kind in (L.USER_FACTORS, L.ITEM_FACTORS):
                        assert model.data(index) not in ("", "…")
        assert loss_text(w) == f"RMSE\n{first.rmse:.4f}"
        assert not model.setData(cell_index(w, L.RATING, (0, 0)), "1")
        c = w.sheet.controls
        for name in RUN + ("import", "export"):
            assert not w.actions[name].isEnabled(), name
        for box in (c.k, c.lr, c.seed, c.wd):
            assert box.text() == "…" and not box.isEnabled()
        assert c.optimizer.currentText() == "…" and not c.optimizer.isEnabled() and not c.top.isEnabled()

        release.set()
        qtbot.waitUntil(lambda: w.sheet.snapshot is not None, timeout=WAIT_MS)
        wait_idle(qtbot, w)
        assert w.sheet.frames >= 1 and not model.pending and model.layout == preview_layout  # the ratings stayed put
        for block in ("user_factors", "item_factors"):  # the engine's first sheet is the one already on screen
            np.testing.assert_allclose(w.sheet.snapshot.params[block], first.params[block], rtol=0, atol=1e-12)
        assert loss_text(w) == f"RMSE\n{w.sheet.snapshot.rmse:.4f}"
        assert model.flags(cell_index(w, L.RATING, (0, 0))) & Qt.ItemIsEditable
        for name in ("step", "step_n", "play", "solve", "reset"):
            assert w.actions[name].isEnabled(), name
        defaults = SheetConfig(), OptimizerSettings()
        assert c.k.value() == defaults[0].k and c.k.text() == str(defaults[0].k) and c.k.isEnabled()
        assert c.optimizer.currentData() == defaults[1].name and c.wd.text() == "0.0000"
        qtbot.mouseClick(button(w, "step"), Qt.LeftButton)
        qtbot.waitUntil(lambda: w.sheet.snapshot.step == 1, timeout=WAIT_MS)
    finally:
        release.set()
        w.close()


def test_an_engine_that_fails_to_start_after_the_preview_says_so(qtbot, monkeypatch):
    def broken_engine():
        raise ImportError("torch is broken")

    w = _window_after_failure(qtbot, monkeypatch, "engine_sheet", broken_engine)
    assert w.messages[-1] == ("Could not open the ratings", "ImportError: torch is broken")
    assert w.sheet.stack.currentIndex() == 0 and "torch is broken" in w.sheet.loading.label.text()
    assert not w.actions["step"].isEnabled() and "starting" not in w.status_labels["rmse"].text()
    w.close()


def test_the_other_tabs_are_built_the_first_time_they_are_shown(qtbot, window):
    from collabsheet.gui.graddesc.tab import QGradDescTab
    from collabsheet.gui.train.tab import QTrainTab

    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Sheet", "Gradient descent", "Training"]
    assert not isinstance(window.tabs.widget(1), QGradDescTab) and not isinstance(window.tabs.widget(2), QTrainTab)
    window.tabs.setCurrentIndex(1)  # as a click on the tab does
    assert isinstance(window.tabs.currentWidget(), QGradDescTab) and window.tabs.currentWidget() is window.graddesc
    assert [a.text() for a in window.run_menu.actions() if a.text()][:2] == [
        window.graddesc.actions["step_row"].text(), window.graddesc.actions["run_epoch"].text()]
    assert window.tabs.currentIndex() == 1 and not isinstance(window.tabs.widget(2), QTrainTab)
    train = window.train  # asked for before it is shown: built in its place, the current tab stays
    assert window.tabs.widget(2) is train and window.tabs.currentIndex() == 1
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == titles
    window.tabs.setCurrentIndex(0)
    assert window.run_menu.actions()[0].text() == window.actions["step"].text()


def test_a_click_on_a_tabs_title_gives_it_the_keys(qtbot, window):
    """A tab's shortcuts act while the focus is in it: after a click on its title, Ctrl+T must reach the Training
    tab (it did nothing until one clicked inside the tab)."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    bar = window.tabs.tabBar()
    for index in (2, 1, 0, 2):
        qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())
        assert window.tabs.currentIndex() == index
        qtbot.waitUntil(lambda: window.tabs.currentWidget().isAncestorOf(QApplication.focusWidget())
                        or window.tabs.currentWidget() is QApplication.focusWidget(), timeout=WAIT_MS)
    train = window.train
    qtbot.waitUntil(lambda: train.state == "idle" and "ratings" in train.controls.ratings.text(), timeout=WAIT_MS)
    with qtbot.waitSignal(train.engine.started, timeout=WAIT_MS):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key_T, Qt.ControlModifier)
    train.engine.stop()
    qtbot.waitUntil(lambda: train.state == "idle", timeout=WAIT_MS)
