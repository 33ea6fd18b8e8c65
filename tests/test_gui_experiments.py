"""The Training tab's experiments table (pytest-qt, offscreen) over a real runs database in the test's own folder
(conftest sets COLLABSHEET_DATA): rows, sort, filter, overlaid curves, delete, export, refresh."""
from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from collabsheet.engine.cli import main as cli
from collabsheet.engine.config import RunState
from collabsheet.engine.train import runs
from collabsheet.engine.train.recipes import RECIPES
from collabsheet.gui.train.experiments import QExperiments
from gui_thread_probe import assert_gui_thread_runs_no_torch
from train_helpers import low_rank_ratings

WAIT_MS = 60_000  # generous: the machine running the tests may be busy


def keep(recipe: str, rmses, split: str = "random:42", status: str = "finished", **changes) -> int:
    """Record a run with these validation RMSEs per epoch; its id."""
    r = RECIPES[recipe].with_(**changes) if changes else RECIPES[recipe]
    epochs = [SimpleNamespace(epoch=e + 1, train_loss=x * x + 0.1, valid_mse=x * x, valid_rmse=x, seconds=e + 1.0)
              for e, x in enumerate(rmses)]
    return runs.record(r, dataset="MovieLens 100k", split=split, seed=42, n_train=80_000, n_valid=20_000,
                       device="cpu", status=status, epochs=epochs, seconds=2.0 * len(rmses))


@pytest.fixture
def recorded():
    """Four runs: two fast ones on u1, the lesson's net, and one stopped before its first epoch (no RMSE)."""
    return {"fast": keep("fast", [1.00, 0.95, 0.93], split="u1"),
            "slow": keep("fast", [1.10, 1.02], split="u1", lr=0.001),
            "net": keep("lesson-net", [1.05, 0.97, 0.96, 0.94]),
            "none": keep("lesson-dot", [], status="stopped")}


@pytest.fixture
def table(qtbot, recorded):
    w = QExperiments()
    qtbot.addWidget(w)
    w.resize(760, 560)
    w.show()
    qtbot.waitUntil(lambda: w.listings == 1, timeout=WAIT_MS)
    yield w
    w.close_reader()


def refreshed(qtbot, w: QExperiments, act) -> None:
    """Do `act`, then wait for the listing it causes."""
    before = w.listings
    act()
    qtbot.waitUntil(lambda: w.listings > before, timeout=WAIT_MS)


def click_header(qtbot, w: QExperiments, name: str) -> None:
    header = w.view.horizontalHeader()
    column = next(i for i in range(w.proxy.columnCount()) if w.proxy.headerData(i, Qt.Horizontal) == name)
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(x, header.height() // 2))


def click_row(qtbot, w: QExperiments, run: int, modifier=Qt.NoModifier) -> None:
    row = w.shown_ids().index(run)
    rect = w.view.visualRect(w.proxy.index(row, 0))
    qtbot.mouseClick(w.view.viewport(), Qt.LeftButton, modifier, rect.center())


def test_every_run_shows_newest_first_with_its_figures(table, recorded):
    w = table
    assert w.shown_ids() == sorted(recorded.values(), reverse=True)
    row = w.shown_ids().index(recorded["net"])
    text = {w.proxy.headerData(c, Qt.Horizontal): w.proxy.index(row, c).data() for c in range(w.proxy.columnCount())}
    assert text["RMSE"] == "0.9400" and text["epochs"] == "4" and text["recipe"] == "lesson-net"
    assert text["split"] == "random:42" and text["time"] == "8.0 s" and text["status"] == "finished"
    assert text["settings"] == RECIPES["lesson-net"].summary()
    assert "4 runs in" in w.count.text() and str(runs.database()) in w.count.text()


def test_a_header_click_sorts_by_its_column(table, qtbot, recorded):
    w = table
    click_header(qtbot, w, "RMSE")
    assert w.shown_ids() == [recorded[k] for k in ("fast", "net", "slow", "none")]  # no RMSE: after every other
    click_header(qtbot, w, "RMSE")
    assert w.shown_ids() == [recorded[k] for k in ("none", "slow", "net", "fast")]
    click_header(qtbot, w, "epochs")
    assert [w.proxy.run(r).epochs for r in range(4)] == [0, 2, 3, 4]


def test_the_filter_keeps_runs_with_every_word(table, qtbot, recorded):
    w = table
    qtbot.keyClicks(w.filter, "FAST u1")
    assert sorted(w.shown_ids()) == sorted([recorded["fast"], recorded["slow"]])
    assert "2 of 4 runs shown" in w.count.text()
    w.filter.clear()
    qtbot.keyClicks(w.filter, "embeddingnet")  # the settings name the model class
    assert w.shown_ids() == [recorded["net"]]
    qtbot.keyClicks(w.filter, " u1")
    assert w.shown_ids() == []


def test_two_selected_runs_overlay_their_validation_curves(table, qtbot, recorded):
    w = table
    click_row(qtbot, w, recorded["fast"])
    click_row(qtbot, w, recorded["net"], Qt.ControlModifier)
    qtbot.waitUntil(lambda: set(w.plotted) == {recorded["fast"], recorded["net"]}, timeout=WAIT_MS)
    traces = w.plot.traces
    assert set(traces) == {recorded["fast"], recorded["net"]}
    for key, rmses in (("fast", [1.00, 0.95, 0.93]), ("net", [1.05, 0.97, 0.96, 0.94])):
        x, y = traces[recorded[key]].item.getData()
        assert list(x) == list(range(1, len(rmses) + 1)) and np.allclose(y, rmses, rtol=0, atol=1e-12)
    pens = {traces[i].item.opts["pen"].color().name() for i in traces}
    assert len(pens) == 2  # one colour each
    labels = w.plot.labels()
    assert any(f"run {recorded['fast']} · fast · 0.9300" == t for t in labels), labels
    assert any(f"run {recorded['net']} · lesson-net · 0.9400" == t for t in labels), labels
    qtbot.keyClicks(w.filter, "net")  # the fast run is filtered out: its curve goes with it
    qtbot.waitUntil(lambda: w.plotted == (recorded["net"],), timeout=WAIT_MS)
    assert list(w.plot.traces) == [recorded["net"]]


def test_delete_asks_first_and_the_delete_key_does_it(table, qtbot, recorded, monkeypatch):
    w = table
    asked = []
    answer = [QMessageBox.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or answer[0])
    click_row(qtbot, w, recorded["slow"])
    click_row(qtbot, w, recorded["none"], Qt.ControlModifier)
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key_Delete)
    assert len(asked) == 1 and "Delete 2 runs" in asked[0]
    assert len(runs.runs()) == 4  # cancelled: nothing gone
    answer[0] = QMessageBox.Yes
    refreshed(qtbot, w, lambda: qtbot.keyClick(w.view, Qt.Key_Delete))
    assert sorted(w.shown_ids()) == sorted([recorded["fast"], recorded["net"]])
    assert sorted(r.id for r in runs.runs()) == sorted([recorded["fast"], recorded["net"]])
    with pytest.raises(ValueError, match=f"no run {recorded['slow']}"):
        runs.curves([recorded["slow"]])
    qtbot.keyClicks(w.filter, "x")  # typing in the filter: Delete edits the text, never the runs
    qtbot.keyClick(w.filter, Qt.Key_Backspace)
    w.select([recorded["fast"]])
    qtbot.keyClick(w.filter, Qt.Key_Delete)
    assert len(asked) == 2 and len(runs.runs()) == 2


def test_export_writes_the_rows_shown_in_their_order(table, qtbot, recorded, monkeypatch, tmp_path):
    w = table
    path = tmp_path / "runs.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    click_header(qtbot, w, "RMSE")
    qtbot.keyClicks(w.filter, "u1")
    w.actions["export"].trigger()
    qtbot.waitUntil(lambda: path.exists() and "exported" in w.count.text(), timeout=WAIT_MS)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["id"]) for r in rows] == [recorded["fast"], recorded["slow"]]
    assert float(rows[0]["valid_rmse"]) == pytest.approx(0.93) and rows[1]["split"] == "u1"
    (tmp_path / "folder.csv").mkdir()  # a bad target: one line, in red, and nothing written
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "folder.csv"), ""))
    w.actions["export"].trigger()
    qtbot.waitUntil(lambda: "folder.csv: is a folder" in w.count.text(), timeout=WAIT_MS)
    assert "b00020" in w.count.styleSheet()


def test_refresh_shows_a_run_the_command_line_recorded(table, qtbot, tmp_path):
    w = table
    low_rank_ratings(n_users=30, n_movies=20).frame.to_csv(tmp_path / "r.csv", index=False)
    assert cli.main(["train", "--ratings", str(tmp_path / "r.csv"), "--device", "cpu", "--recipe", "fast",
                     "--epochs", "2", "--bs", "64", "--split", "random:3"]) == 0
    newest = runs.runs()[0]
    assert newest.id not in w.shown_ids()
    w.view.setFocus()
    refreshed(qtbot, w, lambda: qtbot.keyClick(w.view, Qt.Key_F5))
    assert w.shown_ids()[0] == newest.id and len(w.shown_ids()) == 5
    w.select([newest.id])
    qtbot.waitUntil(lambda: w.plotted == (newest.id,), timeout=WAIT_MS)
    _, y = w.plot.traces[newest.id].item.getData()
    assert len(y) == 2 and y[-1] == pytest.approx(newest.valid_rmse, abs=1e-12)


def test_a_run_trained_in_the_tab_appears_without_a_refresh(qtbot, tmp_path):
    from collabsheet.gui.main_window import QMainSheetWindow

    low_rank_ratings(n_users=40, n_movies=30).frame.to_csv(tmp_path / "r.csv", index=False)
    w = QMainSheetWindow(device="cpu")
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitUntil(lambda: w.sheet.snapshot is not None, timeout=WAIT_MS)
    w.tabs.setCurrentWidget(w.train)
    tab = w.train
    tab.pages.setCurrentWidget(tab.experiments)
    qtbot.waitUntil(lambda: tab.experiments.listings >= 1 and tab.state == RunState.IDLE, timeout=WAIT_MS)
    assert tab.experiments.shown_ids() == []
    tab.engine.load_ratings(str(tmp_path / "r.csv"))
    qtbot.waitUntil(lambda: "r.csv" in tab.controls.ratings.text() and tab.state == RunState.IDLE, timeout=WAIT_MS)
    c = tab.controls
    c.recipe.setCurrentIndex(c.recipe.findData("fast"))
    c.epochs.setValue(2)
    c.bs.setValue(64)
    assert tab.train()
    qtbot.waitUntil(lambda: len(tab.experiments.shown_ids()) == 1 or bool(w.messages), timeout=WAIT_MS)
    assert not w.messages
    (kept,) = runs.runs()
    assert tab.experiments.shown_ids() == [kept.id] and kept.epochs == 2 and kept.dataset.startswith("r.csv")
    qtbot.waitUntil(lambda: tab.state == RunState.IDLE, timeout=WAIT_MS)
    w.close()


def test_the_gui_thread_reads_no_database_and_runs_no_torch():
    """The table's reads, curves and filter: the database is read in the reader's thread, torch never runs."""
    keep("fast", [1.0, 0.9])
    keep("lesson-net", [1.1, 0.95, 0.92])
    assert_gui_thread_runs_no_torch("""
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from collabsheet.gui.main_window import QMainSheetWindow
import sqlite3
connects = []
real_connect = sqlite3.connect
def watched(*a, **k):
    import threading
    connects.append(threading.current_thread().name)
    return real_connect(*a, **k)
sqlite3.connect = watched
app = QApplication([])
w = QMainSheetWindow(device="cpu")
done = []
def drive():
    if w.sheet.snapshot is None:
        QTimer.singleShot(50, drive)
        return
    w.tabs.setCurrentWidget(w.train)
    w.train.pages.setCurrentWidget(w.train.experiments)
    QTimer.singleShot(50, select)
def select():
    e = w.train.experiments
    if e.listings < 1:
        QTimer.singleShot(50, select)
        return
    e.select(e.shown_ids())
    e.filter.setText("net")
    QTimer.singleShot(50, finish)
def finish():
    e = w.train.experiments
    if e.plotted != tuple(e.shown_ids()):
        QTimer.singleShot(50, finish)
        return
    done.append(e.plotted)
    w.close()
    app.quit()
w.show()
QTimer.singleShot(50, drive)
QTimer.singleShot(60_000, app.quit)
app.exec()
assert done and len(done[0]) == 1, done
assert connects and "MainThread" not in connects, connects
""")


def test_a_database_that_cannot_be_read_is_said_in_one_red_line(qtbot):
    path = runs.database()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not SQLite at all, " * 20)
    w = QExperiments()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: "file is not a database" in w.count.text(), timeout=WAIT_MS)
    assert w.count.text() == f"the runs database {path}: file is not a database"
    assert "b00020" in w.count.styleSheet() and w.shown_ids() == []
    w.close_reader()


def test_the_experiments_page_fits_an_800_by_600_window(small_window, qtbot):
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication, QToolButton

    keep("fast", [1.0, 0.9])
    w = small_window
    tab = w._tab("train")
    w.tabs.setCurrentWidget(tab)
    tab.pages.setCurrentWidget(tab.experiments)
    e = tab.experiments
    qtbot.waitUntil(lambda: e.listings >= 1 and e.plot is not None, timeout=WAIT_MS)
    QApplication.processEvents()
    assert w.width() == 800 and w.minimumSizeHint().width() <= 800
    buttons = [b for b in e.findChildren(QToolButton) if b.defaultAction() in e.actions.values()]
    assert len(buttons) == 3
    for part in (e.filter, *buttons, e.view, e.plot):
        place = QRect(part.mapTo(w, part.rect().topLeft()), part.size())
        assert w.rect().contains(place) and part.width() >= part.minimumSizeHint().width(), part
    assert e.view.height() >= 3 * e.view.verticalHeader().defaultSectionSize() and e.plot.height() >= 150
