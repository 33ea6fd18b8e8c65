"""A worker thread's object: it owns one runner and turns the commands its handle queues into method calls.

Long work (Play, Step ×N) is the runner's `tick`, driven by a timer in this thread, so commands (Pause, edits, a
new optimizer) are answered between chunks. A blocking command (Solve, training) is ended through the runner's
`stop` event, which the GUI thread sets directly; it blocks only this runner's thread.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot

from collabsheet.gui.runtime.runner import Runner, one_line


class QWorker(QObject):
    """Lives in its runner's thread; calls the runner's commands by name and ticks its long work."""

    def __init__(self, name: str, runner: Runner) -> None:
        super().__init__()
        self.name, self.runner = name, runner
        self._due: float | None = None  # when the runner's next tick is due
        self._timer: QTimer | None = None

    def _guard(self, command: str, action) -> bool:
        """Run one call; the user's mistakes become a message, never a crash of the worker."""
        try:
            action()
            return True
        except Exception as error:  # noqa: BLE001 - an engine bug must not take the window down either
            self.runner.failed(command, one_line(error))
            return False

    @Slot(str, tuple)
    def command(self, command: str, args: tuple) -> None:
        """Call the runner's command `command` (from its `commands` table) with args, then tick what it started."""
        self._guard(command, lambda: self.runner.commands[command](*args))
        self._due = time.perf_counter()
        self._schedule()

    def _tick(self) -> None:
        wait = [None]
        self._guard("tick", lambda: wait.__setitem__(0, self.runner.tick()))
        self._due = None if wait[0] is None else time.perf_counter() + wait[0]
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:  # created on first use, so it belongs to the worker thread
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._tick)
        if self._due is None:
            self._timer.stop()
            return
        self._timer.start(int(max(0.0, self._due - time.perf_counter()) * 1000))

    @Slot()
    def halt(self) -> None:
        """Stop the runner's long work as the thread ends (runs in the worker thread)."""
        self._due = None
        if self._timer is not None:
            self._timer.stop()
        self.runner.halt()
