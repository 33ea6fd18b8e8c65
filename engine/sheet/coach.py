"""The divergence coach: reads a run's losses and says whether it diverges, oscillates or stalls.

Each verdict comes with its evidence in one line ("loss rose 12 steps in a row from step 480; the largest
gradient was on user 393's factors") and the fixes to offer as data: a step to go back to and the settings
to go on with from there, which Timeline.rewind(step, settings) turns into a new branch.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from collabsheet.engine import stopping
from collabsheet.engine.config import OptimizerSettings

if TYPE_CHECKING:
    from collabsheet.engine.sheet.snapshot import Snapshot

RISE = 10  # this many rising steps in a row (by RISE_BY in all) mean the run diverges
RISE_BY = 0.01  # … relatively: momentum's ringing rises a little for a few steps and comes back
WINDOW = 100  # the steps an oscillation is judged over
UPS = 0.3  # oscillating: at least this share of the window's steps went up …
STALL = 500  # stalled: over this many steps …
PROGRESS = 1e-3  # … the loss fell by less than this, relatively
FLAT = 1e-6  # converged rather than stalled: no gradient entry larger than this
JUMP = 3.0  # one step that multiplies the loss by more than this, not undone since, is a divergence too: under the
# sigmoid a far too large lr cannot blow the loss up (it saturates near the ratings' spread) nor keep it rising
CALM = 1.5  # a diverging run's fix goes back to the last step whose loss was within this factor of the best so far
SWITCH = {"sgd": "adam", "momentum": "adam", "rmsprop": "adam", "adam": "momentum", "adamw": "momentum"}
SWITCH_LR = 0.01  # the learning rate a switched-to optimizer starts with


@dataclass(frozen=True)
class Fix:
    """A fix the GUI can offer as a button: go back to `step` and go on with `settings` (a new branch)."""

    label: str
    step: int
    settings: OptimizerSettings


@dataclass(frozen=True)
class Diagnosis:
    """What the coach sees."""

    kind: str  # "diverging", "oscillating", "stalled" or "converged"
    evidence: str  # one line
    step: int  # the last good step: where the trouble began
    fixes: tuple[Fix, ...]
    cell: tuple[str, tuple[int, ...]] | None = None  # (block, index) of the largest gradient, to highlight


def diagnose(losses: np.ndarray, settings: OptimizerSettings, start: int = 0, grads: dict | None = None,
             user_ids: tuple = (), titles: tuple = (), diverged: bool = False, stall: int = STALL) -> Diagnosis | None:
    """The coach's verdict on losses[i] = the RMSE at step start + i (None when the run looks healthy).

    grads are the latest gradient by block (a Snapshot's), user_ids and titles name rows and columns in the
    evidence; diverged says the sheet refused a step."""
    losses = np.asarray(losses, dtype=np.float64)
    cell, where = _largest(grads, user_ids, titles)
    blame = f"; the largest gradient was on {where}" if where else ""
    if not len(losses):
        if not diverged:
            return None
        text = f"the first step from step {start} blew the loss up, and the sheet refused it{blame}"
        return _verdict("diverging", text, start, settings, cell)
    last = start + len(losses) - 1
    finite = np.isfinite(losses)
    if not finite.all():
        bad = int(np.argmax(~finite))
        return _verdict("diverging", f"the loss became {losses[bad]} at step {start + bad}{blame}",
                        start + _calm(losses[:bad]) if bad else start, settings, cell)
    jump = _jump(losses)
    if jump is not None:
        text = (f"the loss jumped ×{losses[jump + 1] / losses[jump]:.3g} in one step after step {start + jump} "
                f"({losses[jump]:.4g} → {losses[jump + 1]:.4g}) and has not come back ({losses[-1]:.4g} now){blame}")
        return _verdict("diverging", text, start + _calm(losses[:jump + 1]), settings, cell)
    rise = _rising_run(losses)
    if rise >= RISE and losses[-1] > losses[-1 - rise] * (1 + RISE_BY):
        begin = len(losses) - 1 - rise
        text = (f"loss rose {rise} steps in a row from step {start + begin} "
                f"({losses[begin]:.4g} → {losses[-1]:.4g}){blame}")
        return _verdict("diverging", text, start + _calm(losses[:begin + 1]), settings, cell)
    if diverged:
        text = f"the step after step {last + 1} blew the loss up, and the sheet refused it{blame}"
        return _verdict("diverging", text, start + _calm(losses), settings, cell)
    if len(losses) > WINDOW:
        window = losses[-WINDOW - 1:]
        steps = np.diff(window)
        ups = int((steps > 0).sum())
        climbed, fell = float(steps[steps > 0].sum()), float(window[0] - window[-1])
        if ups >= UPS * WINDOW and climbed >= fell:
            best = last - WINDOW + int(np.argmin(window))
            text = (f"the loss went up in {ups} of the last {WINDOW} steps, between {window.min():.4g} and "
                    f"{window.max():.4g}, and is {'higher' if fell < 0 else 'barely lower'} than {WINDOW} steps "
                    f"ago{blame}")
            return _verdict("oscillating", text, best, settings, cell)
    if len(losses) > stall:
        before, now = float(losses[-stall - 1]), float(losses[-1])
        if stopping.little_progress(before, now, PROGRESS):
            change = f"{(before - now) / before:.2%}" if before > now else "nothing"
            if grads is not None and stopping.flat(_largest_value(grads), FLAT):
                text = f"the loss fell {change} in the last {stall} steps and the gradient is zero to {FLAT:g}"
                return Diagnosis("converged", text, last + 1, (), cell)
            text = f"the loss fell {change} in the last {stall} steps ({before:.4g} → {now:.4g}){blame}"
            return _stalled(text, last + 1, settings, cell)
    return None


def diagnose_snapshot(losses: np.ndarray, snap: Snapshot, start: int = 0, stall: int = STALL) -> Diagnosis | None:
    """diagnose() with the settings, gradient, names and divergence of the sheet's snapshot at the run's end."""
    return diagnose(losses, snap.settings, start, snap.grads, snap.user_ids, snap.titles, snap.diverged, stall)


def _calm(losses: np.ndarray) -> int:
    """The last index whose loss was within CALM × the lowest loss up to it: where the trouble began.

    Not the step before a refused one: a chaotic run wanders far from its best before it is refused, and from
    there even a tenth of the learning rate may not recover (tests/test_coach.py)."""
    calm = np.flatnonzero(losses <= CALM * np.minimum.accumulate(losses))
    return int(calm[-1]) if len(calm) else 0


def _verdict(kind: str, evidence: str, step: int, h: OptimizerSettings, cell) -> Diagnosis:
    """Diverging or oscillating: go back to where it was last calm with lr ÷ 10, or with another optimizer."""
    other = OptimizerSettings(SWITCH[h.name], lr=min(SWITCH_LR, h.lr), weight_decay=h.weight_decay)
    fixes = (Fix(f"Rewind to step {step} with lr ÷ 10 ({h.lr / 10:g})", step, replace(h, lr=h.lr / 10)),
             Fix(f"Rewind to step {step} and switch to {other.label} (lr {other.lr:g})", step, other))
    return Diagnosis(kind, evidence, step, fixes, cell)


def _stalled(evidence: str, step: int, h: OptimizerSettings, cell) -> Diagnosis:
    """Stalled: go on from here with lr × 10, or with another optimizer."""
    other = OptimizerSettings(SWITCH[h.name], lr=SWITCH_LR, weight_decay=h.weight_decay)
    fixes = (Fix(f"Go on from step {step} with lr × 10 ({h.lr * 10:g})", step, replace(h, lr=h.lr * 10)),
             Fix(f"Go on from step {step} with {other.label} (lr {other.lr:g})", step, other))
    return Diagnosis("stalled", evidence, step, fixes, cell)


def _jump(losses: np.ndarray) -> int | None:
    """The step before the first one-step rise by more than JUMP×, when the loss is still above CALM × its best
    before that rise (a spike the run has recovered from is no verdict); None otherwise."""
    if len(losses) < 2:
        return None
    before = losses[:-1]
    jumps = np.flatnonzero(losses[1:] > JUMP * np.where(before > 0, before, np.inf))
    if not len(jumps):
        return None
    j = int(jumps[0])
    return j if losses[-1] > CALM * float(np.min(losses[:j + 1])) else None


def _rising_run(losses: np.ndarray) -> int:
    """How many steps in a row the loss rose, up to its last value."""
    falls = np.flatnonzero(np.diff(losses) <= 0)
    return len(losses) - 1 - (int(falls[-1]) + 1 if len(falls) else 0)


def _largest_value(grads: dict) -> float:
    return max((float(np.abs(g).max()) for g in grads.values() if g is not None and np.size(g)), default=0.0)


def _largest(grads: dict | None, user_ids: tuple, titles: tuple) -> tuple[tuple[str, tuple] | None, str]:
    """The block and index of the largest gradient entry (NaN counts as largest), and whose parameter it is."""
    best = None
    for block, g in (grads or {}).items():
        if g is None or not np.size(g):
            continue
        size = np.nan_to_num(np.abs(np.asarray(g, dtype=np.float64)), nan=np.inf)
        index = np.unravel_index(int(np.argmax(size)), size.shape)
        if best is None or size[index] > best[0]:
            best = (size[index], block, tuple(int(i) for i in index))
    if best is None:
        return None, ""
    _, block, index = best
    return (block, index), _whose(block, index, user_ids, titles)


def _whose(block: str, index: tuple[int, ...], user_ids: tuple, titles: tuple) -> str:
    """A parameter cell in words: "user 393's factors", "the bias of Star Wars (1977)"."""
    if block.startswith("user"):
        i = index[0]
        who = f"user {user_ids[i]}" if i < len(user_ids) else f"user row {i + 1}"
        return f"{who}'s {'factors' if block == 'user_factors' else 'bias'}"
    j = index[-1]
    movie = titles[j] if j < len(titles) else f"movie column {j + 1}"
    return f"the {'factors' if block == 'item_factors' else 'bias'} of {movie}"
