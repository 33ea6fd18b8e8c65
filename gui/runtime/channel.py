"""QEngine: the GUI thread's handle on the engine thread.

Commands travel as queued signals to the QSheetWorker in its QThread. Frames come back through the
Mailbox, which a GUI timer polls at ~60 Hz; rare events (messages, state, loaded data) come back as
signals. While the views render a frame the engine waits, so the two threads do not fight over the GIL.
Only the worker thread imports torch (see gui.runner): the GUI thread's start-up never waits for it.
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal

from gui.sheet.runner import LoadRequest, Mailbox, SheetRunner
from gui.runtime.worker import QSheetWorker

if TYPE_CHECKING:
    from engine.config import OptimizerSettings
    from engine.config import SheetConfig

REPAINT_MS = 16  # the GUI looks for a new frame this often: at most ~60 repaints a second
PREVIEW_WAIT_S = 0.5  # the most the worker waits for the first preview to be painted before it imports torch
GIL_SWITCH_S = 0.001  # a thread waiting for the GIL gets it within 1 ms rather than Python's default 5 ms
_STILL_RUNNING: list = []  # engine threads that outlived their window, kept referenced until the process ends


def share_the_machine_with_the_gui() -> None:
    """Process-wide settings that keep the GUI thread responsive beside a busy engine thread.

    The other half, fewer torch threads, is set by the worker once it has imported torch
    (worker.leave_a_core_for_the_gui)."""
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_S))


def _forwarded(name: str) -> property:
    """A read-only attribute that is the worker's signal of that name."""
    return property(lambda self: getattr(self.worker, name), doc=f"The worker's {name} signal.")


class QEngine(QObject):
    """The GUI thread's handle: methods send commands, `frame` delivers what to repaint."""

    frame = Signal(object)  # a runner.Frame, at most every REPAINT_MS
    _load = Signal(object)
    _step = Signal(int)
    _play = Signal(bool)
    _rate = Signal(object)
    _solve = Signal()
    _reset = Signal(int)
    _optimizer = Signal(object)
    _configure = Signal(object, int)
    _edit = Signal(str, tuple, object)
    _export = Signal(str)
    _import = Signal(str)
    _check_xlsx = Signal()

    def __init__(self, device: str | None = None, top: int = 15, parent=None) -> None:
        super().__init__(parent)
        share_the_machine_with_the_gui()
        self.mailbox = Mailbox()
        self.runner = SheetRunner(self.mailbox, device=device, top=top)
        self.runner.preview_wait_s = PREVIEW_WAIT_S
        self.worker = QSheetWorker(self.runner)
        self.thread = QThread()
        self.thread.setObjectName("collabsheet-engine")
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(self.worker.halt, Qt.DirectConnection)
        self._wires = [(self._load, self.worker.load), (self._step, self.worker.step),
                       (self._play, self.worker.play), (self._rate, self.worker.set_rate),
                       (self._solve, self.worker.solve), (self._reset, self.worker.reset),
                       (self._optimizer, self.worker.set_optimizer), (self._configure, self.worker.configure),
                       (self._edit, self.worker.edit), (self._export, self.worker.export_xlsx),
                       (self._import, self.worker.import_xlsx), (self._check_xlsx, self.worker.check_xlsx)]
        for signal, slot in self._wires:
            signal.connect(slot)
        self.timer = QTimer(self)
        self.timer.setInterval(REPAINT_MS)
        self.timer.timeout.connect(self.poll)
        self.thread.start()
        self.timer.start()

    # signals a view connects to, re-exported from the worker
    message = _forwarded("message")
    notice = _forwarded("notice")
    state_changed = _forwarded("state_changed")
    loaded = _forwarded("loaded")
    progress = _forwarded("progress")
    solved = _forwarded("solved")
    diverged = _forwarded("diverged")
    xlsx_checked = _forwarded("xlsx_checked")

    def poll(self) -> None:
        """Hand the newest frame, if any, to the views."""
        frame = self.mailbox.take()
        if frame is None:
            return
        runner = self.runner
        runner.gui_idle.clear()  # the views render (and paint) synchronously within this emit
        start = time.perf_counter()
        try:
            self.frame.emit(frame)
        finally:
            runner.gui_done_at = time.perf_counter()
            runner.gui_render_s = runner.gui_done_at - start
            runner.gui_idle.set()
            runner.gui_rendered.set()

    def load(self, request: LoadRequest) -> None:
        self._load.emit(request)

    def step(self, n: int = 1) -> None:
        self._step.emit(n)

    def play(self, on: bool) -> None:
        self._play.emit(on)

    def set_rate(self, rate: float | None) -> None:
        self._rate.emit(rate)

    def solve(self) -> None:
        self.runner.stop.clear()  # cleared here, not in the worker, so a quick Stop is never lost
        self._solve.emit()

    def stop(self) -> None:
        """End a solve between chunks, and pause Play."""
        self.runner.stop.set()
        self._play.emit(False)

    def reset(self, seed: int) -> None:
        self._reset.emit(seed)

    def set_optimizer(self, settings: OptimizerSettings) -> None:
        self._optimizer.emit(settings)

    def configure(self, config: SheetConfig, top: int) -> None:
        self._configure.emit(config, top)

    def edit(self, block: str, index: tuple, value) -> None:
        self._edit.emit(block, tuple(index), value)

    def export_xlsx(self, path: str) -> None:
        self._export.emit(path)

    def import_xlsx(self, path: str) -> None:
        self._import.emit(path)

    def check_xlsx(self) -> None:
        """Ask the worker whether Excel export and import work; the answer comes as `xlsx_checked`."""
        self._check_xlsx.emit()

    def shutdown(self, wait_ms: int = 60_000) -> None:
        """Stop the work, end the thread, and disconnect the commands."""
        self.timer.stop()
        self.runner.stop.set()
        self.runner.gui_idle.set()
        self._play.emit(False)
        for signal, slot in self._wires:
            signal.disconnect(slot)
        self._wires = []
        self.thread.quit()
        if not self.thread.wait(wait_ms):  # a solve step that will not end: never destroy a running QThread
            _STILL_RUNNING.append((self.thread, self.worker))
