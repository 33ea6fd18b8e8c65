"""Learning-rate schedules: each a small callable giving the learning rate for iteration `it` (0, 1, 2, …).

The update rule reads the current lr; the schedule decides it (as torch.optim.lr_scheduler does for
torch.optim). An iteration is one mini-batch when training, one step on the sheet.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class Schedule(Protocol):
    def __call__(self, it: int) -> float: ...


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def _cos(start: float, end: float, pct: float) -> float:
    """Half a cosine from start (pct 0) to end (pct 1)."""
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


@dataclass(frozen=True)
class Constant:
    """The same learning rate at every iteration."""

    lr: float

    def __post_init__(self) -> None:
        _positive("learning rate", self.lr)

    def __call__(self, it: int) -> float:
        return self.lr


@dataclass(frozen=True)
class SGDR:
    """Cosine annealing with warm restarts: lr falls from lr to lr_min over each cycle, then jumps back.

    The first cycle lasts cycle_len epochs and each next one cycle_mult times longer, so the lesson's
    fit(1e-2, 2, cycle_len=1, cycle_mult=2) is two cycles of 1 and 2 epochs: 3 epochs in all.
    With warmup, as the lesson's fastai (0.7) CosAnneal: the first 1/20 of the first cycle's iterations run at
    lr/100 and count in the cycle, so the cosine goes on from where it would be; without, torch's
    CosineAnnealingWarmRestarts.
    """

    lr: float
    batches_per_epoch: int
    cycle_len: int = 1  # epochs in the first cycle
    cycle_mult: int = 1  # each cycle is this many times longer than the one before
    lr_min: float = 0.0
    warmup: bool = False  # fastai 0.7's lr/100 for the first 1/20 of the first cycle

    def __post_init__(self) -> None:
        _positive("learning rate", self.lr)
        for name in ("batches_per_epoch", "cycle_len", "cycle_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")

    def __call__(self, it: int) -> float:
        length = self.cycle_len * self.batches_per_epoch
        if self.warmup and it < length / 20:  # fastai compares with nb/20 unrounded
            return self.lr / 100
        while it >= length:  # a handful of cycles at most
            it -= length
            length *= self.cycle_mult
        return _cos(self.lr, self.lr_min, it / length)


def sgdr_epochs(cycles: int, cycle_len: int = 1, cycle_mult: int = 1) -> int:
    """Epochs that `cycles` SGDR cycles take: cycle_len · (1 + mult + mult² + …)."""
    return sum(cycle_len * cycle_mult**i for i in range(cycles))


@dataclass(frozen=True)
class OneCycle:
    """Leslie Smith's one cycle: lr rises from lr/div to lr over pct_start of the run, then falls to lr/div/final_div.

    Both halves are cosines, as in fastai's fit_one_cycle and torch's OneCycleLR (two phases).
    """

    lr: float
    total: int  # iterations in the whole run
    pct_start: float = 0.25
    div: float = 25.0
    final_div: float = 1e4

    def __post_init__(self) -> None:
        _positive("learning rate", self.lr)
        if self.total < 2:
            raise ValueError(f"one-cycle needs at least 2 iterations, got {self.total}")
        if not 0 < self.pct_start < 1:
            raise ValueError(f"pct_start must be between 0 and 1, got {self.pct_start}")

    def __call__(self, it: int) -> float:
        start, low = self.lr / self.div, self.lr / self.div / self.final_div
        peak = self.pct_start * self.total - 1  # the iteration at the top, as torch counts it
        if peak > 0 and it <= peak:
            return _cos(start, self.lr, it / peak)
        return _cos(self.lr, low, min((it - peak) / (self.total - 1 - peak), 1.0))
