"""What the Sheet tab's runner sends the GUI: frames, the ratings preview, and what to load (Qt-free)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from collabsheet.engine.config import SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.gui.runtime.runner import Frame as BaseFrame
from collabsheet.gui.runtime.series import Points

if TYPE_CHECKING:  # they import torch (only the worker thread does) or pandas (not needed to start)
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.coach import Diagnosis
    from collabsheet.engine.sheet.explain import Explanation
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.engine.task import Task
    from collabsheet.gui.race.frames import RaceFrame

HOLDOUT = 1_000_000  # a curve series' held-out companion (dashed) is series HOLDOUT + its number
NEW_USER_ID = "you"  # the user id of the new user's row (the person using the app), as its header shows it


@dataclass(frozen=True)
class Preview:
    """The first sheet before the engine has started: its ratings and shape, no factors, predictions or loss."""

    ratings: np.ndarray  # (users, items) float64, NaN = blank, as in a Snapshot
    mask: np.ndarray  # (users, items) bool, True where rated
    user_ids: tuple
    item_ids: tuple
    titles: tuple[str, ...]
    k: int  # the shape the sheet will have, so the ratings do not move when the engine arrives
    biases: bool
    dataset: str = ""

    @classmethod
    def of(cls, grid: Crosstab, config: SheetConfig = SheetConfig()) -> "Preview":
        return cls(grid.ratings, grid.mask, grid.user_ids, grid.item_ids, grid.titles, config.k, config.biases,
                   grid.name)


@dataclass(frozen=True)
class BranchInfo:
    """One branch of the run's history, as the timeline bar lists it."""

    id: int
    parent: int | None  # None for the run's root
    fork: int  # the step it starts at
    end: int  # the step of its head
    label: str  # its first settings ("Adam · lr 0.05", "…" when they changed along it)
    number: int = 0  # as shown: a run's branches count from 1 (the ids go on across Resets)


@dataclass(frozen=True)
class TimelineInfo:
    """Where the sheet is in its recorded history, and the tree of branches it can go to."""

    branch: int  # the branch followed
    step: int  # the sheet's step
    start: int  # the first step of the path to that branch (its root's start)
    end: int  # the head of that branch: the newest step recorded on it
    branches: tuple[BranchInfo, ...]  # the branches of this run, oldest first
    series: dict  # loss-curve series → the branch it belongs to (held-out companions: HOLDOUT + series)

    @property
    def at_head(self) -> bool:
        return self.step == self.end


@dataclass(frozen=True)
class NewUserRow:
    """The row of the person using the app: what they rated, and what fold-in made of it."""

    ratings: np.ndarray  # (movies,) their ratings of the sheet's movies, NaN = not rated
    predictions: np.ndarray  # (movies,) predicted ratings, NaN until folded in (or a movie the model lacks)
    factors: np.ndarray | None  # (k,) their factors on the sheet; None before fold-in or from a trained model
    bias: float | None  # their bias, when the model has biases
    top: tuple[tuple[str, float], ...]  # their best unrated movies: (title, predicted rating), best first
    source: str  # "" the sheet's movies; else the trained model's name
    folded_at: int | None  # the sheet's step at the fold-in; None before the first
    rmse: float  # over their own ratings (NaN before fold-in)
    movies: int  # how many movies the recommendations were picked from
    note: str = ""  # e.g. movies they rated that the trained model does not know


@dataclass
class Frame(BaseFrame):
    """What the GUI takes from the mailbox: the newest snapshot (or None) and everything else since."""

    snapshot: Snapshot | None = None
    preview: Preview | None = None  # the first sheet's ratings, while the engine starts
    losses: list[Points] = field(default_factory=list)
    clear_curves: bool = False  # a new run began: drop the old loss curves
    transitions: list[str] = field(default_factory=list)  # what happened since the last frame (gui.sheet.transitions)
    top: int | None = None  # the top-N the sheet was built for, with a new sheet (the top-N box shows it)
    solving: tuple[int, float] | None = None  # (iterations, RMSE) of a solve in progress
    explanation: Explanation | None = None  # the selected cell explained with the newest snapshot's numbers …
    explained: bool = False  # … when this frame brings one (None then means: nothing to explain)
    device: str = ""  # where the engine computes, as the status bar shows it
    blank_predictions: np.ndarray | None = None  # the lesson's test data: predictions where no rating is, NaN elsewhere
    recommendations: dict | None = None  # user row → that user's top unrated movies, as lines of text
    display: Snapshot | None = None  # what the table shows: the snapshot, with the new user's row when there is one
    timeline: TimelineInfo | None = None  # where the sheet is in its history
    diagnosis: Diagnosis | None = None  # the coach's verdict on the run up to this step …
    diagnosed: bool = False  # … when this frame brings one (None then means: nothing to say)
    race: RaceFrame | None = None  # the latest state of a race
    new_user: NewUserRow | None = None  # the new user's row …
    new_user_sent: bool = False  # … when this frame brings it (None then means: no such row)

    def merge(self, events: tuple = (), clear: bool = False, losses: Points | None = None,
              transition: str | None = None, **fields) -> None:
        if clear:
            self.losses.clear()
            self.clear_curves = True
        if transition is not None and transition not in self.transitions:
            self.transitions.append(transition)  # every one since the GUI last looked: their effects add up
        if losses is not None and len(losses.values):
            self.losses.append(losses)
        for value, flag in (("diagnosis", "diagnosed"), ("new_user", "new_user_sent")):
            if fields.get(flag):  # None is news here: it replaces what an earlier update said
                setattr(self, value, fields.pop(value, None))
        super().merge(events, **{k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True)
class LoadRequest:
    """Which ratings to open: None path means the default MovieLens; columns as load_ratings takes them."""

    path: str | None = None
    columns: dict = field(default_factory=dict)  # user_col, item_col, rating_col, sep, titles_path
    ratings: Ratings | None = None  # already loaded (e.g. by the open dialog's preview)

    @property
    def default(self) -> bool:
        """Whether this asks for the default data (MovieLens, or the file COLLABSHEET_RATINGS names)."""
        return self.path is None and self.ratings is None

    def read(self, task: Task | None = None) -> Ratings:
        """The ratings asked for, read now (pandas is imported here, not when the window starts); the read reports
        to the task (the bytes read of a long file, what the default data tries)."""
        from collabsheet.engine.data.movielens import default_ratings
        from collabsheet.engine.data.ratings import load_ratings

        if self.ratings is not None:
            return self.ratings
        if self.path is None:
            return default_ratings(task=task)
        return load_ratings(self.path, task=task, **{k: v for k, v in self.columns.items() if v is not None})
