"""Help → About and How this sheet works: what they say, that F1 opens the page, and that they need no torch."""
from __future__ import annotations

import platform
import subprocess
import sys
import unicodedata
from importlib import metadata

import pandas as pd
import PySide6
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from collabsheet.engine.config import LABELS
from collabsheet.engine.data.movielens import LICENCE
from collabsheet.engine.data.ratings import Ratings
from collabsheet.gui.help import about, guide
from collabsheet.gui.sheet import colors
from collabsheet.gui.sheet import layout as L

DEVICE = "cuda:0 · NVIDIA H200"


def _about_dialog(qtbot, ratings, device=DEVICE) -> about.QAboutDialog:
    dialog = about.QAboutDialog(ratings, device)
    qtbot.addWidget(dialog)
    return dialog


def test_about_names_the_dataset_its_licence_the_versions_and_the_device(qtbot, movielens):
    dialog = _about_dialog(qtbot, movielens)
    shown = " ".join(dialog.browser.toPlainText().split())
    assert movielens.name in shown and f"{len(movielens):,}" in shown and f"{movielens.n_users:,}" in shown
    assert " ".join(LICENCE.split()) in shown and shown.count("GroupLens") == LICENCE.count("GroupLens")  # once
    assert DEVICE in shown
    for name in ("collabsheet", "torch", "pyqtgraph", "numpy", "pandas", "openpyxl"):
        assert f"{name} {metadata.version(name)}" in shown and f"{name} {metadata.version(name)}" in dialog.text
    assert platform.python_version() in shown and PySide6.__version__ in shown
    dialog.copy()
    assert QGuiApplication.clipboard().text() == dialog.text and DEVICE in dialog.text


def test_about_gives_the_movielens_notice_for_other_data_too(qtbot, tmp_path):
    mine = Ratings(frame=pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [4.0, 5.0]}), name="mine.csv",
                   source=str(tmp_path / "mine.csv"))
    dialog = _about_dialog(qtbot, mine, "cpu")
    shown = " ".join(dialog.browser.toPlainText().split())
    assert "Dataset mine.csv" in shown and "Ratings 2" in shown and "GroupLens Research" in shown and "cpu" in shown
    loading = _about_dialog(qtbot, None, "").text
    assert "still loading" in loading and "GroupLens Research" in loading and "not known yet" in loading


def test_the_about_action_shows_what_is_current_when_chosen(qtbot, movielens):
    window = QMainWindow()
    qtbot.addWidget(window)
    now = {"device": "cpu"}
    action = about.about_action(window, lambda: movielens, lambda: now["device"])
    now["device"] = DEVICE
    action.trigger()
    dialogs = window.findChildren(about.QAboutDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible() and DEVICE in dialogs[0].text


def test_f1_opens_the_guide_and_brings_it_back(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    action = guide.guide_action(window)
    window.menuBar().addMenu("&Help").addAction(action)
    assert action.shortcut().toString() == "F1"
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key_F1)
    opened = window.findChildren(guide.QGuideWindow)
    assert len(opened) == 1 and opened[0].isVisible() and opened[0].windowTitle() == "How this sheet works"
    opened[0].close()
    action.trigger()
    assert window.findChildren(guide.QGuideWindow) == opened and opened[0].isVisible()  # the same window, again


@pytest.fixture(scope="module")
def page(qapp) -> str:
    window = guide.QGuideWindow()
    text = window.browser.toPlainText()
    window.deleteLater()
    return " ".join(text.split())


def test_the_guide_names_every_block_in_its_colour(page):
    html = guide.guide_html()
    for kind, name, _ in guide.BLOCKS:
        assert name in page and colors.tint(colors.BASE[kind], 0.6).name() in html
    assert {kind for kind, _, _ in guide.BLOCKS} >= {L.RATING, L.USER_FACTORS, L.ITEM_FACTORS, L.PREDICTION,
                                                      L.USER_BIAS, L.LOSS}


def test_the_guide_gives_the_sheets_formulas(page):
    from collabsheet.engine.models.factorization import sigmoid_range, y_range

    assert "dot product" in page and "u·m + user bias + movie bias" in page
    assert "lo + (hi − lo) · σ(x)" in page and "σ(x) = 1 / (1 + e−x)" in page
    lo, hi = y_range(1, 5)
    assert f"as in the lesson's notebook: ratings from 1 to 5 give ({lo:g}, {hi:g})" in page
    lo, hi = y_range(1, 5, "wide")
    assert f"ratings from 1 to 5 give ({lo:g}, {hi:g}) and the top" in page
    assert sigmoid_range(0.0, lo, hi) == pytest.approx((lo + hi) / 2)  # the formula as the guide states it
    assert "RMSE = √( Σ (prediction − rating)² / number of ratings )" in page and "rated cells only" in page
    for word in ("Step", "Step ×N", "Play", "Solve", "Reset", "Stop"):
        assert word in page


def test_the_guide_states_each_optimizers_rule_as_the_engine_has_it(page):
    from collabsheet.engine.optim import rules

    assert [name for name, _ in guide.OPTIMIZERS] == list(LABELS.values())
    for name, rule in rules.RULES.items():
        stated = rule.__doc__.split("   (")[0]  # momentum's docstring adds a remark
        stated = " ".join(stated.replace("m̂", "m′").replace("r̂", "r′").split())
        assert stated in page, name
    assert "g ← g + wd·p" in page and rules.l2.__doc__.startswith("g ← g + wd·p")
    assert not any(unicodedata.combining(c) for c in guide.guide_html())  # hats and the like land anywhere


def test_the_guide_lists_every_shortcut_of_the_window(page):
    from collabsheet.gui.sheet.actions import SHORTCUTS

    for keys in SHORTCUTS.values():
        assert any(k in page for k in ((keys,) if isinstance(keys, str) else keys)), keys
    for keys in ("Ctrl+Q", "Ctrl+Z", "Ctrl+Y", "F1", "Ctrl+wheel"):
        assert keys in page


def test_the_help_windows_need_no_torch():
    code = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication, QMainWindow
from collabsheet.engine.data.movielens import default_ratings
from collabsheet.gui.help.about import about_action
from collabsheet.gui.help.guide import guide_action
app = QApplication([])
window = QMainWindow()
ratings = default_ratings()
about_action(window, lambda: ratings, lambda: "cpu").trigger()
guide_action(window).trigger()
app.processEvents()
assert len(window.findChildren(QMainWindow)) == 0
from collabsheet.gui.help.about import QAboutDialog
from collabsheet.gui.help.guide import QGuideWindow
assert window.findChildren(QAboutDialog)[0].isVisible() and window.findChildren(QGuideWindow)[0].isVisible()
assert "torch" not in sys.modules, "the help windows imported torch"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
