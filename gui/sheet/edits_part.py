"""The Sheet tab's cell edits: each typed value an undoable command sent to the engine, edited cells marked.

A part the tab owns; it sees the tab as an EditsHost: the sheet on screen, the table, the engine's edit command
and a way to ask the user first.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from PySide6.QtGui import QKeySequence, QUndoCommand, QUndoStack

from collabsheet.gui.sheet.layout import Cell

if TYPE_CHECKING:
    from PySide6.QtCore import QObject
    from PySide6.QtGui import QAction

    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.handle import QSheetHandle
    from collabsheet.gui.sheet.model import QSheetModel
    from collabsheet.gui.sheet.view import QSheetView


class EditsHost(Protocol):
    """What cell edits use of the tab."""

    snapshot: Snapshot | None
    model: QSheetModel
    view: QSheetView
    engine: QSheetHandle  # only its `edit` command

    def ask(self, title: str, text: str, answered: Callable[[bool], None]) -> None:
        """A Yes/Cancel question; `answered(True)` once the user says Yes, `answered(False)` otherwise."""


class CellEdits:
    """Typing into the sheet: undo and redo through the engine, a red corner on cells that differ from before."""

    def __init__(self, host: EditsHost, parent: QObject) -> None:
        self.host = host
        self.undo = QUndoStack(parent)  # cell edits, undone and redone through the engine
        self.originals: dict[Cell, float | None] = {}  # each edited cell's value before its first edit

    def undo_actions(self, parent: QObject) -> dict[str, QAction]:
        """Edit ▸ Undo and Redo, named after the edit they undo or redo, with the platform's keys."""
        actions = {}
        for name, action, keys in (("undo", self.undo.createUndoAction(parent, "&Undo"), QKeySequence.Undo),
                                   ("redo", self.undo.createRedoAction(parent, "&Redo"), "Ctrl+Y")):
            action.setShortcuts([QKeySequence(keys)] + ([QKeySequence("Ctrl+Shift+Z")] if name == "redo" else []))
            actions[name] = action
        return actions

    def edit(self, block: str, index: tuple, value: float | None) -> None:
        """A typed value: recorded for undo; a rating outside the data's range asks first."""
        snap = self.host.snapshot
        if snap is None:
            return
        cell = Cell(block, tuple(index))
        old = self.host.model.value(cell)  # what the cell shows (a held-out rating, a cell of the new user's row too)
        rated = snap.ratings[snap.mask]
        if block == "rating" and value is not None and rated.size and not rated.min() <= value <= rated.max():
            # Either way the learner should know before: under the sigmoid every prediction rescales; without it
            # one far-off rating pulls the factors towards it and takes the colour scale with it (99 on a 1–5 sheet)
            why = (f"The sigmoid squashes predictions into the ratings' range ({rated.min():g} to {rated.max():g}). "
                   f"A rating of {value:g} widens that range, so every prediction on the sheet rescales."
                   if snap.squash else
                   f"The ratings on this sheet go from {rated.min():g} to {rated.max():g}. A rating of {value:g} is "
                   "outside them: the loss will pull the factors towards it, and the shading stretches to hold it.")
            self.host.ask("Rating outside the range", f"{why} Type it anyway?",
                          lambda yes: self._answered_range(yes, cell, old, value))
            return
        self.undo.push(EditCommand(self, cell, old, value))

    def _answered_range(self, yes: bool, cell: Cell, old: float | None, value: float) -> None:
        model = self.host.model
        if yes:
            self.undo.push(EditCommand(self, cell, old, value))
        else:
            model.dataChanged.emit(model.index(0, 0), model.index(0, 0))  # the cell shows its value again

    def apply(self, cell: Cell, value: float | None) -> None:
        """Send an edit to the engine and mark the cell while it differs from its value before any edit."""
        host = self.host
        self.originals.setdefault(cell, host.model.value(cell) if host.snapshot is not None else None)
        host.engine.edit(cell.kind, cell.index, value)
        edited = {c for c in self.originals if c != cell and c in host.view.edited}
        if value != self.originals[cell]:
            edited.add(cell)
        host.view.set_marks(edited=edited)

    def forget(self, snap: Snapshot, previous: Snapshot | None) -> None:
        """A new run: factor edits no longer apply and cannot be undone; typed ratings stay marked on the same sheet."""
        self.undo.clear()
        same = previous is not None and snap.ratings.shape == previous.ratings.shape
        keep = {c for c in self.host.view.edited if c.kind == "rating"} if same else set()
        self.originals = {c: v for c, v in self.originals.items() if c in keep}
        self.host.view.set_marks(edited=keep)


class EditCommand(QUndoCommand):
    """One typed cell: redo sends the new value to the engine, undo the old one."""

    def __init__(self, edits: CellEdits, cell: Cell, old: float | None, new: float | None) -> None:
        super().__init__(edits.host.model.cell_name(cell))  # "Undo rating of user 42 for Star Wars (1977)"
        self.edits, self.cell, self.old, self.new = edits, cell, old, new

    def redo(self) -> None:
        self.edits.apply(self.cell, self.new)

    def undo(self) -> None:
        self.edits.apply(self.cell, self.old)
