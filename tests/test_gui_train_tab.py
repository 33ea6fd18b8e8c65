"""The Training tab in the real window (pytest-qt, offscreen): train, curves, the lesson's views, Stop, files."""
from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QToolButton

from collabsheet.engine.config import RunState
from collabsheet.engine.train.analysis import movie_biases, movie_map, valid_predictions
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.model import recommend
from collabsheet.engine.train.recipes import RECIPES
from collabsheet.gui.main_window import QMainSheetWindow
from collabsheet.gui.train.frames import Joint
from collabsheet.gui.train.hexbin import hex_cells
from collabsheet.gui.train.runner import TRAINING_LABEL, VALID_LABEL
from pytestqt.exceptions import TimeoutError as WaitTimedOut
from pytestqt.qtbot import QtBot

WAIT_MS = 60_000  # generous: the machine running the tests may be busy
IDLE, TRAINING = RunState.IDLE, RunState.TRAINING


@pytest.fixture(scope="module")
def window(qapp, request):
    """One window for the module (each test leaves it idle): its Training tab shown, MovieLens read."""
    w = QMainSheetWindow(device="cpu")  # the engine's reference runs are on the CPU too, where runs repeat exactly
    w.resize(1280, 800)
    w.show()
    bot = QtBot(request)
    bot.waitUntil(lambda: w.sheet.snapshot is not None, timeout=WAIT_MS)
    for _ in range(3):
        # The Sheet tab's first frame can reach the GUI in two halves (the new-run flag, then the snapshot), and
        # then its controls wait for good; a Reset sends both again. (A Sheet tab race, not the Training tab's.)
        try:
            bot.waitUntil(lambda: w.sheet.controls.ready, timeout=3000)
            break
        except WaitTimedOut:
            w.sheet.engine.reset(w.sheet.controls.seed.value())
    assert w.sheet.controls.ready
    w.tabs.setCurrentWidget(w.train)
    bot.waitUntil(lambda: "100,000 ratings" in w.train.controls.ratings.text(), timeout=WAIT_MS)
    yield w
    w.close()
    w.deleteLater()
    bot.wait(50)


@pytest.fixture
def tab(window, qtbot):
    window.tabs.setCurrentWidget(window.train)
    qtbot.waitUntil(lambda: window.train.state == IDLE, timeout=WAIT_MS)
    window.messages.clear()
    return window.train


def button(tab, name: str) -> QToolButton:
    return next(b for b in tab.controls.findChildren(QToolButton) if b.defaultAction() is tab.actions[name])


def pick(tab, recipe: str, **fields) -> None:
    """Choose a recipe in the picker, then edit fields as a person would."""
    c = tab.controls
    c.recipe.setCurrentIndex(c.recipe.findData(recipe))
    for name, value in fields.items():
        box = getattr(c, name)
        box.setText(str(value)) if hasattr(box, "setText") else box.setValue(value)


def train_and_wait(qtbot, tab) -> None:
    qtbot.mouseClick(button(tab, "train"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.state == TRAINING, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tab.state == IDLE and tab.results is not None, timeout=WAIT_MS)


def curve(tab, label: str) -> tuple[np.ndarray, np.ndarray]:
    trace = next(t for t in tab.loss_plot.traces.values() if t.item.name() == label)
    return trace.x[:trace.n], trace.y[:trace.n]


@pytest.fixture(scope="module")
def trained(window, movielens, request):
    """The fast recipe cut to 2 epochs, trained through the form and the Train button; and the engine's own run."""
    bot, tab = QtBot(request), window.train
    window.tabs.setCurrentWidget(tab)
    pick(tab, "fast", epochs=2)
    assert tab.controls.recipe.currentData() == "custom"
    train_and_wait(bot, tab)
    return learn(movielens, RECIPES["fast"].with_(epochs=2), seed=42, device="cpu")


def test_training_draws_a_point_per_batch_and_per_epoch_with_the_engines_numbers(tab, trained):
    history = trained.history
    x, y = curve(tab, TRAINING_LABEL)
    np.testing.assert_array_equal(x, np.arange(1, history.iterations + 1))
    vx, vy = curve(tab, VALID_LABEL)
    assert len(vx) == 2  # one point per epoch
    np.testing.assert_allclose(vy, [e.valid_mse for e in history.epochs], rtol=1e-5)
    table = tab.epoch_table
    assert table.rowCount() == 2
    assert [table.item(r, 3).text() for r in range(2)] == [f"{e.valid_rmse:.4f}" for e in history.epochs]
    assert len(tab._epoch_lines) == 2  # the epochs' ends marked on the curve
    assert f"validation RMSE {history.valid_rmse:.4f} (20,000 ratings" in tab.controls.status.text()
    assert tab.controls.progress.value() == tab.controls.progress.maximum() == history.iterations
    assert tab.window().notices[-1] == tab.results.headline


def test_after_training_the_histogram_map_and_biases_are_the_engines(tab, trained):
    predicted, actual = valid_predictions(trained.model, trained.data)
    expected = Joint.of(predicted, actual)
    cells = hex_cells(expected.predicted, expected.actual)  # the hexagons `train --plot` draws
    x, y = tab.joint.hexes.getData()
    np.testing.assert_allclose(np.sort(x), np.sort(cells.actual), atol=1e-9)
    np.testing.assert_allclose(np.sort(y), np.sort(cells.predicted), atol=1e-9)
    assert len(tab.joint.hexes.data) == len(cells.counts) and cells.counts.sum() == len(actual) == 20_000
    assert len(cells.counts) > 20  # hexagons, not one column per star
    # Both marginals: the ratings' histogram above, the predictions' on the right, each holding every rating.
    np.testing.assert_array_equal(tab.joint.above.opts["height"], np.histogram(actual, cells.edges)[0])
    np.testing.assert_array_equal(tab.joint.right.opts["width"], np.histogram(predicted, cells.edges)[0])
    assert tab.joint.above.opts["height"].sum() == tab.joint.right.opts["width"].sum() == 20_000
    assert tab.joint.main.getAxis("bottom").labelText == "actual rating"
    assert tab.joint.main.getAxis("left").labelText == "prediction"
    means = tab.joint.column_means()[1]
    assert np.all(np.diff(means) > 0)  # a trained model predicts higher for higher ratings

    m = movie_map(trained.model)
    assert len(tab.movie_map.scatter.data) == len(m.titles) == 1682
    labels = [label.toPlainText() for label in tab.movie_map.labels]
    assert labels[0] == m.titles[m.most_rated(1)[0]] == "Star Wars (1977)"
    np.testing.assert_allclose(np.sort(tab.movie_map.scatter.data["x"]), np.sort(m.x), atol=1e-3)

    largest, smallest = movie_biases(trained.model, 10)
    assert tab.largest.titles() == [b.title for b in largest]
    assert tab.smallest.titles() == [b.title for b in smallest]
    assert tab.largest.table.item(0, 1).text() == f"{largest[0].bias:+.3f}"


def test_hovering_the_map_names_the_movie(tab, trained, qtbot):
    movies = tab.movie_map
    view = movies.plot
    i = int(movies.data.labelled[3])
    scene = view.getViewBox().mapViewToScene(QPointF(float(movies.data.x[i]), float(movies.data.y[i])))
    qtbot.mouseMove(view.viewport(), view.mapFromScene(scene))
    qtbot.waitUntil(lambda: movies.data.titles[i] in view.getViewBox().toolTip(), timeout=5000)
    assert f"({int(movies.data.counts[i]):,} ratings)" in view.getViewBox().toolTip()


def test_picking_a_user_lists_the_engines_recommendations(tab, trained, qtbot):
    recs = tab.recommendations
    model = tab.engine.runner.model
    assert recs.isEnabled() and recs.user.count() == 943
    assert recs.titles() == [r.title for r in recommend(model, 1, 10)]  # the first user's, at once
    recs.user.setCurrentIndex(recs.user.findText("42"))
    recs.user.activated.emit(recs.user.currentIndex())
    expected = recommend(model, 42, 10)
    qtbot.waitUntil(lambda: recs.titles() == [r.title for r in expected], timeout=WAIT_MS)
    assert [recs.table.item(r, 1).text() for r in range(10)] == [f"{r.score:.2f}" for r in expected]
    assert "user 42 rated" in recs.about.text()
    recs.user.setEditText("424242")  # typed, then Enter
    qtbot.keyClick(recs.user.lineEdit(), Qt.Key_Return)
    qtbot.waitUntil(lambda: bool(tab.window().messages), timeout=WAIT_MS)
    assert tab.window().messages[-1] == ("Recommendations", "user 424242 is not in the model (it knows 943 users)")
    assert "424242" in tab.controls.status.text()
    recs.user.setCurrentIndex(recs.user.findText("7"))  # issue 20, item 6: the red line went on after a good pick
    recs.user.activated.emit(recs.user.currentIndex())
    qtbot.waitUntil(lambda: "user 7 rated" in recs.about.text(), timeout=WAIT_MS)
    assert "424242" not in tab.controls.status.text()


@pytest.mark.parametrize("fields, text", [
    ({"epochs": 0}, "epochs must be at least 1, got 0"),
    ({"lr": "-0.1"}, "learning rate must be positive, got -0.1"),
    ({"lr": "fast"}, "learning rate: 'fast' is not a number"),
    ({"factors": 0}, "factors must be between 1 and"),
])
def test_bad_settings_are_said_in_one_line_and_nothing_runs(tab, qtbot, fields, text):
    pick(tab, "lesson-dot", **fields)
    assert tab.controls.summary.text().startswith(text)  # said as it is typed
    frames = tab.frames
    qtbot.mouseClick(button(tab, "train"), Qt.LeftButton)
    assert tab.controls.status.text().startswith(text) and "\n" not in tab.controls.status.text()
    qtbot.wait(100)
    assert tab.state == IDLE and tab.frames == frames  # nothing was sent
    pick(tab, "lesson-dot")
    assert tab.controls.summary.text() == RECIPES["lesson-dot"].summary()


def test_a_row_wise_recipe_switched_to_sgd_asks_for_a_weight_decay_of_sgds_own(tab):
    c = tab.controls
    pick(tab, "fast")
    c.optimizer.setCurrentIndex(c.optimizer.findData("sgd"))
    assert c.summary.text().startswith("fast trains row-wise") and "e.g. 2e-4" in c.summary.text()
    pick(tab, "fast")
    c.optimizer.setCurrentIndex(c.optimizer.findData("sgd"))
    c.wd.setText("2e-4")
    assert "sgd lr=0.01 wd=0.0002" in c.summary.text() and "row-wise" not in c.summary.text()


def test_a_batch_larger_than_the_data_is_the_engines_one_line_and_the_window_goes_on(tab, qtbot):
    pick(tab, "fast", bs=90_000)
    train_started = tab.frames
    qtbot.mouseClick(button(tab, "train"), Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(tab.window().messages), timeout=WAIT_MS)
    text = "batch size 90,000 is larger than the 80,000 training ratings; use at most 80,000"
    assert tab.window().messages[-1] == ("Training", text)
    assert tab.controls.status.text() == f"Training: {text}"
    qtbot.waitUntil(lambda: tab.state == IDLE and tab.frames > train_started, timeout=WAIT_MS)
    assert tab.actions["train"].isEnabled() and not tab.actions["save"].isEnabled()


def test_stop_stops_and_the_window_stays_responsive(tab, qtbot):
    pick(tab, "lesson-learner")  # bs 64 over all of MovieLens: many seconds unless stopped
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    qtbot.mouseClick(button(tab, "train"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.state == TRAINING and tab.controls.progress.value() > 200, timeout=WAIT_MS)
    start, seen = time.perf_counter(), len(ticks)
    qtbot.wait(1000)
    during = np.array([t for t in ticks[seen:] if t >= start])
    value = tab.controls.progress.value()
    assert tab.state == TRAINING and value > 200
    with qtbot.waitSignal(tab.engine.stopped, timeout=WAIT_MS) as stopped:
        qtbot.mouseClick(button(tab, "stop"), Qt.LeftButton)
    timer.stop()
    # The GUI thread's 10 ms timer kept firing while the worker trained (starved, it would fire a few times).
    assert len(during) > 40, len(during)
    iterations, epochs = stopped.args
    assert 200 < iterations < 3 * 1250 and epochs < 3
    qtbot.waitUntil(lambda: tab.state == IDLE and tab.results is not None, timeout=WAIT_MS)
    assert tab.results.stopped and tab.results.iterations == iterations
    assert tab.actions["save"].isEnabled() and tab.recommendations.titles()  # a stopped model is a model too


def test_save_and_load_a_model(tab, qtbot, tmp_path, monkeypatch):
    if tab.results is None or tab.results.joint is None:
        pick(tab, "fast", epochs=1)
        train_and_wait(qtbot, tab)
    before = tab.results
    path = str(tmp_path / "model.pt")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (path, ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (path, ""))
    tab.actions["save"].trigger()
    qtbot.waitUntil(lambda: tab.window().notices[-1] == f"Saved the model to {path}", timeout=WAIT_MS)
    pick(tab, "lesson-net")
    tab.actions["load"].trigger()
    qtbot.waitUntil(lambda: tab.results is not before and tab.results is not None, timeout=WAIT_MS)
    loaded = tab.results
    assert loaded.joint is None and "no\nvalidation ratings" in tab.joint.message.toPlainText()
    assert loaded.largest == before.largest and tab.largest.titles() == [b.title for b in before.largest]
    assert tab.controls.model.currentData() == "dotbias"  # the settings show the loaded model's
    assert not tab.loss_plot.traces and tab.epoch_table.rowCount() == 0
    # the notice may come with the next frame
    qtbot.waitUntil(lambda: tab.window().notices[-1].startswith(f"Loaded {path}: "), timeout=WAIT_MS)
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not really")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "broken.pt"), ""))
    tab.actions["load"].trigger()
    qtbot.waitUntil(lambda: bool(tab.window().messages), timeout=WAIT_MS)
    title, text = tab.window().messages[-1]
    assert title == "Load model" and "broken.pt: not a collabsheet model file" in text and "\n" not in text
    assert tab.results is loaded  # the loaded model stays


def test_ctrl_t_trains_from_inside_the_tab(tab, qtbot):
    for box in QApplication.topLevelWidgets():  # a message box an earlier test left open would have the keys
        if isinstance(box, QMessageBox):
            box.close()
    pick(tab, "fast", epochs=1)
    tab.window().activateWindow()
    qtbot.waitUntil(tab.window().isActiveWindow, timeout=WAIT_MS)
    tab.controls.epochs.setFocus()
    with qtbot.waitSignal(tab.engine.started, timeout=WAIT_MS):
        qtbot.keyClick(tab.controls.epochs, Qt.Key_T, Qt.ControlModifier)
    qtbot.waitUntil(lambda: tab.state == IDLE and tab.results is not None, timeout=WAIT_MS)
    assert tab.epoch_table.rowCount() == 1


def test_switching_tabs_keeps_the_sheet_working(window, tab, qtbot):
    window.tabs.setCurrentWidget(window.sheet)
    step = window.sheet.snapshot.step
    button = next(b for b in window.sheet.controls.findChildren(QToolButton)
                  if b.defaultAction() is window.actions["step"])
    qtbot.mouseClick(button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.sheet.snapshot.step == step + 1, timeout=WAIT_MS)
    window.tabs.setCurrentWidget(window.train)
    assert window.train.results is not None  # the Training tab kept what it showed


def test_the_sheet_plays_while_the_training_tab_trains(window, tab, qtbot):
    """Each tab's runner has its own worker thread: a long training run does not hold the sheet's Play back."""
    pick(tab, "lesson-learner")  # bs 64 over all of MovieLens: many seconds unless stopped
    qtbot.mouseClick(button(tab, "train"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.state == TRAINING, timeout=WAIT_MS)
    sheet = window.sheet
    window.tabs.setCurrentWidget(sheet)
    step = sheet.snapshot.step
    window.actions["play"].setChecked(True)  # as the Play button does
    try:
        qtbot.waitUntil(lambda: sheet.snapshot.step >= step + 50, timeout=WAIT_MS)
        assert tab.state == TRAINING  # the sheet stepped while the training ran, not after it
        assert sheet.state == RunState.PLAYING and window.actions["stop"].isEnabled()
    finally:
        window.actions["stop"].trigger()
        with qtbot.waitSignal(tab.engine.stopped, timeout=WAIT_MS):
            tab.engine.stop()
    qtbot.waitUntil(lambda: sheet.state == IDLE and tab.state == IDLE, timeout=WAIT_MS)
    window.tabs.setCurrentWidget(tab)


def test_the_gui_thread_runs_no_torch_code_while_training(tab, qtbot):
    """Training, its curves and its analyses come from the worker: the GUI thread never calls into torch."""
    ran = set()

    def profile(frame, event, arg):
        name = frame.f_code.co_filename
        if event == "call" and frame.f_code.co_name != "_patched_getfile" and (
                "/torch/" in name or "/engine/train/" in name and not name.endswith("recipes.py")
                or name.endswith("/engine/device.py")):
            ran.add((name, frame.f_code.co_name))
        elif event == "c_call":  # torch's own functions and tensor methods are builtins
            module = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__module__
            if module.startswith("torch"):
                ran.add((module, getattr(arg, "__qualname__", "?")))

    pick(tab, "fast", epochs=1)
    sys.setprofile(profile)  # this (the GUI) thread only
    try:
        train_and_wait(qtbot, tab)
        recs = tab.recommendations
        recs.user.setCurrentIndex(recs.user.findText("7"))
        recs.user.activated.emit(recs.user.currentIndex())
        qtbot.waitUntil(lambda: "user 7 rated" in recs.about.text(), timeout=WAIT_MS)
    finally:
        sys.setprofile(None)
    assert tab.epoch_table.rowCount() == 1 and recs.titles()
    assert not ran, sorted(ran)[:5]


def test_the_progress_bar_tells_the_whole_runs_speed_and_time_left(tab, qtbot):
    """Issue 21: the Training tab shows the whole run's estimate and ratings/s, as the command line does."""
    import re

    pick(tab, "lesson-learner")  # bs 64: many batches, each a few ms
    qtbot.mouseClick(button(tab, "train"), Qt.LeftButton)
    bar = re.compile(r"epoch 1/3 · batch [\d,]+/1,250")
    pace = re.compile(r"[\d.]+k? ratings/s · (\d+ s|\d+ min \d+ s) left")
    qtbot.waitUntil(lambda: bar.fullmatch(tab.controls.progress.format()) is not None
                    and pace.fullmatch(tab.controls.pace.text()) is not None, timeout=WAIT_MS)
    with qtbot.waitSignal(tab.engine.stopped, timeout=WAIT_MS):
        qtbot.mouseClick(button(tab, "stop"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.state == IDLE, timeout=WAIT_MS)
    assert tab.controls.pace.text() == ""  # a stopped run has no time left to tell
    assert not tab.actions["resume"].isEnabled()  # stopped within its first epoch: no checkpoint was written
