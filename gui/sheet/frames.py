"""What the Sheet tab's runner sends the GUI: frames, the ratings preview, and what to load (Qt-free)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.config import SheetConfig
from engine.data.crosstab import Crosstab
from engine.data.ratings import Ratings
from gui.runtime.runner import Frame as BaseFrame
from gui.runtime.series import Points

if TYPE_CHECKING:  # they import torch: only the worker thread does
    from engine.sheet.explain import Explanation
    from engine.sheet.snapshot import Snapshot


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


@dataclass
class Frame(BaseFrame):
    """What the GUI takes from the mailbox: the newest snapshot (or None) and everything else since."""

    snapshot: Snapshot | None = None
    preview: Preview | None = None  # the first sheet's ratings, while the engine starts
    losses: list[Points] = field(default_factory=list)
    clear_curves: bool = False  # a new run began: drop the old loss curves
    solving: tuple[int, float] | None = None  # (iterations, RMSE) of a solve in progress
    explanation: Explanation | None = None  # the selected cell explained with the newest snapshot's numbers …
    explained: bool = False  # … when this frame brings one (None then means: nothing to explain)
    device: str = ""  # where the engine computes, as the status bar shows it
    blank_predictions: np.ndarray | None = None  # the lesson's test data: predictions where no rating is, NaN elsewhere
    recommendations: dict | None = None  # user row → that user's top unrated movies, as lines of text

    def merge(self, events: tuple = (), clear: bool = False, losses: Points | None = None, **fields) -> None:
        if clear:
            self.losses.clear()
            self.clear_curves = True
        if losses is not None and len(losses.values):
            self.losses.append(losses)
        super().merge(events, **{k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True)
class LoadRequest:
    """Which ratings to open: None path means the default MovieLens; columns as load_ratings takes them."""

    path: str | None = None
    columns: dict = field(default_factory=dict)  # user_col, item_col, rating_col, sep, titles_path
    ratings: Ratings | None = None  # already loaded (e.g. by the open dialog's preview)
