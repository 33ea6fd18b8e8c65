"""The GUI thread's side of the worker thread: one command channel, and the frames coming back.

Each runner has its own worker thread (a QWorker in a QThread), so one tab's long blocking command (training
for minutes, a large solve) never holds another tab's Play or Step back: the tabs run side by side, and the
operating system shares the cores between them. A runner's commands travel as its handle's queued signal
(command, args) to its own worker alone. Frames come back through each runner's Mailbox, which a GUI timer
polls at ~60 Hz; each runner's handle renders them and turns their events into its Qt signals. While the views
render a frame the engines wait (the FrameClock), so the threads do not fight over the GIL. Only worker threads
import torch.
"""
from __future__ import annotations

import sys
import time

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal

from collabsheet.gui.runtime.clock import FrameClock
from collabsheet.gui.runtime.runner import Runner
from collabsheet.gui.runtime.worker import QWorker

REPAINT_MS = 16  # the GUI looks for a new frame this often: at most ~60 repaints a second
GIL_SWITCH_S = 0.001  # a thread waiting for the GIL gets it within 1 ms rather than Python's default 5 ms
_STILL_RUNNING: list = []  # engine threads that outlived their window, kept referenced until the process ends


def share_the_machine_with_the_gui() -> None:
    """Process-wide: a busy engine thread hands the GIL back to the GUI thread within a millisecond.

    The other half, fewer torch threads, is set by the sheet's runner once it has imported torch."""
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_S))


class QRunnerHandle(QObject):
    """One runner as the GUI thread sees it: its commands as method calls, `frame` and one signal per event.

    `handle.step(5)` sends the runner's `step` command. The commands are exactly the names in the runner's
    `commands` table: anything else (a helper such as `publish`) is an AttributeError where it is called. A
    subclass declares a Signal for each event the runner emits (state_changed, message, …), with the event's name.
    """

    frame = Signal(object)  # the runner's Frame, at most every REPAINT_MS
    command = Signal(str, tuple)  # (command, args), queued to the runner's own worker

    def __init__(self, channel: QObject, name: str, runner: Runner) -> None:
        super().__init__(channel)
        self.name, self.runner = name, runner
        self.commands = frozenset(runner.commands)  # only the names cross to the GUI thread, never the methods

    def send(self, command: str, *args) -> None:
        """Call the runner's `command` in the worker thread."""
        if command not in self.commands:
            raise AttributeError(f"{type(self.runner).__name__} has no command {command!r}")
        self.command.emit(command, args)

    def __getattr__(self, command: str):
        # Only for names the class does not define: a command of the runner's table, or an error.
        if command.startswith("_") or command not in self.__dict__.get("commands", ()):
            raise AttributeError(f"{type(self).__name__} has no attribute or command {command!r}")
        return lambda *args: self.send(command, *args)

    def stop(self) -> None:
        """End a blocking command between chunks, and pause long work."""
        self.runner.stop.set()
        self.send("pause")

    def deliver(self, frame) -> None:
        """The frame to the views, then its events as signals, in order."""
        self.frame.emit(frame)
        for kind, args in frame.events:
            getattr(self, kind).emit(*args)


class QChannel(QObject):
    """Owns a worker thread per runner; polls the runners' mailboxes and hands frames to their handles."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        share_the_machine_with_the_gui()
        self.clock = FrameClock()
        self.handles: dict[str, QRunnerHandle] = {}
        self.lanes: dict[str, tuple[QWorker, QThread]] = {}  # runner name -> its worker and thread
        self.timer = QTimer(self)
        self.timer.setInterval(REPAINT_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def add(self, name: str, runner: Runner, handle_type: type[QRunnerHandle] = QRunnerHandle) -> QRunnerHandle:
        """Run `runner` in a worker thread of its own under `name`; returns its handle."""
        runner.clock = self.clock
        worker, thread = QWorker(name, runner), QThread()
        thread.setObjectName(f"collabsheet-{name}")
        worker.moveToThread(thread)
        thread.finished.connect(worker.halt, Qt.DirectConnection)
        handle = self.handles[name] = handle_type(self, name, runner)
        handle.command.connect(worker.command)  # queued: the worker lives in its thread
        thread.start()
        self.lanes[name] = (worker, thread)
        return handle

    def poll(self) -> None:
        """Hand each runner's newest frame, if any, to its handle."""
        for handle in list(self.handles.values()):
            frame = handle.runner.mailbox.take()
            if frame is not None:
                with self.clock.rendering():  # the views render (and paint) synchronously within this
                    handle.deliver(frame)

    def shutdown(self, wait_ms: int = 60_000) -> None:
        """Stop the work, end the thread, and disconnect the commands."""
        self.timer.stop()
        for handle in self.handles.values():
            handle.runner.stop.set()
            handle.send("pause")
        self.clock.release()
        for name, (worker, thread) in self.lanes.items():
            self.handles[name].command.disconnect(worker.command)
            thread.quit()
        deadline = time.monotonic() + wait_ms / 1000
        for worker, thread in self.lanes.values():
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not thread.wait(left_ms):  # a solve step that will not end: never destroy a running QThread
                _STILL_RUNNING.append((thread, worker))
