"""The Sheet runner's loading (Qt-free; worker thread): ratings in, a Sheet built from them, a new run.

Importing the engine (torch) takes seconds, so this module imports it on first use: the first load publishes the
sheet as numpy computes it (engine.sheet.first_frame, no torch) before it builds the Sheet. The default data's sheet
comes from the copy kept beside it (engine.data.cache), and its full ratings are read beside the worker
(gui.sheet.later), so neither pandas nor the read holds up the first Step.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Callable

from collabsheet.engine.config import RunState, SheetConfig
from collabsheet.engine.data.cache import keep_crosstab, kept_crosstab
from collabsheet.engine.data.crosstab import Crosstab, top_crosstab
from collabsheet.engine.sheet.first_frame import first_frame
from collabsheet.gui.sheet.frames import LoadRequest
from collabsheet.gui.runtime.runner import leave_a_core_for_the_gui, one_line
from collabsheet.gui.sheet.later import LaterRatings

if TYPE_CHECKING:  # these import torch or pandas: at run time only once they are needed
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.sheet import Sheet
    from collabsheet.engine.sheet.timeline import Timeline
    from collabsheet.gui.sheet.runner import SheetRunner

START_LABEL = ""  # the starting point of a run: on the curve, not in the legend
Progress = Callable[[str, "float | None"], None]


def engine_sheet():
    """collabsheet.engine.sheet.sheet, imported on first use: it imports torch, ~2 s on a small machine."""
    from collabsheet.engine.sheet import sheet

    return sheet


def new_timeline(sheet: Sheet) -> Timeline:
    from collabsheet.engine.sheet.timeline import Timeline

    return Timeline(sheet)


class LoadCommands:
    """Mixed into SheetRunner: `self` is the runner, with its ratings, sheet, timeline and curves."""

    titles = {"load": "Could not open the ratings", "configure": "Sheet settings"}

    @property
    def ratings(self: SheetRunner) -> Ratings | None:
        """The sheet's ratings; after a start from the kept sheet, waits for their read if it is still going."""
        if self._later is not None:
            self._ratings, self._later = self._later.result(), None
        return self._ratings

    def load(self: SheetRunner, request: LoadRequest, progress: Progress | None = None) -> None:
        """Load ratings and build a sheet from them; on any error the current sheet stays as it was.

        The default data's sheet comes from the copy kept beside it when there is one (no pandas, a few ms);
        its full ratings are then read beside the worker, and `loaded` comes when they are there."""
        self.pause()
        self.set_state(RunState.LOADING)
        kept = kept_crosstab(self.top) if request.default else None
        ratings = None
        try:
            if kept is None:
                ratings = request.read(progress or partial(self.report, "progress"))
            grid = kept or top_crosstab(ratings, self.top)
            try:
                sheet = self._build(grid, self.config)
            except BaseException:
                self.mailbox.withdraw(preview=None)
                raise
            if request.default and kept is None:
                keep_crosstab(grid, self.top)
            if self._later is not None:
                self._later.drop()
            self._ratings, self._later = ratings, None
            self.config = sheet.config
            self._install(sheet)
            leave_a_core_for_the_gui()
            if ratings is not None:
                self.emit("loaded", ratings)
        finally:
            self.set_state(RunState.IDLE)
        if kept is not None:
            self._later = LaterRatings(request.read, self._read_beside)

    def _read_beside(self: SheetRunner, ratings: Ratings | None, error: BaseException | None) -> None:
        """The read beside the worker ended (called in its thread; the mailbox is thread-safe)."""
        if error is None:
            self.emit("loaded", ratings)
        else:
            self.emit("message", self.title("load"), one_line(error))

    def adopt(self: SheetRunner, sheet: Sheet) -> None:
        """Use a sheet built elsewhere (e.g. imported from a workbook)."""
        self.config, self.settings = sheet.config, sheet.settings
        self._install(sheet)

    def configure(self: SheetRunner, config: SheetConfig, top: int) -> None:
        """A new k, biases or squashing keeps the run (Sheet.reconfigure); a new top-N rebuilds the sheet."""
        if self.sheet is None or (top != self.top and self.ratings is None):  # nothing to rebuild from yet
            self.config, self.top = config, top
            return
        was_playing = self.playing
        self.pause()
        if top == self.top and self.sheet is not None:
            self.timeline.reconfigure(replace(config, seed=self.sheet.config.seed))
            self.config = self.sheet.config
            self.curves.close(self.timeline.branch.id)  # the curve goes on, in a new series, from here
            self.reshaped()
            self.publish()
        else:
            sheet = self._build(top_crosstab(self.ratings, top), config)
            self.top, self.config = top, config
            self._install(sheet)
        if was_playing:
            self.play(True)

    def _build(self: SheetRunner, grid: Crosstab, config: SheetConfig) -> Sheet:
        if self.sheet is None:  # the first sheet shows while the engine (torch) is imported: numpy computes it
            self.clock.gui_rendered.clear()
            self.mailbox.put(preview=first_frame(grid, config, self.settings))
            self.clock.gui_rendered.wait(self.preview_wait_s)
        engine = engine_sheet()
        sheet = engine.Sheet(grid, config, self.settings, device=self.device)
        if not self._device_label:
            from collabsheet.engine.device import device_label

            self._device_label = device_label(sheet.device)
        return sheet

    def _install(self: SheetRunner, sheet: Sheet) -> None:
        self.sheet = sheet
        self.timeline = new_timeline(sheet)
        self.settings = sheet.settings
        self.new_sheet(sheet)
        self._new_run()

    def _new_run(self: SheetRunner) -> None:
        """Fresh curves, with an unlabelled point at the loss the run starts from (the first step lands on it)."""
        snap = self.sheet.snapshot()
        self.curves.clear()
        # One put brings the cleared curves and the new sheet together: a frame taken between the two would show
        # the old sheet's controls waiting for the engine.
        self._publish(snap, clear=True)
        self.curves.mark(snap.step, snap.rmse, START_LABEL)
