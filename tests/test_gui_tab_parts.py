"""The Sheet tab's parts on their own: each works over any host that has what its Protocol names, not only the tab."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.gui.sheet.edits_part import CellEdits
from collabsheet.gui.sheet.layout import Cell
from collabsheet.gui.sheet.model import QSheetModel
from collabsheet.gui.sheet.status_part import STATUS, SheetStatus, solve_message, valley_hint
from collabsheet.gui.sheet.view import QSheetView
from collabsheet.gui.widgets.wires import Wires

NAN = np.nan
RATINGS = np.array([[5.0, 3.0, NAN, 1.0], [4.0, NAN, 2.0, 1.0], [1.0, 1.0, 5.0, NAN]])


@pytest.fixture
def snap():
    grid = Crosstab(RATINGS, (11, 12, 13), (21, 22, 23, 24), ("A", "B", "C", "D"))
    return Sheet(grid).snapshot()


class Host:
    """What CellEdits asks of a tab, and nothing else: a snapshot, a table, an engine that records, canned answers."""

    def __init__(self, snap, answer: bool) -> None:
        self.snapshot = snap
        self.model = QSheetModel()
        self.model.set_snapshot(snap)
        self.view = QSheetView(self.model)
        self.parent = QWidget()  # the undo stack's owner
        self.sent: list[tuple] = []
        self.engine = SimpleNamespace(edit=lambda kind, index, value: self.sent.append((kind, tuple(index), value)))
        self.answer = answer
        self.asked: list[str] = []

    def ask(self, title: str, text: str, answered) -> None:
        self.asked.append(title)
        answered(self.answer)


def test_an_edit_is_sent_marked_and_undone_through_any_host(qtbot, snap):
    host = Host(snap, answer=True)
    qtbot.addWidget(host.view), qtbot.addWidget(host.parent)
    edits = CellEdits(host, host.parent)
    cell = Cell("rating", (0, 1))
    edits.edit("rating", (0, 1), 4.0)
    assert host.sent == [("rating", (0, 1), 4.0)] and cell in host.view.edited and not host.asked
    assert edits.undo.undoText() == "rating of user 11 for B"
    edits.undo.undo()  # the old value goes back to the engine, and the cell is no longer marked
    assert host.sent[-1] == ("rating", (0, 1), 3.0) and cell not in host.view.edited
    edits.undo.redo()
    assert host.sent[-1] == ("rating", (0, 1), 4.0) and cell in host.view.edited


@pytest.mark.parametrize("yes", [False, True])
def test_a_rating_outside_the_range_is_sent_only_when_the_user_says_yes(qtbot, snap, yes):
    host = Host(snap, answer=yes)
    qtbot.addWidget(host.view), qtbot.addWidget(host.parent)
    edits = CellEdits(host, host.parent)
    edits.edit("rating", (0, 0), 9.0)
    assert host.asked == ["Rating outside the range"]
    assert host.sent == ([("rating", (0, 0), 9.0)] if yes else []) and edits.undo.count() == int(yes)


def test_a_new_run_forgets_factor_edits_and_keeps_typed_ratings_on_the_same_sheet(qtbot, snap):
    host = Host(snap, answer=True)
    qtbot.addWidget(host.view), qtbot.addWidget(host.parent)
    edits = CellEdits(host, host.parent)
    edits.edit("rating", (1, 0), 2.0)
    edits.edit("user_factors", (0, 0), 0.5)
    edits.forget(snap, previous=snap)
    assert host.view.edited == {Cell("rating", (1, 0))} and edits.undo.count() == 0
    edits.forget(snap, previous=None)  # another sheet: nothing stays marked
    assert host.view.edited == set() and edits.originals == {}


def test_the_status_part_fills_the_labels_it_was_given(qapp, snap):
    labels, context = {name: QLabel() for name in STATUS}, QLabel()
    status = SheetStatus(labels, context)
    status.show(snap, None, None, running=True)
    assert labels["dataset"].text().endswith("sheet 3×4, 9 rated") and labels["step"].text() == "step 0"
    assert labels["rmse"].text().startswith("RMSE ") and labels["rate"].text().endswith("steps/s")
    assert f"k={snap.k}" in context.text()
    status.restart_rate(0, idle=True)
    assert labels["rate"].text() == ""
    status.clear()
    assert labels["dataset"].text() == labels["rmse"].text() == context.text() == ""


def test_a_solve_left_in_a_valley_is_told_about_weight_decay_and_only_then(snap):
    result = SimpleNamespace(ending="converged", why="", rmse_before=1.5, rmse=0.25, iterations=12, seconds=0.5)
    assert solve_message(result, snap) == "Solve converged: RMSE 1.5000 → 0.2500 in 12 iterations (0.50 s)"
    big = dict(snap.params, user_factors=np.full_like(snap.params["user_factors"], -113.0))
    valley = replace(snap, params=big)
    assert "Factors reached 113," in valley_hint(valley) and "weight decay" in solve_message(result, valley)
    decayed = replace(valley, settings=OptimizerSettings("adam", lr=0.1, weight_decay=0.01))
    assert valley_hint(decayed) == "" and valley_hint(None) == ""


class Source(QObject):
    fired = Signal(int)


def test_wires_disconnect_all_they_connected_once_and_say_so(qapp):
    source, heard = Source(), []
    wires = Wires()
    wires.connect(source.fired, heard.append)
    source.fired.emit(1)
    assert heard == [1] and not wires.closed
    wires.disconnect_all()
    source.fired.emit(2)
    assert heard == [1] and wires.closed
    wires.disconnect_all()  # a second close disconnects nothing twice
