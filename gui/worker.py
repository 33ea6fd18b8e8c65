"""The worker thread that owns the engine, and QEngine, the GUI thread's handle on it.

Commands travel as queued signals into the worker; Play is a zero-interval timer in the worker, so
commands (Pause, edits, a new optimizer) are answered between chunks. Solve blocks the worker, so
Stop is a threading.Event set straight from the GUI thread. Frames come back through the Mailbox,
which QEngine polls at ~60 Hz; rare events (messages, state, loaded data) come back as signals.
"""
from __future__ import annotations

import importlib
import time

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from engine.data import RatingsError
from engine.optim import OptimizerSettings
from engine.sheet import SheetConfig
from gui.runner import MAX_CHUNK, LoadRequest, Mailbox, SheetRunner

REPAINT_MS = 16  # the GUI looks for a new frame this often: at most ~60 repaints a second
GIL_SWITCH_S = 0.001  # a thread waiting for the GIL gets it within 1 ms rather than Python's default 5 ms
IDLE, PLAYING, SOLVING, LOADING = "idle", "playing", "solving", "loading"
USER_ERRORS = (RatingsError, ValueError)


def share_the_machine_with_the_gui() -> None:
    """Process-wide settings that keep the GUI thread responsive beside a busy engine thread."""
    import os
    import sys

    import torch

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() > cores - 1:  # spinning intra-op threads on every core starve the GUI
        torch.set_num_threads(cores - 1)
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_S))


def xlsx_module():
    """engine.xlsx when it exists with the names the GUI uses, else None."""
    try:
        module = importlib.import_module("engine.xlsx")
    except ImportError:
        return None
    names = ("export_xlsx", "import_xlsx", "XlsxError")
    return module if all(hasattr(module, n) for n in names) else None


class QSheetWorker(QObject):
    """Lives in the worker thread; turns queued commands into SheetRunner calls."""

    message = Signal(str, str)  # title, one-line text
    state_changed = Signal(str)
    loaded = Signal(object)  # the Ratings now in use
    progress = Signal(str, object)  # data preparation: message, fraction or None
    solved = Signal(object)  # SolveResult
    diverged = Signal()

    def __init__(self, runner: SheetRunner) -> None:
        super().__init__()
        self.runner = runner
        self.rate: float | None = None  # Play's steps per second; None runs flat out
        self._timer: QTimer | None = None
        self._paced = (0.0, 0)  # (start time, steps done) of a paced Play
        self._last_progress: tuple = ()
        self._remaining: int | None = None  # steps left of a Step ×N

    def _play_timer(self) -> QTimer:
        if self._timer is None:  # created on first use, so it belongs to the worker thread
            self._timer = QTimer(self)
            self._timer.timeout.connect(self._tick)
        return self._timer

    def _guard(self, title: str, action) -> bool:
        """Run one command; the user's mistakes become a message, never a crash of the worker."""
        try:
            action()
            return True
        except USER_ERRORS as error:
            self.message.emit(title, str(error).splitlines()[0] if str(error) else type(error).__name__)
        except Exception as error:  # noqa: BLE001 - an engine bug must not take the window down
            self.message.emit(title, f"{type(error).__name__}: {error}")
        return False

    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        self.pause()
        self.state_changed.emit(LOADING)
        ok = self._guard("Could not open the ratings", lambda: self.runner.load(request, self._report))
        if ok:
            self.loaded.emit(self.runner.ratings)
        self.state_changed.emit(IDLE)

    def _report(self, message: str, fraction: float | None) -> None:
        shown = (message, None if fraction is None else round(fraction, 2))
        if shown != self._last_progress:  # only when it visibly changes
            self._last_progress = shown
            self.progress.emit(message, fraction)

    @Slot(int)
    def step(self, n: int) -> None:
        """One step at once; more run in chunks like Play, so Stop and edits are answered meanwhile."""
        if self.runner.sheet is None or self.playing():
            return
        if n <= 1:
            self._guard("Step", lambda: self._after(self.runner.step(1)))
            return
        self._remaining = n
        self._play_timer().start(0)
        self.state_changed.emit(PLAYING)

    def _after(self, result) -> None:
        if self._remaining is not None:
            self._remaining -= result.steps
            if self._remaining <= 0:
                self.pause()
        if result.diverged:
            self.pause()
            self.diverged.emit()

    def playing(self) -> bool:
        return self._timer is not None and self._timer.isActive()

    @Slot(bool)
    def play(self, on: bool) -> None:
        if not on:
            self.pause()
            return
        if self.runner.sheet is None or self.playing():
            return
        self._paced = (time.perf_counter(), 0)
        self._play_timer().start(0 if self.rate is None else 5)
        self.state_changed.emit(PLAYING)

    @Slot()
    def pause(self) -> None:
        self._remaining = None
        if self.playing():
            self._timer.stop()
            self.runner.publish()
            self.state_changed.emit(IDLE)

    @Slot()
    def halt(self) -> None:
        """Stop the Play timer as the thread ends (runs in the worker thread)."""
        if self._timer is not None:
            self._timer.stop()

    @Slot(object)
    def set_rate(self, rate: float | None) -> None:
        self.rate = rate
        if self.playing() and self._remaining is None:
            self._paced = (time.perf_counter(), 0)
            self._timer.start(0 if rate is None else 5)

    def _tick(self) -> None:
        limit = MAX_CHUNK if self._remaining is None else min(self._remaining, MAX_CHUNK)
        if self.rate is not None and self._remaining is None:
            start, done = self._paced
            limit = min(limit, int((time.perf_counter() - start) * self.rate) - done)
            if limit <= 0:
                return
            self._paced = (start, done + limit)
        if not self._guard("Play", lambda: self._after(self.runner.play_chunk(limit=limit))):
            self.pause()

    @Slot()
    def solve(self) -> None:
        if self.runner.sheet is None:
            return
        self.pause()
        self.state_changed.emit(SOLVING)
        self._guard("Solve", lambda: self.solved.emit(self.runner.solve()))
        self.state_changed.emit(IDLE)

    @Slot(int)
    def reset(self, seed: int) -> None:
        if self.runner.sheet is not None:
            self._guard("Reset", lambda: self.runner.reset(seed))

    @Slot(object)
    def set_optimizer(self, settings: OptimizerSettings) -> None:
        self.runner.settings = settings
        if self.runner.sheet is not None:
            self._guard("Optimizer", lambda: self.runner.set_optimizer(settings))

    @Slot(object, int)
    def configure(self, config: SheetConfig, top: int) -> None:
        if self.runner.ratings is None:
            self.runner.config, self.runner.top = config, top
            return
        was_playing = self.playing()
        self.pause()
        self._guard("Sheet settings", lambda: self.runner.configure(config, top))
        if was_playing:
            self.play(True)

    @Slot(str, tuple, object)
    def edit(self, block: str, index: tuple, value) -> None:
        if self.runner.sheet is None:
            return
        if block == "rating":
            self._guard("Edit", lambda: self.runner.set_rating(index[0], index[1], value))
        else:
            self._guard("Edit", lambda: self.runner.set_param(block, index, value))

    @Slot(str)
    def export_xlsx(self, path: str) -> None:
        module = xlsx_module()
        if module is None or self.runner.sheet is None:
            self.message.emit("Export to Excel", "Excel export is not available in this build yet.")
            return
        try:
            module.export_xlsx(self.runner.sheet.snapshot(), path)
            self.message.emit("Export to Excel", f"Saved {path}")
        except (module.XlsxError, OSError, ValueError) as error:
            self.message.emit("Export to Excel", str(error))

    @Slot(str)
    def import_xlsx(self, path: str) -> None:
        module = xlsx_module()
        if module is None:
            self.message.emit("Import from Excel", "Excel import is not available in this build yet.")
            return
        self.pause()
        try:
            sheet = module.import_xlsx(path).to_sheet(device=self.runner.device)
        except (module.XlsxError, OSError, ValueError) as error:
            self.message.emit("Import from Excel", str(error))
            return
        self._guard("Import from Excel", lambda: self.runner.adopt(sheet))


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

    def __init__(self, device: str | None = None, top: int = 15, parent=None) -> None:
        super().__init__(parent)
        share_the_machine_with_the_gui()
        self.mailbox = Mailbox()
        self.runner = SheetRunner(self.mailbox, device=device, top=top)
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
                       (self._import, self.worker.import_xlsx)]
        for signal, slot in self._wires:
            signal.connect(slot)
        self.timer = QTimer(self)
        self.timer.setInterval(REPAINT_MS)
        self.timer.timeout.connect(self.poll)
        self.thread.start()
        self.timer.start()

    # signals a view connects to, re-exported from the worker
    @property
    def message(self):
        return self.worker.message

    @property
    def state_changed(self):
        return self.worker.state_changed

    @property
    def loaded(self):
        return self.worker.loaded

    @property
    def progress(self):
        return self.worker.progress

    @property
    def solved(self):
        return self.worker.solved

    @property
    def diverged(self):
        return self.worker.diverged

    def poll(self) -> None:
        """Hand the newest frame, if any, to the views."""
        frame = self.mailbox.take()
        if frame is None:
            return
        self.runner.gui_idle.clear()  # the views render (and paint) synchronously within this emit
        try:
            self.frame.emit(frame)
        finally:
            self.runner.gui_idle.set()

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

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop the work, end the thread, and disconnect the commands."""
        self.timer.stop()
        self.runner.stop.set()
        self._play.emit(False)
        for signal, slot in self._wires:
            signal.disconnect(slot)
        self.thread.quit()
        self.thread.wait(wait_ms)
