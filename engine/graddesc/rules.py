"""The workbook's update rules, one row at a time, each written as its sheet's formula.

p = [b, a] are the intercept and slope of the row, g = [de/db, de/da] their derivatives. A rule reads
the averages the previous row left in the carry (the workbook's columns J, K and L, M), writes this
row's, and returns the new [b, a]. numpy does each formula for b and a at once, in float64, in the
spreadsheet's order of operations, so a recalculated workbook agrees with it to the last bits or so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from collabsheet.engine.graddesc.settings import RESET_SQUARED, Settings


@dataclass
class Carry:
    """What one row hands the next, and an epoch the next: the sheet's top cells (rows 1–3)."""

    p: np.ndarray  # [b, a]: the intercept and slope (C1, C2)
    m: np.ndarray  # gradient averages of b and a (momentum and Adam: J, K)
    v: np.ndarray  # squared-gradient averages of b and a (RMSProp: J, K; Adam: L, M)
    lr: float  # the learning rate in use (adam_ann's annealing divides it by 4)
    t: int = 0  # rows stepped since reset, this one included: the library variants' bias correction
    best: float = math.inf  # adam_ann: the smallest √v_b + √v_a seen after an epoch (N3); none yet: inf

    @classmethod
    def reset(cls, h: Settings) -> Carry:
        """The "reset" macro: a = b = start, averages 0, squared averages 10,000 (0 as torch.optim starts them)."""
        squared = RESET_SQUARED if h.variant == "lesson" else 0.0
        return cls(np.array([h.start_b, h.start_a]), np.zeros(2), np.full(2, squared), h.lr)

    def copy(self) -> Carry:
        return Carry(self.p.copy(), self.m.copy(), self.v.copy(), self.lr, self.t, self.best)

    def finite(self) -> bool:
        return bool(np.isfinite(self.p).all() and np.isfinite(self.m).all() and np.isfinite(self.v).all())


# A rule: (p, g, carry, settings) -> new p; it updates the carry's averages; the caller has counted the row in t.
Rule = Callable[[np.ndarray, np.ndarray, Carry, Settings], np.ndarray]


def gradient(x: float, y: float, p: np.ndarray, h: Settings) -> np.ndarray:
    """de/db = 2(a·x + b − y), de/da = de/db·x; with L2 in the loss, + wd·b and + wd·a."""
    b, a = p
    de_db = 2 * ((b + a * x) - y)
    if h.l2:
        return np.array([de_db + h.weight_decay * b, de_db * x + h.weight_decay * a])
    return np.array([de_db, de_db * x])


# The lesson's formulas: no bias correction, no ε; the averages start where "reset" puts them.

def sgd(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """new b = b − lr·de/db"""
    return p - c.lr * g


def momentum(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """J = β·J₋₁ + (1−β)·de/db ;  new b = b − lr·J"""
    c.m = h.beta1 * c.m + (1 - h.beta1) * g
    return p - c.lr * c.m


def rmsprop(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """J = β·J₋₁ + (1−β)·(de/db)² ;  new b = b − lr·de/db / √J₋₁   (the previous row's average)"""
    previous = c.v
    c.v = h.beta2 * c.v + (1 - h.beta2) * g**2
    return p - c.lr * g / np.sqrt(previous)


def adam(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """J = β1·J₋₁ + (1−β1)·de/db ;  L = β2·L₋₁ + (1−β2)·(de/db)² ;  new b = b − lr·J / √L"""
    c.m = h.beta1 * c.m + (1 - h.beta1) * g
    c.v = h.beta2 * c.v + (1 - h.beta2) * g**2
    return p - c.lr * c.m / np.sqrt(c.v)


def adamw(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """Adam's J and L ;  new b = b·(1 − lr·wd) − lr·J / √L   (the decay kept out of the averages)"""
    c.m = h.beta1 * c.m + (1 - h.beta1) * g
    c.v = h.beta2 * c.v + (1 - h.beta2) * g**2
    return p * (1 - c.lr * h.weight_decay) - c.lr * c.m / np.sqrt(c.v)


# The library variants, in torch.optim's order of operations (foreach=False), so the two agree to ~1e-15.

def sgd_library(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """torch.optim.SGD: p − lr·g"""
    return p - c.lr * g


def momentum_library(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """torch.optim.SGD(momentum=β, dampening=β): m = g on the first step, then β·m + (1−β)·g ;  p − lr·m"""
    c.m = g.copy() if c.t == 1 else h.beta1 * c.m + (1 - h.beta1) * g
    return p - c.lr * c.m


def rmsprop_library(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """torch.optim.RMSprop: v = β·v + (1−β)·g² ;  p − lr·g / (√v + ε)   (this row's average)"""
    c.v = h.beta2 * c.v + (1 - h.beta2) * g * g
    return p - c.lr * (g / (np.sqrt(c.v) + h.eps))


def adam_library(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """torch.optim.Adam: m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ) ;  p − lr·m̂ / (√v̂ + ε)"""
    c.m = c.m + (1 - h.beta1) * (g - c.m)  # torch's lerp towards g: the lesson's interpolation
    c.v = h.beta2 * c.v + (1 - h.beta2) * g * g
    step = c.lr / (1 - h.beta1**c.t)
    denominator = np.sqrt(c.v) / math.sqrt(1 - h.beta2**c.t) + h.eps
    return p - step * (c.m / denominator)


def adamw_library(p: np.ndarray, g: np.ndarray, c: Carry, h: Settings) -> np.ndarray:
    """torch.optim.AdamW: p·(1 − lr·wd), then Adam's step with the plain gradient"""
    return adam_library(p * (1 - c.lr * h.weight_decay), g, c, h)


LESSON: dict[str, Rule] = {"sgd": sgd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam,
                           "adam_ann": adam, "adamw": adamw, "adam_l2": adam}  # L2 is in the gradient
LIBRARY: dict[str, Rule] = {"sgd": sgd_library, "momentum": momentum_library, "rmsprop": rmsprop_library,
                            "adam": adam_library, "adam_ann": adam_library, "adamw": adamw_library,
                            "adam_l2": adam_library}


def rule(h: Settings) -> Rule:
    """The update rule the settings name."""
    return (LESSON if h.variant == "lesson" else LIBRARY)[h.rule]


def anneal(c: Carry) -> None:
    """adam_ann's macro between epochs: with g2 = √L + √M of the last row, lr ÷ 4 when g2 > 2·best; best = min."""
    g2 = math.sqrt(c.v[0]) + math.sqrt(c.v[1])
    if g2 > 2 * c.best:  # g2 / best > 2, with no best yet (inf) never true
        c.lr /= 4
    c.best = min(c.best, g2)
