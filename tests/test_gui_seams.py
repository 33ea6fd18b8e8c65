"""The window at its seams (issue 20): after a new file, an edit, a seek, the views agree with the engine's frame."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from gui.sheet.layout import Cell

WAIT_MS = 30_000


@pytest.fixture
def window(started_window):
    return started_window


def idle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.sheet.state == "idle", timeout=WAIT_MS)


def test_the_top_n_box_matches_the_sheet_after_a_small_file_then_movielens(qtbot, window, tmp_path):
    """Item 3: a 2-user file clamped the box to 5; MovieLens then showed 15 × 15 with the box still at 5."""
    tab = window.sheet
    path = tmp_path / "two.csv"
    path.write_text("user,item,rating\n" + "\n".join(f"{u},{m},{(u + m) % 5 + 1}" for u in range(2) for m in range(5)))
    tab.open_ratings(str(path))
    qtbot.waitUntil(lambda: tab.snapshot.dataset == "two.csv" and tab.controls.top.maximum() == 5, timeout=WAIT_MS)
    window.actions["movielens"].trigger()
    qtbot.waitUntil(lambda: "MovieLens" in tab.snapshot.dataset and tab.controls.top.maximum() > 15, timeout=WAIT_MS)
    idle(qtbot, window)
    assert tab.snapshot.ratings.shape == (15, 15)
    assert tab.controls.top.value() == 15  # the box says what the sheet shows


def test_huge_rmse_in_the_status_bar_is_scientific(qtbot, window):
    """Item 21: a factor of 1e15 made "RMSE 236695142790465802131063439360.0000"."""
    tab = window.sheet
    tab.engine.edit("user_factors", (0, 0), 1e15)
    qtbot.waitUntil(lambda: tab.snapshot.rmse > 1e10, timeout=WAIT_MS)
    idle(qtbot, window)
    text = window.status_labels["rmse"].text()
    assert "e+" in text and len(text) < 24, text


def test_edit_wording_names_the_overflow_and_the_cell(qtbot, window):
    """Item 22: "1e400" overflows (say so, not "not a number"); undo names the user and the movie."""
    tab = window.sheet
    said: list[str] = []
    tab.model.invalid_edit.connect(said.append)
    index = tab.model.index(*tab.model.layout.position(Cell("rating", (0, 0))))
    assert not tab.model.setData(index, "1e400")
    assert "too large" in said[-1] and "not a number" not in said[-1]
    assert not tab.model.setData(index, "abc") and "not a number" in said[-1]
    assert tab.model.setData(index, "4")
    qtbot.waitUntil(lambda: tab.snapshot.ratings[0, 0] == 4.0, timeout=WAIT_MS)
    snap = tab.snapshot
    assert tab.undo.undoText() == f"rating of user {snap.user_ids[0]} for {snap.titles[0]}"
    assert tab.actions["undo"].text().endswith(snap.titles[0])


def test_the_top_n_question_counts_every_recorded_step(qtbot, window):
    """Item 22: after a seek back the question said 3,963 steps would be dropped when the run had 9,447."""
    tab = window.sheet
    tab.engine.step(10)
    qtbot.waitUntil(lambda: tab.snapshot.step == 10, timeout=WAIT_MS)
    idle(qtbot, window)
    tab.engine.seek(4)
    qtbot.waitUntil(lambda: tab.snapshot.step == 4 and tab.timeline.end == 10, timeout=WAIT_MS)
    tab.controls.top.setValue(12)
    qtbot.waitUntil(lambda: tab.question is not None and tab.question.isVisible(), timeout=WAIT_MS)
    assert "10 steps" in tab.question.text()
    tab.question.button(QMessageBox.Cancel).click()
    assert tab.controls.top.value() == 15
