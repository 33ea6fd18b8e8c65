"""The Sheet runner's loading (Qt-free; worker thread): ratings in, and Sheets built from them for the runner to install.

Importing the engine (torch) takes seconds, so this module imports it on first use: the first load publishes the
sheet as numpy computes it (engine.sheet.first_frame, no torch) before it builds the Sheet. The default data's sheet
comes from the copy kept beside it (engine.data.cache), and its full ratings are read beside the worker
(gui.sheet.background_ratings), so neither pandas nor the read holds up the first Step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from collabsheet.engine.config import RunState, SheetConfig
from collabsheet.engine.data.cache import keep_crosstab, kept_crosstab
from collabsheet.engine.data.crosstab import Crosstab, top_crosstab
from collabsheet.engine.sheet.first_frame import first_frame
from collabsheet.gui.sheet.frames import LoadRequest
from collabsheet.gui.runtime.runner import leave_a_core_for_the_gui, one_line
from collabsheet.gui.sheet.background_ratings import BackgroundRatings

if TYPE_CHECKING:  # these import torch or pandas: at run time only once they are needed
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.sheet import Sheet
    from collabsheet.engine.sheet.timeline import Timeline
    from collabsheet.engine.task import Task
    from collabsheet.gui.sheet.host import SheetHost


def engine_sheet():
    """collabsheet.engine.sheet.sheet, imported on first use: it imports torch, ~2 s on a small machine."""
    from collabsheet.engine.sheet import sheet

    return sheet


def new_timeline(sheet: Sheet) -> Timeline:
    from collabsheet.engine.sheet.timeline import Timeline

    return Timeline(sheet)


class LoadCommands:
    """The host's ratings (read beside the worker after a start from the kept sheet) and the sheets built from them."""

    titles = {"load": "Could not open the ratings"}

    def __init__(self, host: SheetHost) -> None:
        self.host = host
        self._ratings: Ratings | None = None
        self._later: BackgroundRatings | None = None  # the ratings, while they are read beside the worker
        # How long the first load waits for the GUI to show its preview before importing torch, whose C start-up
        # holds the GIL for a few hundred ms at a time (the GUI could not paint meanwhile). 0 without a GUI.
        self.preview_wait_s = 0.0
        self.device_label = ""  # where the engine runs, once a sheet was built

    @property
    def ratings(self) -> Ratings | None:
        """The sheet's ratings; after a start from the kept sheet, waits for their read if it is still going."""
        if self._later is not None:
            self._ratings, self._later = self._later.result(), None
        return self._ratings

    def load(self, request: LoadRequest, task: Task | None = None) -> None:
        """Load ratings and build a sheet from them; on any error the current sheet stays as it was.

        The default data's sheet comes from the copy kept beside it when there is one (no pandas, a few ms);
        its full ratings are then read beside the worker, and `loaded` comes when they are there. The read
        reports to `task`, by default as the host's `progress` events."""
        host = self.host
        host.pause()
        host.set_state(RunState.LOADING)
        kept = kept_crosstab(host.top) if request.default else None
        ratings = None
        try:
            if kept is None:
                ratings = request.read(task or host.reading("progress"))
            grid = kept or top_crosstab(ratings, host.top)
            try:
                sheet = self.build(grid, host.config)
            except BaseException:
                host.mailbox.withdraw(preview=None)
                raise
            if request.default and kept is None:
                keep_crosstab(grid, host.top)
            if self._later is not None:
                self._later.drop()
            self._ratings, self._later = ratings, None
            host.install(sheet)
            leave_a_core_for_the_gui()
            if ratings is not None:
                host.emit("loaded", ratings)
        finally:
            host.set_state(RunState.IDLE)
        if kept is not None:
            self._later = BackgroundRatings(request.read, self._read_beside)

    def _read_beside(self, ratings: Ratings | None, error: BaseException | None) -> None:
        """The read beside the worker ended (called in its thread; the mailbox is thread-safe)."""
        if error is None:
            self.host.emit("loaded", ratings)
        else:
            self.host.emit("message", self.host.title("load"), one_line(error))

    def build(self, grid: Crosstab, config: SheetConfig) -> Sheet:
        """A Sheet of these ratings; the first shows while the engine (torch) is imported, as numpy computes it."""
        host = self.host
        if host.sheet is None:
            host.clock.gui_rendered.clear()
            host.mailbox.put(preview=first_frame(grid, config, host.settings))
            host.clock.gui_rendered.wait(self.preview_wait_s)
        engine = engine_sheet()
        sheet = engine.Sheet(grid, config, host.settings, device=host.device)
        if not self.device_label:
            from collabsheet.engine.device import device_label

            self.device_label = device_label(sheet.device)
        return sheet
