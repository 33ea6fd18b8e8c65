"""What the Sheet runner's command groups see of the runner that owns them (Qt-free): a Protocol, no import of it.

Each group (loading, history, race, new user, Excel) is an object the runner holds as a field and builds with
itself as its host; typed as this Protocol, a group reaches only the sheet, its timeline and curves, the run's
settings and a few actions (publish, pause, emit), never the runner's other groups or its privates.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from collabsheet.engine.config import OptimizerSettings, RunState, SheetConfig
from collabsheet.gui.runtime.clock import FrameClock
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.sheet.curves import BranchCurves

if TYPE_CHECKING:  # these import torch: at run time only once they are needed
    from collabsheet.engine.sheet.sheet import Sheet
    from collabsheet.engine.sheet.timeline import Timeline
    from collabsheet.engine.task import Task


class SheetHost(Protocol):
    """The runner as its command groups use it; every call comes in the worker thread."""

    sheet: Sheet | None
    timeline: Timeline | None
    settings: OptimizerSettings  # the optimizer the run goes on with
    config: SheetConfig
    top: int  # the sheet's users and movies: the top-N most rated
    device: str | None
    curves: BranchCurves
    mailbox: Mailbox
    clock: FrameClock
    playing: bool

    def publish(self, transition: str | None = None) -> None:
        """Put the current snapshot and everything that goes with it in the mailbox (after `transition`, if any)."""

    def pause(self) -> None:
        """Stop Play or a Step ×N between chunks."""

    def emit(self, kind: str, *args) -> None:
        """An event to the GUI side."""

    def set_state(self, state: RunState) -> None:
        """What the runner is doing now, as a state_changed event."""

    def reading(self, event: str) -> Task:
        """The Task a long read reports to: its messages go to the GUI as `event`."""

    def title(self, command: str) -> str:
        """How an error in a command is titled."""

    def install(self, sheet: Sheet) -> None:
        """Run on this sheet from now: a new timeline and a new run."""
