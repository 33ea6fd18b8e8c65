"""The workbook's macros as its buttons run them: onestep's next epoch, somesteps' annealing, each sheet's reset.

The lesson's graddesc.xlsm recalculates only when a macro says so, so a macro's copies read the values of the
last recalculation. The library variant runs none of this: it continues as torch.optim would (see run.py).
"""
from __future__ import annotations

import math

import numpy as np

from collabsheet.engine.graddesc.data import Data
from collabsheet.engine.graddesc.rows import step
from collabsheet.engine.graddesc.rules import Carry
from collabsheet.engine.graddesc.settings import Settings

# How many times each sheet's reset macro copies the last row's averages into the top cells: momentum once,
# rmsprop and the Adams twice (adamw and adam_l2 are ours, reset as adam), basic never (it carries none).
WARM_COPIES = {"sgd": 0, "momentum": 1, "rmsprop": 2, "adam": 2, "adam_ann": 2, "adamw": 2, "adam_l2": 2}


def end_of_epoch(data: Data, top: Carry, h: Settings) -> tuple[Carry, np.ndarray]:
    """One recalculation of the sheet from its top cells: the carry after the last row, and that row's (b, a)."""
    c = top.copy()
    with np.errstate(all="ignore"):  # a diverging warm-up gives inf; the first row of the run refuses it
        for x, y in zip(data.x, data.y):
            used = c.p.copy()
            step(float(x), float(y), c, h)
    return c, used


def onestep(after: Carry, used: np.ndarray) -> Carry:
    """The onestep macro: ms_last → gradtarget, momlast → momtarget, then lastslope → slope, lastconst → const.

    The next epoch keeps the averages the last row ended with but starts from the b and a that row *used*
    (C32:D32), not its new b and new a.
    """
    nxt = after.copy()
    nxt.p = np.array(used, dtype=np.float64)
    return nxt


def grad2(c: Carry) -> float:
    """adam_ann's avg_grad2 (N33): √L + √M of the last row's squared averages."""
    return math.sqrt(c.v[0]) + math.sqrt(c.v[1])


def somesteps_check(c: Carry) -> None:
    """What somesteps does on adam_ann after each onestep: lr ÷ 4 when gradrat = avg_grad2 / prev_grad2 > 2,
    then prev_grad2 ← avg_grad2 if that is smaller (prev_grad2 is the carry's `best`)."""
    g2 = grad2(c)
    if g2 > 2 * c.best:  # gradrat > 2 without dividing (no prev_grad2 yet, inf: never)
        c.lr /= 4
    if g2 < c.best:
        c.best = g2


def reset_macro(data: Data, h: Settings) -> Carry:
    """The sheet's reset macro: a = b = the start, then the averages warmed by WARM_COPIES recalculations.

    basic: a = b = 1 (its rmse list is the caller's to clear). momentum: momtarget = 0, recalculate, momlast →
    momtarget once. rmsprop: gradtarget = 10,000, then ms_last → gradtarget twice. adam: both, twice.
    adam_ann: as adam, and prev_grad2 ← avg_grad2 after the second copy. The lr is the settings' (the sheet's).
    """
    top = Carry.reset(h)
    for _ in range(WARM_COPIES[h.rule] if h.variant == "lesson" else 0):
        after, _used = end_of_epoch(data, top, h)
        top.m, top.v = after.m.copy(), after.v.copy()  # p and lr stay: the macro copies averages only
    if h.rule == "adam_ann" and h.variant == "lesson":
        with np.errstate(all="ignore"):
            top.best = grad2(top)
    top.t = 0
    return top
