"""The engine's settings and facts the GUI shows, with no torch: SheetConfig, OptimizerSettings, run states, limits.

The GUI imports these (never a copy) while the worker thread is still importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from collabsheet.engine.optimizers import SHEET, labels, names, readers

OPTIMIZERS = names(SHEET)  # the sheet's rules (engine.optimizers says what each computes)
LABELS = labels(SHEET)
# Which hyper-parameters each rule reads besides lr and weight decay.
USES = {hyper: readers(SHEET, hyper) for hyper in ("beta", "beta1", "beta2")}
SCHEDULES = ("constant",)  # learning-rate schedules a sheet can step with (engine.optim.schedules)

MIN_K, MAX_K = 1, 1000  # latent factors per user and per movie
MIN_TOP, MAX_TOP = 5, 1000  # users and movies in the crosstab
DEFAULT_TOP = 15  # the lesson's sheet: 15 users × 15 movies


class RunState(str, Enum):
    """What a tab's runner is doing (every tab's: one vocabulary); a str, so it prints and compares as its value."""

    IDLE = "idle"
    PLAYING = "playing"  # the sheet or the gradient-descent table stepping
    SOLVING = "solving"
    LOADING = "loading"
    TRAINING = "training"

    def __str__(self) -> str:
        return self.value


SQUASH_RANGES = {  # how a sheet's sigmoid range follows from its ratings' (min, max): engine.models.factorization.y_range
    "data": "the data's (min, max), as the lesson's notebook squashes",
    "wide": "0 to the top rating + 10% (5.5 on MovieLens), as the later course does",
}


@dataclass(frozen=True)
class SheetConfig:
    """The shape of the model on the sheet."""

    k: int = 5  # latent factors per user and per movie (the lesson uses 5)
    biases: bool = False  # add a bias per user and per movie
    squash: bool = False  # squash predictions into the rating range with a sigmoid (the lesson's y_range)
    squash_range: str = "data"  # which range: the data's (min, max) as the lesson, or "wide" (0 … max + 10%)
    seed: int = 42  # seed of the random initial factors
    init: float = 1.0  # factors start uniform in [0, init), like the workbook's =RAND()

    def __post_init__(self) -> None:
        if not MIN_K <= self.k <= MAX_K:
            raise ValueError(f"factors k must be between {MIN_K} and {MAX_K}, got {self.k}")
        if self.squash_range not in SQUASH_RANGES:
            raise ValueError(f"unknown sigmoid range {self.squash_range!r}; choose one of {', '.join(SQUASH_RANGES)}")


@dataclass(frozen=True)
class OptimizerSettings:
    """Which update rule to use and its hyper-parameters."""

    name: str = "adam"  # one of OPTIMIZERS
    lr: float = 0.05  # learning rate (the peak, when a schedule varies it)
    beta: float = 0.9  # momentum: weight of the previous velocity
    beta1: float = 0.9  # Adam/AdamW: weight of the previous gradient average
    beta2: float = 0.99  # RMSProp/Adam/AdamW: weight of the previous squared-gradient average
    eps: float = 1e-8  # keeps the division finite when a squared average is ~0
    weight_decay: float = 0.0  # L2 added to the gradient; AdamW shrinks the weights instead

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; choose one of {', '.join(OPTIMIZERS)}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        for field in ("beta", "beta1", "beta2"):
            if not 0.0 <= getattr(self, field) < 1.0:
                raise ValueError(f"{field} must be in [0, 1), got {getattr(self, field)}")
        if self.eps <= 0 or self.weight_decay < 0:
            raise ValueError("eps must be positive and weight decay not negative")

    @property
    def label(self) -> str:
        return LABELS[self.name]
