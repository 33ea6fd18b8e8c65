"""Play's loop in chunks, shared by the runners: how many steps the next chunk takes, and when the one after is due.

Qt-free. Flat out, a chunk is sized to take about `chunk_s` (so Pause and edits are answered within a few ms),
growing or shrinking at most twofold a chunk as the last one took. At a set pace (steps per second) a chunk takes
exactly the steps that are due since Play began, and the runner looks again soon after.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from collabsheet.gui.runtime.clock import FrameClock

CHUNK_S = 0.004  # a flat-out chunk aims to take this long
PACED_TICK_S = 0.005  # a paced Play looks at the clock at least this often …
AHEAD_WAIT_S = 20 * PACED_TICK_S  # … and, ahead of its pace, waits at most this long before looking again
R = TypeVar("R")


class Pacer:
    """One runner's Play pace (`rate`, None: flat out) and the adaptive size of its flat-out chunks."""

    def __init__(self, clock: Callable[[], FrameClock], max_chunk: int, first_chunk: int = 1,
                 chunk_s: float = CHUNK_S) -> None:
        self._clock = clock  # the runner's clock, looked up each chunk: the channel replaces it when it adds the runner
        self.max_chunk, self.first_chunk, self.chunk_s = max_chunk, first_chunk, chunk_s
        self.rate: float | None = None
        self.chunk = first_chunk  # the next flat-out chunk's steps
        self._paced = (0.0, 0)  # (start time, steps done) of a paced Play

    def start(self) -> None:
        """Play (or a change of pace) begins now: the steps due are counted from here."""
        self._paced = (time.perf_counter(), 0)

    def set_rate(self, rate: float | None) -> None:
        """Steps per second (None: as fast as possible), from now."""
        self.rate = rate
        self.start()

    def new_run(self) -> None:
        """A new run starts with the first chunk's size again."""
        self.chunk = self.first_chunk

    def due(self, limit: int) -> int:
        """Steps a paced Play takes now, at most `limit`, counted as done; 0 while it is ahead of its pace."""
        start, done = self._paced
        n = min(limit, int((time.perf_counter() - start) * self.rate) - done)
        if n <= 0:
            return 0
        self._paced = (start, done + n)
        return n

    def ahead_wait(self) -> float:
        """Ahead of its pace: the seconds until the next step is due (at most AHEAD_WAIT_S)."""
        start, done = self._paced
        return min(max((done + 1) / self.rate - (time.perf_counter() - start), 0.0), AHEAD_WAIT_S)

    def next_wait(self, paced: bool) -> float:
        """After a chunk: when to look again (at once flat out; paced, within a step's time or PACED_TICK_S)."""
        return min(PACED_TICK_S, 1 / self.rate) if paced else 0.0

    def chunk_of(self, step: Callable[[int], R], limit: int, budget_s: float | None = None) -> R:
        """A flat-out chunk: at most `limit` steps, sized to take about budget_s (chunk_s by default).

        It waits for the GUI to finish the frame it is painting first: a busy worker would slow each of its
        GIL hand-backs (the convoy effect)."""
        self._clock().wait_for_gui()
        n = max(1, min(self.chunk, limit))
        start = time.perf_counter()
        result = step(n)
        took = time.perf_counter() - start
        grow = (budget_s or self.chunk_s) / took if took > 0 else 2.0
        self.chunk = int(min(max(n * min(max(grow, 0.5), 2.0), 1), self.max_chunk))
        return result

    def paced_chunk(self, step: Callable[[int], R], n: int) -> R:
        """A paced chunk: exactly the n steps due, after the GUI's frame."""
        self._clock().wait_for_gui()
        return step(n)
