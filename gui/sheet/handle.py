"""The Sheet tab's handle on its runner: commands by name (gui.runtime.channel) and the runner's events as signals."""
from __future__ import annotations

from PySide6.QtCore import Signal

from collabsheet.gui.runtime.channel import QRunnerHandle


class QSheetHandle(QRunnerHandle):
    """SheetRunner as the GUI thread sees it; every public SheetRunner method is a command."""

    message = Signal(str, str)  # title, one-line text: something went wrong
    notice = Signal(str)  # something went right, for the status bar
    state_changed = Signal(object)  # engine.config.RunState
    loaded = Signal(object)  # the Ratings now in use
    progress = Signal(str, object)  # data preparation: message, fraction or None
    solved = Signal(object)  # SolveResult
    diverged = Signal()
    xlsx_checked = Signal(bool)  # whether engine.xlsx can export and import (checked in the worker)
    choose_sheet = Signal(str, list)  # a workbook laid out as the lesson's has these collab sheets: which one?
    raced = Signal(int)  # a race ended (its number)
    model_used = Signal(str)  # fold-in now uses this trained model ("": the sheet's movies)

    def solve(self) -> None:
        self.runner.stop.clear()  # cleared here, not in the worker, so a quick Stop is never lost
        self.send("solve")

    def step(self, n: int = 1) -> None:
        """One step at once; more in chunks (Step ×N), so Stop and edits are answered meanwhile."""
        self.send("step", n) if n <= 1 else self.send("step_n", n)

    def edit(self, block: str, index: tuple, value) -> None:
        self.send("edit", block, tuple(index), value)
