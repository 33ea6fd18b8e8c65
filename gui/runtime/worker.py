"""The worker thread's object: it owns the runners and turns queued commands into their method calls.

Long work (Play, Step ×N) is each runner's `tick`, driven by one timer in this thread, so commands
(Pause, edits, a new optimizer) are answered between chunks. A blocking command (Solve) is ended
through its runner's `stop` event, which the GUI thread sets directly.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot

from collabsheet.gui.runtime.runner import Runner, one_line


class QWorker(QObject):
    """Lives in the worker thread; calls runners' commands by name and ticks their long work."""

    def __init__(self, runners: dict[str, Runner]) -> None:
        super().__init__()
        self.runners = runners
        self._due: dict[str, float] = {}  # runner -> when its next tick is due
        self._timer: QTimer | None = None

    def _guard(self, runner: Runner, command: str, action) -> bool:
        """Run one call; the user's mistakes become a message, never a crash of the worker."""
        try:
            action()
            return True
        except Exception as error:  # noqa: BLE001 - an engine bug must not take the window down either
            runner.failed(command, one_line(error))
            return False

    @Slot(str, str, tuple)
    def command(self, name: str, command: str, args: tuple) -> None:
        """Call runner `name`'s method `command` with args, then tick whatever long work it started."""
        runner = self.runners[name]
        self._guard(runner, command, lambda: getattr(runner, command)(*args))
        self._due[name] = time.perf_counter()
        self._schedule()

    def _tick(self) -> None:
        now = time.perf_counter()
        for name, due in list(self._due.items()):
            if due > now:
                continue
            runner, wait = self.runners[name], [None]
            self._guard(runner, "tick", lambda: wait.__setitem__(0, runner.tick()))
            if wait[0] is None:
                del self._due[name]
            else:
                self._due[name] = time.perf_counter() + wait[0]
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:  # created on first use, so it belongs to the worker thread
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._tick)
        if not self._due:
            self._timer.stop()
            return
        wait = max(0.0, min(self._due.values()) - time.perf_counter())
        self._timer.start(int(wait * 1000))

    @Slot()
    def halt(self) -> None:
        """Stop all long work as the thread ends (runs in the worker thread)."""
        self._due.clear()
        if self._timer is not None:
            self._timer.stop()
        for runner in self.runners.values():
            runner.halt()
