"""One row of the workbook: prediction, error, the finite-difference estimates, the derivatives, the new b and a."""
from __future__ import annotations

import math

import numpy as np

from collabsheet.engine.graddesc.rules import Carry, gradient, rule
from collabsheet.engine.graddesc.settings import AVERAGES, Settings

# Every row's fields; the averages a rule does not carry are NaN. err2 is the data's (y − pred)² only;
# est_db/est_da estimate the derivatives of the row's loss (err², plus (wd/2)(a² + b²) for Adam + L2).
FIELDS = ("x", "y", "b", "a", "pred", "err2", "est_db", "est_da", "de_db", "de_da", "new_b", "new_a",
          "m_b", "m_a", "v_b", "v_a")
ROW = np.dtype([(name, np.float64) for name in FIELDS])
# Each field's column heading, as the workbook's header row names it.
HEADINGS = {"x": "x", "y": "y", "b": "b", "a": "a", "pred": "y_pred", "err2": "err²", "est_db": "est de/db",
            "est_da": "est de/da", "de_db": "de/db", "de_da": "de/da", "new_b": "new b", "new_a": "new a",
            "m_b": "avg de/db", "m_a": "avg de/da", "v_b": "avg (de/db)²", "v_a": "avg (de/da)²"}


def columns(rule: str) -> tuple[str, ...]:
    """The fields a table of the rule's rows shows, in order: each estimate beside its exact derivative."""
    averages = tuple(f"{kind}_{p}" for kind in AVERAGES[rule] for p in ("b", "a"))
    return ("x", "y", "b", "a", "pred", "err2", "est_db", "de_db", "est_da", "de_da", "new_b", "new_a") + averages


def row_loss(x: float, y: float, b: float, a: float, h: Settings) -> float:
    """The row's loss: err² = (y − (b + a·x))², plus (wd/2)·(a² + b²) when L2 is in the loss."""
    err2 = (y - (b + a * x)) ** 2
    return err2 + h.weight_decay / 2 * (b * b + a * a) if h.l2 else err2


def step(x: float, y: float, c: Carry, h: Settings) -> tuple:
    """One row: reads the carry's b, a and averages, leaves the next row's in it; returns the row's fields."""
    x, y = np.float64(x), np.float64(y)  # numpy scalars: an overflow gives inf (the run refuses it), not an error
    b, a = c.p
    pred = b + a * x
    err2 = (y - pred) ** 2
    loss = row_loss(x, y, b, a, h)
    # the basic sheet's columns G–J: err² again with b + 0.01, resp. a + 0.01, and the slope it shows
    est_db = (row_loss(x, y, b + h.nudge, a, h) - loss) / h.nudge
    est_da = (row_loss(x, y, b, a + h.nudge, h) - loss) / h.nudge
    g = gradient(x, y, c.p, h)
    c.t += 1
    new = rule(h)(c.p, g, c, h)
    c.p = new
    m = c.m if "m" in AVERAGES[h.rule] else (math.nan, math.nan)
    v = c.v if "v" in AVERAGES[h.rule] else (math.nan, math.nan)
    return (x, y, b, a, pred, err2, est_db, est_da, g[0], g[1], new[0], new[1], m[0], m[1], v[0], v[1])


def rmse(rows: np.ndarray) -> float:
    """The workbook's "rmse" of an epoch: √(Σ err²), not divided by the count."""
    with np.errstate(over="ignore"):
        return float(np.sqrt(np.sum(rows["err2"])))  # inf, not an error, for a run on its way to diverging
