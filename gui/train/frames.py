"""What the Training tab's runner sends the GUI: progress, curves, and what a trained model shows (Qt-free, no torch).

Everything here is plain numbers, numpy arrays and text, so the GUI thread never touches a tensor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from collabsheet.gui.runtime.runner import Frame as BaseFrame
from collabsheet.gui.runtime.series import Points
from collabsheet.gui.train.hexbin import HexCells, hex_cells
from collabsheet.gui.words import plural

MAX_RATING_BINS = 24  # actual ratings with at most this many distinct values get one histogram column each
PREDICTION_BINS = 48  # rows of the predictions-vs-actual histogram


@dataclass(frozen=True)
class RatingsInfo:
    """The ratings the tab trains on."""

    name: str
    ratings: int
    users: int
    movies: int
    low: float  # the lowest and highest rating
    high: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainProgress:
    """Where a run is: the newest batch."""

    epoch: int  # from 1
    epochs: int
    batch: int  # within the epoch, from 1
    batches: int  # batches in an epoch
    iteration: int  # batches done in the whole run
    loss: float  # the smoothed training loss (EWMA), as the lesson shows it
    pace: str = ""  # "12.3k ratings/s · 25 s left" for the whole run, once known (engine.train.progress.Pace)

    @property
    def fraction(self) -> float:
        return self.iteration / max(self.epochs * self.batches, 1)


@dataclass(frozen=True)
class EpochRow:
    """The lesson's line after each epoch."""

    epoch: int
    train_loss: float  # the smoothed training loss at the epoch's end
    valid_mse: float
    valid_rmse: float
    seconds: float  # since the run began
    iteration: int  # the batches done when it ended: where the epoch line goes on the curve


@dataclass(frozen=True)
class Joint:
    """Predictions against actual validation ratings, as a 2-D histogram (the lesson's hex jointplot)."""

    counts: np.ndarray  # (actual bins, prediction bins) ratings in each cell
    actual_edges: np.ndarray  # bin edges along the actual ratings (x)
    predicted_edges: np.ndarray  # bin edges along the predictions (y)
    predicted: np.ndarray  # every validation prediction …
    actual: np.ndarray  # … and its rating
    hexes: HexCells | None = None  # the jointplot's hexagons and marginals, binned in the worker

    @classmethod
    def of(cls, predicted: np.ndarray, actual: np.ndarray) -> Joint:
        """Binned with one column per rating value when the ratings are a few steps (stars), else evenly."""
        predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
        x_edges = rating_edges(actual)
        finite = predicted[np.isfinite(predicted)]
        lo = min(finite.min(), x_edges[0]) if finite.size else x_edges[0]
        hi = max(finite.max(), x_edges[-1]) if finite.size else x_edges[-1]
        y_edges = np.linspace(lo, hi if hi > lo else lo + 1, PREDICTION_BINS + 1)
        counts, _, _ = np.histogram2d(actual, predicted, bins=(x_edges, y_edges))
        return cls(counts, x_edges, y_edges, predicted, actual, hex_cells(predicted, actual))


def rating_edges(actual: np.ndarray) -> np.ndarray:
    """Histogram edges: centred on each rating value when they come in equal steps, else MAX_RATING_BINS even bins."""
    values = np.unique(actual[np.isfinite(actual)])
    if values.size == 0:
        return np.array([0.0, 1.0])
    if values.size == 1:
        return np.array([values[0] - 0.5, values[0] + 0.5])
    steps = np.diff(values)
    step = steps.min()
    if values.size <= MAX_RATING_BINS and np.allclose(steps / step, np.round(steps / step)):
        centres = np.arange(values[0], values[-1] + step / 2, step)
        return np.append(centres - step / 2, centres[-1] + step / 2)
    return np.linspace(values[0], values[-1], MAX_RATING_BINS + 1)


@dataclass(frozen=True)
class MovieMapData:
    """Each movie's factors on their first two principal components, with what the map labels."""

    x: np.ndarray
    y: np.ndarray
    titles: tuple[str, ...]
    counts: np.ndarray  # training ratings per movie
    labelled: np.ndarray  # indices of the most-rated movies, which the map names
    explained: tuple[float, float]  # share of the factors' variance on each axis


@dataclass(frozen=True)
class BiasRow:
    """A movie and its learned bias."""

    title: str
    bias: float
    count: int  # its training ratings


@dataclass(frozen=True)
class Results:
    """What a finished (or stopped, or loaded) model shows."""

    recipe: str  # its name
    summary: str  # the recipe's one-line summary
    dataset: str
    valid_rmse: float  # NaN when unknown
    valid_ratings: int  # how many ratings that RMSE is over (0 for a loaded model)
    seconds: float  # training time (NaN for a loaded model)
    iterations: int
    epochs_done: int
    stopped: bool
    joint: Joint | None  # None for a loaded model: its validation ratings are not in the file
    movie_map: MovieMapData
    largest: tuple[BiasRow, ...]  # empty when the model has no biases …
    smallest: tuple[BiasRow, ...]
    no_biases: str  # … and this says why
    users: np.ndarray  # the user ids the model knows, to pick from
    device: str = ""

    @property
    def headline(self) -> str:
        """One line: RMSE, over what, and how long it took."""
        if math.isnan(self.valid_rmse):
            return f"{self.recipe}: no validation RMSE"
        how = f"stopped after {plural(self.epochs_done, 'epoch')}, " if self.stopped else ""
        took = f", {how}{self.seconds:.1f} s" if not math.isnan(self.seconds) else ""
        over = f"{self.valid_ratings:,} ratings" if self.valid_ratings else "when it was trained"
        return f"{self.recipe}: validation RMSE {self.valid_rmse:.4f} ({over}{took})"


@dataclass(frozen=True)
class Recommended:
    """One user's recommendations: their top unrated movies and the ratings the model predicts."""

    user: object
    rated: int  # movies the user rated
    movies: tuple[object, ...]  # original movie ids
    titles: tuple[str, ...]
    scores: np.ndarray


@dataclass
class Frame(BaseFrame):
    """What the GUI takes from the mailbox: the newest of each field and every curve point and epoch since."""

    losses: list[Points] = field(default_factory=list)
    epochs: list[EpochRow] = field(default_factory=list)
    clear_run: bool = False  # a new run began: drop the old curves, epochs and results
    progress: TrainProgress | None = None
    ratings: RatingsInfo | None = None
    results: Results | None = None
    recommended: Recommended | None = None
    recipe: object = None  # engine.train.recipes.Recipe of a loaded model, for the settings to show
    device: str = ""

    def merge(self, events: tuple = (), clear: bool = False, losses: Points | None = None,
              epoch: EpochRow | None = None, **fields) -> None:
        if clear:
            self.losses.clear()
            self.epochs.clear()
            self.clear_run = True
            self.progress = self.results = self.recommended = None
        if losses is not None and len(losses.values):
            self.losses.append(losses)
        if epoch is not None:
            self.epochs.append(epoch)
        super().merge(events, **{k: v for k, v in fields.items() if v is not None})
