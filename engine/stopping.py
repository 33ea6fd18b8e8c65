"""When a run or a solve is done: the named tests every part uses, so no two parts judge one curve differently.

Each test takes plain values (floats, numpy arrays, or torch tensors batched over a solver's starts) and returns a
bool or a boolean array of the same batch. Nothing here imports torch.

    settled          the race's converged and the coach's: a curve that moved by at most tol·min over a window
    little_progress  the coach's stalled: over many steps the loss fell by less than a share of where it was
    little_gain      a solver's converged: the objective gained at most tol of its value over a few iterations
    excel_converged  Excel Solver's Convergence test: each of the last iterations changed it by under tol
    flat             a stationary point: no gradient entry larger than tol
"""
from __future__ import annotations

SETTLED_WINDOW, SETTLED_TOL = 200, 1e-6  # a run has converged once its loss moved by at most 1e-6 of itself in 200 steps


def settled(window, tol: float):
    """The values moved by at most tol × their smallest over the window (last axis)."""
    low = window.min(-1)
    low = low.values if hasattr(low, "values") else low  # torch's min along an axis returns (values, indices)
    high = window.max(-1)
    high = high.values if hasattr(high, "values") else high
    return high - low <= tol * low


def little_progress(before, now, share: float):
    """The loss fell by less than share × where it was (or rose) between before and now."""
    return before - now < share * before


def little_gain(old, new, tol: float):
    """The objective went down by at most tol × its new value from old to new (or went up)."""
    return old - new <= tol * new


def excel_converged(recent, tol: float):
    """Each of the last iterations changed the objective by under tol, relatively (iterations along the first axis)."""
    changes = (recent[:-1] - recent[1:]) / recent[1:]
    return (abs(changes) < tol).all(0)


def flat(largest_gradient, tol: float):
    """No gradient entry is larger than tol."""
    return largest_gradient <= tol
