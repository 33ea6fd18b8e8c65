"""A race in the worker thread (Qt-free): several optimizers from the sheet's factors, as one batched Race.

The Sheet tab's runner owns a RaceSession while a race runs or its results are shown; it steps it in chunks
from its tick, so commands (Stop, an edit) are answered between chunks, and turns it into RaceFrames.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from collabsheet.engine.config import OptimizerSettings
from collabsheet.gui.race.frames import RaceFrame

if TYPE_CHECKING:
    from collabsheet.engine.sheet.sheet import Sheet

CHUNK = 200  # steps of every racer per tick (the Race checks for convergence and divergence this often)
MAX_STEPS = 10_000  # the default step limit
MAX_RACERS = 8
DEFAULTS = (OptimizerSettings("sgd", lr=0.01), OptimizerSettings("momentum", lr=0.01),
            OptimizerSettings("adam", lr=0.05))  # the racers a new race offers


class RaceSession:
    """One race: the engine's Race from the sheet as it is now, and the frames that show it."""

    def __init__(self, sheet: Sheet, racers: Sequence[OptimizerSettings], max_steps: int, number: int) -> None:
        from collabsheet.engine.sheet.race import Race

        if not 1 <= len(racers) <= MAX_RACERS:
            raise ValueError(f"a race takes 1 to {MAX_RACERS} optimizers, got {len(racers)}")
        self.sheet, self.number = sheet, number
        self.config = sheet.config
        self.race = Race(sheet, list(racers), max_steps=max_steps)
        rated = sheet.ratings[~np.isnan(sheet.ratings)]
        self._mask, self._held = ~np.isnan(sheet.model.ratings), sheet.holdout.copy()
        self._range = (float(rated.min()), float(rated.max())) if rated.size else (0.0, 1.0)
        self.stopped = False

    @property
    def running(self) -> bool:
        return not (self.stopped or self.race.done)

    def step(self, n: int = CHUNK) -> int:
        return self.race.step(n) if self.running else 0

    def frame(self) -> RaceFrame:
        race = self.race
        return RaceFrame(race.views(), self.running, race.steps, race.max_steps, race.start_steps, self._mask,
                         self._held, self._range, self.number)

    def state_for(self, i: int, sheet: Sheet) -> dict:
        """Racer i as a state for `sheet` at its own step count, so taking it is a change at the current step."""
        if not 0 <= i < len(self.race.racers):
            raise ValueError(f"there is no racer {i + 1}; the race has {len(self.race.racers)}")
        shape = lambda c: (c.k, c.biases, c.squash)  # noqa: E731
        if sheet is not self.sheet or shape(sheet.config) != shape(self.config):
            raise ValueError("the sheet changed shape (k, biases, squashing or its ratings file) since the race "
                             "began; race again to take a racer")
        return {**self.race.state_dict(i), "steps": sheet.steps}

    def label(self, i: int) -> str:
        r = self.race.racers[i]
        return f"{r.settings.label} lr {r.settings.lr:g} after {r.steps:,} steps"
