"""The window as pixels, a launch-and-quit smoke test, and the Qt-free command-line path."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from collabsheet.gui.sheet import layout as L
from collabsheet.gui.app import main
from collabsheet.gui.main_window import QMainSheetWindow
from collabsheet.gui.sheet.layout import Cell
from gui_thread_probe import assert_gui_thread_runs_no_torch

WAIT_MS = 30_000


@pytest.fixture
def window(shown_window):
    return shown_window


def _pixel(w, image, cell: Cell, at: str = "left"):
    """The colour just inside a cell's left edge (numbers are right-aligned), or its top-left corner."""
    view = w.sheet.view
    rect = view.visualRect(w.sheet.model.index(*w.sheet.model.layout.position(cell)))
    point = rect.topLeft() + (QPoint(4, rect.height() // 2) if at == "left" else QPoint(5, 5))
    return image.pixelColor(view.viewport().mapTo(w, point))


def test_blocks_carry_their_colours_in_a_rendered_png(qtbot, window, tmp_path):
    snap = window.sheet.snapshot
    rated = tuple(int(x) for x in next(iter(zip(*snap.mask.nonzero()))))
    path = tmp_path / "window.png"
    assert window.grab().save(str(path))
    image = window.grab().toImage()
    expected = {"blue": (Cell(L.RATING, rated), 218), "purple": (Cell(L.PREDICTION, rated), 278),
                "orange": (Cell(L.USER_FACTORS, (2, 1)), 30), "green": (Cell(L.ITEM_FACTORS, (1, 2)), 134),
                "red": (Cell(L.LOSS), 0)}
    for name, (cell, hue) in expected.items():
        color = _pixel(window, image, cell, at="corner" if cell.kind == L.LOSS else "left")
        off = abs((color.hsvHue() - hue + 180) % 360 - 180)
        assert off <= 15 and color.hsvSaturationF() > 0.08, f"{name} cell is {color.name()}"
    assert _pixel(window, image, Cell(L.LOSS), at="corner").hsvSaturationF() > 0.6  # the loss cell is solid red
    assert path.stat().st_size > 10_000


def test_error_view_and_biases_render(qtbot, window):
    window.sheet.controls.errors.setChecked(True)
    rated = tuple(int(x) for x in next(iter(zip(*window.sheet.snapshot.mask.nonzero()))))
    index = window.sheet.model.index(*window.sheet.model.layout.position(Cell(L.PREDICTION, rated)))
    assert window.sheet.model.data(index) == f"{window.sheet.snapshot.errors[rated]:+.2f}"
    window.sheet.controls.biases.setChecked(True)
    qtbot.waitUntil(lambda: window.sheet.snapshot.biases, timeout=WAIT_MS)
    assert window.sheet.model.layout.top == window.sheet.snapshot.k + 1
    bias = window.sheet.model.index(*window.sheet.model.layout.position(Cell(L.ITEM_BIAS, (0,))))
    assert window.sheet.model.data(bias) == "0.00"
    assert not window.grab().isNull()


def test_big_numbers_shrink_to_fit_their_columns(qtbot, window):
    """A factor typed as -1234.567 shows a shorter form that fits its narrow column; editing gets it in full."""
    model, view = window.sheet.model, window.sheet.view
    index = model.index(*model.layout.position(Cell(L.USER_FACTORS, (0, 1))))
    assert model.setData(index, "-1234.567", Qt.EditRole)  # the path an edit in the cell takes
    qtbot.waitUntil(lambda: window.sheet.snapshot.user_factors[0, 1] == -1234.567, timeout=WAIT_MS)
    metrics = QFontMetrics(view.font())
    text = model.data(index, Qt.DisplayRole)
    assert metrics.horizontalAdvance(text) <= view.columnWidth(index.column()), text
    assert float(text) == pytest.approx(-1234.567, rel=1e-3)
    assert model.data(index, Qt.EditRole) == "-1234.567" and float(model.data(index, Qt.EditRole)) == -1234.567
    assert metrics.horizontalAdvance("-1234.57") > view.columnWidth(index.column())  # the old text would not fit
    # Every number on the sheet fits, the predictions this factor blew up included, and the painter shows the same.
    for kind, (r0, r1, c0, c1) in model.layout.blocks().items():
        _, _, texts = model.block(kind, slice(0, r1 - r0), slice(0, c1 - c0))
        for a in range(r1 - r0):
            for b in range(c1 - c0):
                shown = model.data(model.index(r0 + a, c0 + b), Qt.DisplayRole)
                assert texts[a * (c1 - c0) + b] == shown
                assert metrics.horizontalAdvance(shown) <= view.columnWidth(c0 + b), (kind, a, b, shown)
    predictions = model.block(L.PREDICTION, slice(0, 1), slice(0, model.layout.m))[2]
    assert any(t and "." not in t for t in predictions), predictions  # hundreds and more: no room for decimals
    assert not window.grab().isNull()


def test_void_qt_calls_keep_none_alive(qtbot, window):
    """PySide6 6.12.0's wheels drop a reference to None per void call on CPython 3.11 (so we pin 6.11)."""
    before = sys.getrefcount(None)
    for _ in range(20):
        window.sheet.view.viewport().repaint()
    for _ in range(2000):
        window.sheet.view.setMinimumWidth(10)
    assert sys.getrefcount(None) >= before - 100


def test_launch_and_quit_the_whole_window(qtbot):
    """main() opens the window on the default data; a timer closes it once the sheet shows."""
    seen = []

    def close_when_shown() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainSheetWindow) and w.isVisible()]
        if windows and windows[0].sheet.frames:
            seen.append(windows[0].sheet.snapshot.rmse)
            windows[0].close()
        else:
            QTimer.singleShot(50, close_when_shown)

    QTimer.singleShot(50, close_when_shown)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(QApplication.quit)  # never hang the suite if the window does not come up
    guard.start(WAIT_MS)
    assert main([]) == 0
    guard.stop()
    assert seen and seen[0] > 0


def test_subcommands_go_to_the_cli_without_importing_qt():
    code = ("import sys; from gui.app import main; rc = main(['about']); "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Dataset:" in done.stdout


def test_the_gui_thread_imports_no_torch_pyqtgraph_or_openpyxl_before_the_first_sheet():
    """The launch path: only the worker imports torch, and the ratings show before the engine's first sheet."""
    code = """
import os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
main, first, slow = threading.main_thread(), [], []
def audit(event, args):
    if event == "import" and not first and threading.current_thread() is main:
        if args[0].split(".")[0] in ("torch", "pyqtgraph", "openpyxl"):
            slow.append(args[0])
sys.addaudithook(audit)
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from collabsheet.gui.main_window import QMainSheetWindow
app = QApplication([])
w = QMainSheetWindow()
def watch(frame):  # connected after the window's own slot, so it runs once the window has rendered the frame
    if w.sheet.frames and not first:
        first.append(getattr(w.sheet, "previews", 0))
        app.quit()
w.sheet.engine.frame.connect(watch)
w.show()
QTimer.singleShot(60_000, app.quit)
app.exec()
assert first, "no sheet"
assert not slow, f"the GUI thread imported {slow[0]} before the first sheet"
assert first[0] >= 1, "the full sheet came before the ratings preview"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_bad_window_options_are_reported():
    assert main(["--top", "2"]) == 2
    assert main(["--no-such-option"]) == 2


@pytest.mark.parametrize("errors", [False, True])
def test_painted_blocks_match_the_models_roles(qtbot, window, errors):
    """The painter's block-at-once colours and text are exactly what data() answers cell by cell."""
    window.sheet.controls.biases.setChecked(True)
    qtbot.waitUntil(lambda: window.sheet.snapshot.biases, timeout=WAIT_MS)
    window.sheet.controls.errors.setChecked(errors)
    model = window.sheet.model
    for kind, (r0, r1, c0, c1) in model.layout.blocks().items():
        argb, _, texts = model.block(kind, slice(0, r1 - r0), slice(0, c1 - c0))
        for a in range(r1 - r0):
            for b in range(c1 - c0):
                index = model.index(r0 + a, c0 + b)
                assert int(argb[a, b]) == model.data(index, Qt.BackgroundRole).color().rgba(), (kind, a, b)
                assert texts[a * (c1 - c0) + b] == model.data(index, Qt.DisplayRole), (kind, a, b)


def test_the_gui_thread_runs_no_torch_code_in_a_whole_session():
    """Explanations and the device label come from the worker: the GUI thread never calls into torch."""
    assert_gui_thread_runs_no_torch("""
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from collabsheet.gui.main_window import QMainSheetWindow
from collabsheet.gui.sheet import layout as L
from collabsheet.gui.sheet.layout import Cell
app = QApplication([])
w = QMainSheetWindow()
tab, done = w.sheet, []
def drive():
    if tab.snapshot is None or tab.losses.plot is None:
        QTimer.singleShot(50, drive)
        return
    model = tab.model
    tab.view.setCurrentIndex(model.index(*model.layout.position(Cell(L.PREDICTION, (0, 0)))))
    tab.view.setCurrentIndex(model.index(*model.layout.position(Cell(L.USER_FACTORS, (1, 1)))))
    tab.engine.step(3)
    QTimer.singleShot(1500, finish)
def finish():
    done.append(tab.explain.text())
    w.close()
    app.quit()
w.show()
QTimer.singleShot(50, drive)
QTimer.singleShot(60_000, app.quit)
app.exec()
assert done and "next update" in done[0], done
""")


def test_a_crowded_log_axis_labels_1_2_3_5_of_each_decade(qapp):
    from collabsheet.gui.widgets.curve_plot import LogAxis

    axis = LogAxis("left")
    axis.setLogMode(False, True)
    crowded = np.log10([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 2.0, 3.0]).tolist()
    assert axis.logTickStrings(crowded, 1.0, 1.0) == ["0.2", "0.3", "", "0.5", "", "", "", "", "2", "3"]
    few = np.log10([0.4, 0.6]).tolist()  # a narrow range keeps every label it has
    assert axis.logTickStrings(few, 1.0, 1.0) == ["0.4", "0.6"]
