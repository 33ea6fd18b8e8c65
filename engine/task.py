"""One object every long task takes, as Orange3's TaskState: the task reports through it and asks it whether to stop.

A long task (a solve, a training run, a race, an epoch run of the gradient-descent workbook, reading or fetching
ratings) takes a Task. As it goes it calls `report`: what it is doing (a message), how far it is (a fraction),
named figures (iterations, rmse, steps …) and, where a view draws them, partial results (training's batch and
epoch events). Between its chunks it reads `cancelled`, and ends there with what it has; a task with nothing to
hand back part way (a read, a download) calls `check` instead, which raises Cancelled. Whoever started the task
listens (a progress line, a bar, a runner's mailbox, a notebook cell) and may `cancel` it from any thread, a
signal handler included. Passing no Task is passing Task(): nobody listens and nothing cancels.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping

__all__ = ["Task", "Report", "Cancelled", "Listener"]


class Cancelled(Exception):
    """A task that had nothing to hand back part way was cancelled."""


@dataclass(frozen=True)
class Report:
    """One report of a long task; a field it does not speak of is None (or empty)."""

    message: str | None = None  # what the task does now, for a person: "Downloading ml-latest-small.zip: 0.8 MB"
    fraction: float | None = None  # the share done, 0 to 1; None when it cannot be known
    figures: Mapping[str, float] = field(default_factory=dict)  # named numbers: iterations, rmse, steps …
    result: object = None  # a partial result for a view to draw (training's BatchEvent and EpochEvent)


Listener = Callable[[Report], None]


class Task:
    """The progress and cancel flag of one long task: the task reports and reads `cancelled`, its caller listens.

    The listener runs in the task's thread, at every report (a training run reports every batch: a listener that
    draws throttles itself). `cancel` may be an existing threading.Event, so that a Stop button that outlives one
    task (a runner's) cancels whichever task now runs; by default each Task has its own.
    """

    def __init__(self, listener: Listener | None = None, *, cancel: threading.Event | None = None) -> None:
        self._listener = listener
        self._cancel = cancel if cancel is not None else threading.Event()

    @property
    def listened(self) -> bool:
        """Whether anyone hears the reports: a task may skip work that only feeds them."""
        return self._listener is not None

    def report(self, message: str | None = None, fraction: float | None = None, *, result: object = None,
               **figures: float) -> None:
        """Tell the listener where the task is; nothing happens when nobody listens."""
        if self._listener is not None:
            self._listener(Report(message, fraction, figures, result))

    @property
    def cancelled(self) -> bool:
        """Whether the task was asked to stop; a task reads it between chunks."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the task to stop at its next chunk; safe from any thread and from a signal handler."""
        self._cancel.set()

    def part(self, translate: Callable[[Report], Report | None]) -> Task:
        """A task for one part of this one (a member of an ensemble): the same cancel flag; each of its reports goes
        through `translate` (which may keep what it needs, and renumber) to this task's listener (None: dropped)."""
        def hear(report: Report) -> None:
            out = translate(report)
            if out is not None and self._listener is not None:
                self._listener(out)
        return Task(hear, cancel=self._cancel)

    def check(self) -> None:
        """Raise Cancelled if the task was asked to stop (for work with no partial result to return)."""
        if self._cancel.is_set():
            raise Cancelled("cancelled")
