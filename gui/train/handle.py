"""The Training tab's handle on its runner: commands by name (gui.runtime.channel), the runner's events as signals."""
from __future__ import annotations

from PySide6.QtCore import Signal

from collabsheet.gui.runtime.channel import QRunnerHandle


class QTrainHandle(QRunnerHandle):
    """TrainRunner as the GUI thread sees it; its commands are the names in TrainRunner.commands."""

    message = Signal(str, str)  # title, one-line text: something went wrong
    notice = Signal(str)  # something went right, for the status bar
    state_changed = Signal(object)  # engine.config.RunState
    loading = Signal(str, object)  # reading the ratings: message, fraction or None
    started = Signal(str, str)  # a run began: the recipe's name and summary
    stopped = Signal(int, int)  # Stop ended a run: batches and whole epochs done (its results follow)
    trained = Signal(str)  # a run ended: its headline (validation RMSE, ratings, seconds)
    recorded = Signal(int)  # a run was kept in the runs database: its id
    checkpoint = Signal(object, str)  # after a run: the tab's checkpoint summary (or None) and why it cannot be read

    def train(self, settings, seed: int = 42) -> None:
        self.runner.stop.clear()  # cleared here, not in the worker, so a quick Stop is never lost
        self.send("train", settings, seed)

    def resume(self) -> None:
        self.runner.stop.clear()  # as for train: a Stop pressed after Resume is never lost
        self.send("resume")
