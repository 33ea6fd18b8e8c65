"""The Gradient descent tab's handle on its runner: commands by name (gui.runtime.channel), events as signals."""
from __future__ import annotations

from PySide6.QtCore import Signal

from collabsheet.gui.runtime.channel import QRunnerHandle


class QGradDescHandle(QRunnerHandle):
    """GradDescRunner as the GUI thread sees it; every public GradDescRunner method is a command."""

    message = Signal(str, str)  # title, one-line text: something went wrong
    notice = Signal(str)  # something went right, for the status bar
    state_changed = Signal(object)  # engine.config.RunState
    diverged = Signal()
    choose_sheet = Signal(str, object, str)  # a workbook with several optimizer sheets: path, their names, the default
