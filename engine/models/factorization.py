"""Matrix factorization's prediction: a user's factors · a movie's factors (+ biases), optionally squashed.

One home for the algebra. Functions take numpy arrays or torch tensors alike (the sheet computes in
torch, explain in numpy), in two shapes: a whole grid (users × movies, as the sheet lays it out) or
pairs (one prediction per (user, movie) row, as training batches come).
"""
from __future__ import annotations

import numpy as np

from collabsheet.engine.config import SQUASH_RANGES


def y_range(lo: float, hi: float, kind: str = "data") -> tuple[float, float]:
    """The squashing range for ratings in [lo, hi]: (lo, hi) itself, or from 0 (or lo) to a little above hi.

    With the data's range the top and bottom ratings are reached only as a raw prediction goes to ±∞, so a sheet
    whose ratings sit at either end has no bounded minimum; "wide" is the later course's answer to that."""
    if kind == "data":
        return lo, hi
    if kind != "wide":
        raise ValueError(f"unknown sigmoid range {kind!r}; choose one of {', '.join(SQUASH_RANGES)}")
    bottom = min(0.0, lo)
    return bottom, hi + 0.1 * (hi - bottom)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), for a tensor or an array."""
    # A tensor's own method, so that this module never imports torch (the first frame is drawn without it).
    if hasattr(x, "sigmoid"):
        return x.sigmoid()
    with np.errstate(over="ignore"):  # e^(−x) overflows for x below about −709: σ is 0 there, exactly as 1/(1+inf)
        return 1.0 / (1.0 + np.exp(-x))


def sigmoid_range(x, lo: float, hi: float):
    """lo + (hi − lo)·σ(x): the lesson's squashing of a raw prediction into (lo, hi)."""
    return lo + (hi - lo) * sigmoid(x)


def cells(user_factors, item_factors, user_bias=None, item_bias=None):
    """Every cell's raw prediction: U·M (users × k times k × movies), plus each row's and column's bias."""
    raw = user_factors @ item_factors
    if user_bias is not None:
        raw = raw + user_bias[..., :, None] + item_bias[..., None, :]
    return raw


def pairs(user_factors, item_factors, user_bias=None, item_bias=None):
    """One raw prediction per row: (u·m).sum(1) for rows of user and movie factors, plus their biases."""
    raw = (user_factors * item_factors).sum(-1)
    if user_bias is not None:
        raw = raw + user_bias + item_bias
    return raw


def squash(raw, y_range: tuple[float, float] | None):
    """(prediction, σ) from raw predictions: squashed into y_range when one is given, else raw itself twice."""
    if y_range is None:
        return raw, raw
    s = sigmoid(raw)
    lo, hi = y_range
    return lo + (hi - lo) * s, s


def squash_slope(s, y_range: tuple[float, float]):
    """d prediction / d raw through the squashing, from σ: (hi − lo)·σ·(1 − σ)."""
    lo, hi = y_range
    return (hi - lo) * s * (1 - s)


def spreadsheet_formula(dot: str, user_bias: str | None = None, item_bias: str | None = None,
                        y_range: tuple[str, str] | None = None) -> str:
    """The same prediction as spreadsheet text, from the text of its parts (cell references or numbers)."""
    x = dot
    if user_bias is not None:
        x += f"+{user_bias}+{item_bias}"
    if y_range is not None:
        lo, hi = y_range
        x = f"{lo}+({hi}-{lo})/(1+EXP(-({x})))"
    return x
