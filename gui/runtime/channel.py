"""The GUI thread's side of the worker thread: one command channel, and the frames coming back.

Commands travel as one queued signal (runner, command, args) to the QWorker in its QThread. Frames come
back through each runner's Mailbox, which a GUI timer polls at ~60 Hz; each runner's handle renders
them and turns their events into its Qt signals. While the views render a frame the engine waits (the
FrameClock), so the two threads do not fight over the GIL. Only the worker thread imports torch.
"""
from __future__ import annotations

import sys

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
    """One runner as the GUI thread sees it: commands as method calls, `frame` and one signal per event.

    `handle.step(5)` sends the runner's `step` command; a subclass declares a Signal for each event the
    runner emits (state_changed, message, …), with the event's name.
    """

    frame = Signal(object)  # the runner's Frame, at most every REPAINT_MS
    _COMMANDS = frozenset()  # filled per subclass: the runner's public methods

    def __init__(self, channel: QChannel, name: str, runner: Runner) -> None:
        super().__init__(channel)
        self._channel, self._name, self.runner = channel, name, runner

    def send(self, command: str, *args) -> None:
        """Call the runner's `command` in the worker thread."""
        self._channel.command.emit(self._name, command, args)

    def __getattr__(self, command: str):
        if command.startswith("_") or not callable(getattr(type(self.runner), command, None)):
            raise AttributeError(command)
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
    """Owns the worker thread and its runners; polls their mailboxes and hands frames to their handles."""

    command = Signal(str, str, tuple)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        share_the_machine_with_the_gui()
        self.clock = FrameClock()
        self.handles: dict[str, QRunnerHandle] = {}
        self.worker = QWorker({})
        self.thread = QThread()
        self.thread.setObjectName("collabsheet-engine")
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(self.worker.halt, Qt.DirectConnection)
        self.command.connect(self.worker.command)
        self.timer = QTimer(self)
        self.timer.setInterval(REPAINT_MS)
        self.timer.timeout.connect(self.poll)
        self.thread.start()
        self.timer.start()

    def add(self, name: str, runner: Runner, handle_type: type[QRunnerHandle] = QRunnerHandle) -> QRunnerHandle:
        """Run `runner` in the worker thread under `name`; returns its handle."""
        runner.clock = self.clock
        self.worker.runners[name] = runner  # read only in the worker thread, and only after this command
        handle = self.handles[name] = handle_type(self, name, runner)
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
        self.command.disconnect(self.worker.command)
        self.thread.quit()
        if not self.thread.wait(wait_ms):  # a solve step that will not end: never destroy a running QThread
            _STILL_RUNNING.append((self.thread, self.worker))
