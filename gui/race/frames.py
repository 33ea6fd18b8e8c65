"""What a race sends the GUI (Qt-free): every racer's numbers, and what its small heat map needs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collabsheet.engine.sheet.race import RacerView


@dataclass(frozen=True)
class RaceFrame:
    """A race now: its racers (plain numpy), whether it is still running, and the sheet it started from."""

    racers: tuple[RacerView, ...]
    running: bool
    steps: int  # steps every racer still in the race has taken
    max_steps: int
    start_step: int  # the sheet's step when the race began
    mask: np.ndarray  # (users, movies) the rated cells the loss counts
    held: np.ndarray  # (users, movies) held-out cells
    rating_range: tuple[float, float]  # the ratings' lowest and highest, for the heat maps' shading
    number: int  # which race this is (a new race starts new curves)
