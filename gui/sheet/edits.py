"""The Sheet tab's cell edits: each typed value an undoable command sent to the engine, edited cells marked.

A mixin of QSheetTab (it reads the tab's snapshot, model, view, engine and undo stack).
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QMessageBox

from collabsheet.gui.sheet.layout import Cell


class SheetEdits:
    """Typing into the sheet: undo and redo through the engine, a red corner on cells that differ from before."""

    def edit(self, block: str, index: tuple, value: float | None) -> None:
        """A typed value: recorded for undo; under the sigmoid a rating outside the data's range asks first."""
        snap = self.snapshot
        if snap is None:
            return
        cell = Cell(block, tuple(index))
        old = self._value(cell)
        rated = snap.ratings[snap.mask]
        if block == "rating" and snap.squash and value is not None and rated.size and not (
                rated.min() <= value <= rated.max()):
            box = QMessageBox(QMessageBox.Question, "Rating outside the range",
                              f"The sigmoid squashes predictions into the ratings' range ({rated.min():g} to "
                              f"{rated.max():g}). A rating of {value:g} widens that range, so every prediction "
                              "on the sheet rescales. Type it anyway?", QMessageBox.Yes | QMessageBox.Cancel, self)
            box.setDefaultButton(QMessageBox.Cancel)
            self.question = box
            box.finished.connect(lambda button: self._answered_range(button, cell, old, value))
            box.open()
            return
        self.undo.push(EditCommand(self, cell, old, value))

    def _answered_range(self, button: int, cell: Cell, old, value) -> None:
        self.question = None
        if button == QMessageBox.Yes:
            self.undo.push(EditCommand(self, cell, old, value))
        else:
            self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(0, 0))  # the cell shows its value again

    def _value(self, cell: Cell) -> float | None:
        """What the cell holds on screen (a held-out rating, a cell of the new user's row too)."""
        return self.model.value(cell)

    def apply_edit(self, cell: Cell, value: float | None) -> None:
        """Send an edit to the engine and mark the cell while it differs from its value before any edit."""
        self.originals.setdefault(cell, self._value(cell) if self.snapshot is not None else None)
        self.engine.edit(cell.kind, cell.index, value)
        edited = {c for c, v in self.originals.items() if c != cell and c in self.view.edited}
        if value != self.originals[cell]:
            edited.add(cell)
        self.view.set_marks(edited=edited)

    def _forget_edits(self, snap, previous) -> None:
        """A new run: factor edits no longer apply and cannot be undone; typed ratings stay marked on the same sheet."""
        self.undo.clear()
        same = previous is not None and snap.ratings.shape == previous.ratings.shape
        keep = {c for c in self.view.edited if c.kind == "rating"} if same else set()
        self.originals = {c: v for c, v in self.originals.items() if c in keep}
        self.view.set_marks(edited=keep)


class EditCommand(QUndoCommand):
    """One typed cell: redo sends the new value to the engine, undo the old one."""

    def __init__(self, tab: SheetEdits, cell: Cell, old: float | None, new: float | None) -> None:
        super().__init__(f"edit {cell.kind.replace('_', ' ')} {tuple(i + 1 for i in cell.index)}")
        self.tab, self.cell, self.old, self.new = tab, cell, old, new

    def redo(self) -> None:
        self.tab.apply_edit(self.cell, self.new)

    def undo(self) -> None:
        self.tab.apply_edit(self.cell, self.old)
