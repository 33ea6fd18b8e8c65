"""The worker thread's object: it owns the SheetRunner and turns queued commands into engine calls.

Play is a zero-interval timer in this thread, so commands (Pause, edits, a new optimizer) are answered
between chunks. Solve blocks the thread; Stop reaches it through SheetRunner.stop, a threading.Event.
"""
from __future__ import annotations

import importlib
import os
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.data.ratings import RatingsError
from gui.sheet.runner import MAX_CHUNK, LoadRequest, SheetRunner

if TYPE_CHECKING:  # they import torch, which only the worker thread imports (as the first sheet is built)
    from engine.config import OptimizerSettings
    from engine.config import SheetConfig

IDLE, PLAYING, SOLVING, LOADING = "idle", "playing", "solving", "loading"
USER_ERRORS = (RatingsError, ValueError, OSError)  # engine.xlsx.XlsxError is a ValueError too


def xlsx_module():
    """engine.xlsx when it exists with the names the GUI uses, else None."""
    try:
        module = importlib.import_module("engine.xlsx")
    except ImportError:
        return None
    names = ("export_xlsx", "import_xlsx", "XlsxError")
    return module if all(hasattr(module, n) for n in names) else None


def leave_a_core_for_the_gui() -> None:
    """Spinning intra-op threads on every core starve the GUI thread: the engine gets all cores but one."""
    import torch  # imported already by then: called once the engine has built a sheet

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() > cores - 1:
        torch.set_num_threads(cores - 1)


class QSheetWorker(QObject):
    """Lives in the worker thread; turns queued commands into SheetRunner calls."""

    message = Signal(str, str)  # title, one-line text: something went wrong
    notice = Signal(str)  # something went right, for the status bar
    state_changed = Signal(str)
    loaded = Signal(object)  # the Ratings now in use
    progress = Signal(str, object)  # data preparation: message, fraction or None
    solved = Signal(object)  # SolveResult
    diverged = Signal()
    xlsx_checked = Signal(bool)  # whether engine.xlsx can export and import (checked here: openpyxl is slow to import)

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
            leave_a_core_for_the_gui()
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

    @Slot()
    def check_xlsx(self) -> None:
        self.xlsx_checked.emit(xlsx_module() is not None)

    @Slot(str)
    def export_xlsx(self, path: str) -> None:
        module = xlsx_module()
        if module is None or self.runner.sheet is None:
            self.message.emit("Export to Excel", "Excel export is not available in this build yet.")
            return
        if self._guard("Export to Excel", lambda: module.export_xlsx(self.runner.sheet.snapshot(), path)):
            self.notice.emit(f"Saved {path}")

    @Slot(str)
    def import_xlsx(self, path: str) -> None:
        module = xlsx_module()
        if module is None:
            self.message.emit("Import from Excel", "Excel import is not available in this build yet.")
            return
        self.pause()
        if self._guard("Import from Excel",
                       lambda: self.runner.adopt(module.import_xlsx(path).to_sheet(device=self.runner.device))):
            self.notice.emit(f"Imported {path}")
