"""The protocol between a tab's engine side and the worker thread (Qt-free).

A runner owns its engine objects and is only ever called in the worker thread. Commands in: the
entries of its `commands` table (name → the method that answers it), called by name through the channel.
Frames out: what it puts in its Mailbox, including events (name, args) the GUI side turns into signals.
Long work: `tick()` runs one short chunk and says when it wants the next. A blocking command (a solve, a
training run) hands the engine a Task (engine.task) from `task()`, whose cancel flag is `stop` (a
threading.Event the GUI thread sets), so Stop ends it between its chunks; a long read hands it one from
`reading()`, whose messages become progress events. Adding a command adds a method and an entry in
`commands`, never threading code.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Callable

from collabsheet.engine.config import RunState
from collabsheet.engine.data.errors import RatingsError
from collabsheet.engine.task import Listener, Report, Task
from collabsheet.gui.runtime.clock import FrameClock
from collabsheet.gui.runtime.mailbox import Mailbox


USER_ERRORS = (RatingsError, ValueError, OSError)  # the user's mistakes; engine.xlsx.XlsxError is a ValueError too


def one_line(error: Exception) -> str:
    """What the user is told of an error: a user error's first line; an engine bug's type and message."""
    if isinstance(error, USER_ERRORS):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{type(error).__name__}: {error}"


def leave_a_core_for_the_gui() -> None:
    """Spinning intra-op threads on every core starve the GUI thread: the engine gets all cores but one."""
    import torch  # imported already by then: called once the engine has built a sheet

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() > cores - 1:
        torch.set_num_threads(cores - 1)


@dataclass
class Frame:
    """What every runner's frame carries: events in order. Other fields are replaced by the newest value."""

    events: list = field(default_factory=list)

    def merge(self, events: tuple = (), **fields) -> None:
        self.events.extend(events)
        for name, value in fields.items():
            setattr(self, name, value)


class Runner:
    """Base of the runners: a mailbox, the shared frame clock, a stop flag, events and run states."""

    titles: dict[str, str] = {}  # command -> how an error in it is titled ("" → the command's name)
    commands: dict[str, Callable[..., object]]  # what the GUI may send: name -> bound method; built in __init__

    def __init__(self, mailbox: Mailbox, clock: FrameClock | None = None) -> None:
        self.mailbox = mailbox
        self.clock = clock or FrameClock()
        self.stop = threading.Event()
        self.state = RunState.IDLE
        self._last_progress: tuple = ()
        self.commands = {"pause": self.pause}  # every runner can be paused (the channel sends it on Stop)

    def emit(self, kind: str, *args) -> None:
        """Send an event to the GUI side, after any frame put before it."""
        self.mailbox.put(events=((kind, args),))

    def set_state(self, state: RunState) -> None:
        """What the runner is doing now (idle, playing, solving, loading), as a state_changed event."""
        self.state = state
        self.emit("state_changed", state)

    def task(self, listener: Listener) -> Task:
        """The Task a blocking command hands the engine: it reports to `listener`, and Stop (`stop`) cancels it."""
        return Task(listener, cancel=self.stop)

    def reading(self, event: str) -> Task:
        """The Task a long read hands the engine: its messages go out as `event` (message, fraction), each only
        when what it shows changes. Stop does not cancel a read: the sheet or ratings being read stay wanted."""
        def heard(report: Report) -> None:
            if report.message is None:
                return
            shown = (report.message, None if report.fraction is None else round(report.fraction, 2))
            if shown != self._last_progress:
                self._last_progress = shown
                self.emit(event, report.message, report.fraction)

        return Task(heard)

    def title(self, command: str) -> str:
        return self.titles.get(command) or command.replace("_", " ").capitalize()

    def tick(self) -> float | None:
        """One chunk of long work; the seconds to wait before the next, or None when there is none."""
        return None

    def failed(self, command: str, text: str) -> None:
        """A command raised a user error (text is its one line): report it and stop any long work."""
        self.emit("message", self.title(command), text)

    def pause(self) -> None:
        """Stop long work between chunks (none here)."""

    def halt(self) -> None:
        """The thread is ending: stop long work at once."""
