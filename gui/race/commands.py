"""The Sheet runner's race commands (Qt-free; worker thread): start, stop, and take a racer into the sheet.

A race runs beside the sheet in the same worker: its chunks come from the runner's tick, between Play's.
Taking a racer is a change recorded in the timeline at the sheet's step, as a Solve is: the factors and the
optimizer's state jump to the racer's, and the run goes on from there with its settings.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from collabsheet.engine.config import OptimizerSettings
from collabsheet.gui.race.session import CHUNK, MAX_STEPS, RaceSession
from collabsheet.gui.sheet.transitions import TAKEN

if TYPE_CHECKING:
    from collabsheet.gui.sheet.host import SheetHost

RACE_FRAME_S = 1 / 15  # a race's curves and heat maps are redrawn at most this often


class RaceCommands:
    """The host's race: at most one RaceSession at a time, from the sheet's factors, ticked beside Play."""

    titles = {"start_race": "Race", "stop_race": "Race", "take_racer": "Race"}

    def __init__(self, host: SheetHost, changed: Callable[[], None]) -> None:
        self.host = host
        self._changed = changed  # the sheet's optimizer changed under the run (the coach reads only what follows)
        self.session: RaceSession | None = None
        self._races = 0

    def start(self, racers: Sequence[OptimizerSettings], max_steps: int = MAX_STEPS) -> None:
        """Race the optimizers from the sheet's factors as they are now, each with a fresh optimizer."""
        host = self.host
        if host.sheet is None:
            return
        host.pause()
        self.session = RaceSession(host.sheet, racers, int(max_steps), self._races + 1)
        self._races += 1
        host.mailbox.put(race=self.session.frame())

    def stop(self) -> None:
        """Stop the race where it is (its racers can still be taken)."""
        if self.session is not None and self.session.running:
            self.halt()
            self.host.mailbox.put(race=self.session.frame())

    def take(self, i: int) -> None:
        """Racer i's factors and optimizer state into the sheet, at the current step (a change in the timeline)."""
        host, race = self.host, self.session
        if race is None or host.sheet is None:
            raise ValueError("there is no race to take a racer from")
        host.pause()
        state, label = race.state_for(i, host.sheet), race.label(i)
        host.timeline.change("race", f"took {label} from race {race.number}",
                             lambda sheet: sheet.load_state_dict(state))
        host.settings = host.sheet.settings
        host.curves.close(host.timeline.branch.id)  # the curve jumps to the racer's loss and goes on from there
        self._changed()  # the coach's evidence was the sheet's old optimizer's, not the racer's
        host.publish(TAKEN)
        host.emit("notice", f"The sheet took {label} from the race")

    def tick(self) -> float | None:
        """One chunk of the race; a frame at most every RACE_FRAME_S, and one when it ends."""
        race, host = self.session, self.host
        if race is None or not race.running:
            return None
        host.clock.wait_for_gui()
        race.step(CHUNK)
        if not race.running:
            host.mailbox.put(race=race.frame())
            host.emit("raced", race.number)
            return None
        if host.clock.due(RACE_FRAME_S):
            with host.clock.publishing():
                host.mailbox.put(race=race.frame())
        return 0.0

    def halt(self) -> None:
        """Stop the race at once (the thread ends, or a tick failed)."""
        if self.session is not None:
            self.session.stopped = True
