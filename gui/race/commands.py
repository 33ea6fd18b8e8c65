"""The Sheet runner's race commands (Qt-free; worker thread): start, stop, and take a racer into the sheet.

A race runs beside the sheet in the same worker: its chunks come from the runner's tick, between Play's.
Taking a racer is a change recorded in the timeline at the sheet's step, as a Solve is: the factors and the
optimizer's state jump to the racer's, and the run goes on from there with its settings.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from collabsheet.engine.config import OptimizerSettings
from collabsheet.gui.race.session import CHUNK, MAX_STEPS, RaceSession

if TYPE_CHECKING:
    from collabsheet.gui.sheet.runner import SheetRunner

RACE_FRAME_S = 1 / 15  # a race's curves and heat maps are redrawn at most this often


class RaceCommands:
    """Mixed into SheetRunner: `self` is the runner, with its sheet, timeline, curves, clock and mailbox."""

    titles = {"start_race": "Race", "stop_race": "Race", "take_racer": "Race"}

    def __init__(self) -> None:
        self.race: RaceSession | None = None
        self._races = 0

    def start_race(self: SheetRunner, racers: Sequence[OptimizerSettings], max_steps: int = MAX_STEPS) -> None:
        """Race the optimizers from the sheet's factors as they are now, each with a fresh optimizer."""
        if self.sheet is None:
            return
        self.pause()
        self.race = RaceSession(self.sheet, racers, int(max_steps), self._races + 1)
        self._races += 1
        self.mailbox.put(race=self.race.frame())

    def stop_race(self: SheetRunner) -> None:
        """Stop the race where it is (its racers can still be taken)."""
        if self.race is not None and self.race.running:
            self._halt_race()
            self.mailbox.put(race=self.race.frame())

    def take_racer(self: SheetRunner, i: int) -> None:
        """Racer i's factors and optimizer state into the sheet, at the current step (a change in the timeline)."""
        if self.race is None or self.sheet is None:
            raise ValueError("there is no race to take a racer from")
        self.pause()
        state, label = self.race.state_for(i, self.sheet), self.race.label(i)
        self.timeline.change("race", f"took {label} from race {self.race.number}",
                             lambda sheet: sheet.load_state_dict(state))
        self.settings = self.sheet.settings
        self.curves.close(self.timeline.branch.id)  # the curve jumps to the racer's loss and goes on from there
        self.publish()
        self.emit("notice", f"The sheet took {label} from the race")

    def _race_tick(self: SheetRunner) -> float | None:
        """One chunk of the race; a frame at most every RACE_FRAME_S, and one when it ends."""
        race = self.race
        if race is None or not race.running:
            return None
        self.clock.wait_for_gui()
        race.step(CHUNK)
        if not race.running:
            self.mailbox.put(race=race.frame())
            self.emit("raced", race.number)
            return None
        if self.clock.due(RACE_FRAME_S):
            with self.clock.publishing():
                self.mailbox.put(race=race.frame())
        return 0.0

    def _halt_race(self) -> None:
        if self.race is not None:
            self.race.stopped = True
