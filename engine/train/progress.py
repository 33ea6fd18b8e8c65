"""What a person sees of a long training run: the whole run's progress, speed and time left.

On a terminal one bar covers the whole run (epoch, smoothed loss, ratings per second, time left for the
run); into a pipe or a log, where a bar would be noise, a plain line at least every `every` seconds. The
epoch lines go to stdout either way.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from collabsheet.engine.task import Report
from collabsheet.engine.train.fit import BatchEvent, EpochEvent

LOG_EVERY = 10.0  # seconds between progress lines without a terminal


def rate_text(per_second: float) -> str:
    """Ratings per second, short: 950, 12.3k, 2.05M."""
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f}M"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f}k"
    return f"{per_second:.0f}"


def duration_text(seconds: float) -> str:
    """A duration a person reads at a glance: 42 s, 3 min 5 s, 2 h 10 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class Pace:
    """Training ratings per second since the first batch seen (a resumed run counts from there), and the time the
    whole run has left at that pace: one reckoning for the terminal's bar and the Training tab."""

    def __init__(self, epochs: int, bs: int, clock=time.monotonic) -> None:  # noqa: ANN001 (seconds)
        self.epochs, self.bs, self.clock = epochs, bs, clock
        self.first: tuple[int, float] | None = None  # (iteration, time) of the first batch seen

    def see(self, iteration: int) -> float:
        """Note a batch; the time now."""
        now = self.clock()
        if self.first is None:
            self.first = (iteration - 1, now)
        return now

    def rate(self, iteration: int, now: float) -> float:
        if self.first is None or now <= self.first[1]:
            return 0.0
        return (iteration - self.first[0]) * self.bs / (now - self.first[1])

    def left(self, iteration: int, batches: int, now: float) -> float:
        """Seconds left for the whole run (training only; validation adds a little); NaN before any speed is known."""
        rate = self.rate(iteration, now)
        return (self.epochs * batches - iteration) * self.bs / rate if rate > 0 else float("nan")

    def text(self, iteration: int, batches: int, now: float) -> str:
        """'12.3k ratings/s · 25 s left', or '' before the speed is known."""
        rate, left = self.rate(iteration, now), self.left(iteration, batches, now)
        return f"{rate_text(rate)} ratings/s · {duration_text(left)} left" if rate > 0 and left == left else ""


class RunProgress:
    """Progress of one run of `epochs` epochs in batches of bs, fed fit's events (`hear`)."""

    def __init__(self, epochs: int, bs: int, *, every: float = LOG_EVERY,
                 terminal: bool | None = None, out: TextIO | None = None, err: TextIO | None = None,
                 clock=time.monotonic, say: Callable[[str], None] | None = None,  # noqa: ANN001 (seconds)
                 note: Callable[[str], None] | None = None):
        """say and note write a result line and a progress line (the command line's escaping writers); by default
        they write to out and err."""
        self.epochs, self.every = epochs, every
        self.out = out if out is not None else sys.stdout
        self.console = Console(file=err if err is not None else sys.stderr)
        self.terminal = self.console.is_terminal if terminal is None else terminal
        self.bar = (Progress(TextColumn("epoch {task.fields[epoch]}/" + str(epochs)), BarColumn(),
                             TaskProgressColumn(), TextColumn("loss {task.fields[loss]:.4f}"),
                             TextColumn("{task.fields[rate]} ratings/s"), TimeRemainingColumn(),
                             console=self.console, transient=True) if self.terminal else None)
        self._say = say or (lambda text: _line(self.out, text))
        self._note = note or (lambda text: _line(self.console.file, text))
        self.task = None
        self.pace = Pace(epochs, bs, clock)
        self.last_line = 0.0

    def __enter__(self) -> RunProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def hear(self, report: Report) -> None:
        """A training task's listener: its batch and epoch events move the bar and write the lines."""
        if isinstance(report.result, BatchEvent):
            self.batch(report.result)
        elif isinstance(report.result, EpochEvent):
            self.epoch(report.result)

    def batch(self, e: BatchEvent) -> None:
        """Hear one batch: move the bar, or write a line when `every` seconds passed since the last."""
        fresh = self.pace.first is None
        now = self.pace.see(e.iteration)
        if fresh:
            self.last_line = now
        rate = rate_text(self.pace.rate(e.iteration, now))
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task("", total=self.epochs * e.batches, epoch=e.epoch, loss=e.loss,
                                              rate=rate)
            self.bar.update(self.task, completed=e.iteration, epoch=e.epoch, loss=e.loss, rate=rate)
        elif now - self.last_line >= self.every:
            self.last_line = now
            done = e.iteration / (self.epochs * e.batches)
            left = self.pace.left(e.iteration, e.batches, now)
            eta = duration_text(left) + " left" if left == left else "time left unknown"
            self._note(f"epoch {e.epoch}/{self.epochs} · batch {e.batch:,}/{e.batches:,} · {done:.0%} of the run · "
                       f"loss {e.loss:.4f} · {rate} ratings/s · {eta}")

    def epoch(self, e: EpochEvent) -> None:
        """The lesson's line for a finished epoch, on stdout."""
        if self.bar is not None:
            self.bar.refresh()
        self._say(f"epoch {e.epoch}/{self.epochs}  train loss {e.train_loss:.4f}  valid MSE {e.valid_mse:.4f}  "
                  f"valid RMSE {e.valid_rmse:.4f}  ({e.seconds:.1f} s)")


def _line(stream: TextIO, text: str) -> None:
    """One line on a stream, at once."""
    stream.write(text + "\n")
    stream.flush()
