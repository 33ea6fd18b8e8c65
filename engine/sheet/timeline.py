"""A run's history as a tree of branches: the loss at every step, and checkpoints to restore any step exactly.

A Timeline wraps a Sheet and is the one way to step and change it while recording. Each branch keeps the
RMSE before every update (float64, in fixed-size chunks) and checkpoints (the sheet's state_dict) at
every multiple of `every` steps, so restoring a step loads the checkpoint at or before it and replays
fewer than `every` steps, which gives bit-identical numbers because the sheet's state_dict is exact.

Changes (optimizer or lr, a rating, a factor, held-out cells, k, Solve) are events:
- at the head of a branch they are recorded in it, with the step they happened at, and a checkpoint is
  taken right after each one. Replays therefore never re-apply a change: the latest checkpoint at or before
  a step already holds every change up to it, settings included;
- at a past step they start a new branch from there (its parent keeps its history), so every branch is a
  straight run whose settings may change at recorded steps; any branch can be resumed, none is dropped.

Stepping from a past step with nothing changed follows the recorded branch (a redo) until its head,
then records as usual. A position is (branch, step); steps before a branch's fork belong to its ancestors.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import numpy as np
import torch

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.sheet.sheet import Sheet, StepResult

EVERY = 200  # steps between checkpoints: restoring any step replays fewer than this many
CHUNK = 4096  # losses per stored chunk

T = TypeVar("T")


class Series:
    """A growing float64 array kept in fixed-size chunks, so appending never copies what is stored."""

    def __init__(self, chunk: int = CHUNK) -> None:
        self.chunk = chunk
        self._chunks: list[np.ndarray] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, values: np.ndarray) -> None:
        """Append values at the end."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        while len(values):
            at = self._n % self.chunk
            if at == 0:
                self._chunks.append(np.empty(self.chunk))
            take = min(self.chunk - at, len(values))
            self._chunks[-1][at:at + take] = values[:take]
            self._n, values = self._n + take, values[take:]

    def array(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """A copy of values[start:stop]."""
        stop = self._n if stop is None else min(stop, self._n)
        if start >= stop:
            return np.empty(0)
        first, last = start // self.chunk, (stop - 1) // self.chunk
        joined = np.concatenate(self._chunks[first:last + 1])
        return joined[start - first * self.chunk:stop - first * self.chunk].copy()

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._chunks)


@dataclass(frozen=True)
class Event:
    """A change recorded in a branch: at which step, what kind, and one line that says what."""

    step: int
    kind: str  # "settings", "rating", "param", "holdout", "config", "solve", "diverged", or a caller's own
    text: str


@dataclass
class Branch:
    """One straight run: where it forked from, the settings in force from each step, its losses and checkpoints."""

    id: int
    parent: int | None  # None for a root (a fresh run)
    fork: int  # the step it starts at: its first loss is the loss at this step
    segments: list[tuple[int, OptimizerSettings]]  # (from step, settings), in step order
    events: list[Event] = field(default_factory=list)
    losses: Series = field(default_factory=Series)  # RMSE before each update, from step `fork` on
    holdout_losses: Series = field(default_factory=Series)  # held-out RMSE at the same steps, NaN when none held out
    checkpoints: dict[int, dict] = field(default_factory=dict, repr=False)  # step -> Sheet.state_dict()
    _marks: list[int] = field(default_factory=list, repr=False)  # checkpoint steps, ascending

    @property
    def end(self) -> int:
        """The step of its head: the number of updates applied at its newest state."""
        return self.fork + len(self.losses)

    def settings_at(self, step: int) -> OptimizerSettings:
        """The settings in force for the update at `step`."""
        starts = [s for s, _ in self.segments]
        return self.segments[max(bisect.bisect_right(starts, step) - 1, 0)][1]

    @property
    def label(self) -> str:
        first = self.segments[0][1]
        return f"{first.label} · lr {first.lr:g}" + (" …" if len(self.segments) > 1 else "")

    def checkpoint_at_or_before(self, step: int) -> int:
        """The step of the latest checkpoint at or before `step`."""
        return self._marks[bisect.bisect_right(self._marks, step) - 1]

    def keep(self, step: int, state: dict) -> None:
        """Store a checkpoint (replacing one at the same step: a change's state supersedes the one before it)."""
        if step not in self.checkpoints:
            bisect.insort(self._marks, step)
        self.checkpoints[step] = state


@dataclass(frozen=True)
class BranchView:
    """A branch for the GUI: plain values, no arrays (ask Timeline.curve for those)."""

    id: int
    parent: int | None
    fork: int
    end: int
    label: str
    segments: tuple[tuple[int, OptimizerSettings], ...]
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Curve:
    """Losses by step: steps[i] is the step whose RMSE (before its update) is losses[i]."""

    steps: np.ndarray  # int64
    losses: np.ndarray  # float64
    holdout: np.ndarray  # float64, NaN where no cells were held out


class Timeline:
    """Records a Sheet's run as a tree of branches; steps, changes and restores go through it."""

    def __init__(self, sheet: Sheet, every: int = EVERY) -> None:
        if every < 1:
            raise ValueError(f"checkpoints must be at least 1 step apart, got {every}")
        self.sheet, self.every = sheet, every
        self.branches: list[Branch] = []
        self._shared: tuple[np.ndarray, np.ndarray] | None = None  # ratings and held-out mask the checkpoints share
        self._root()

    # --- where we are ------------------------------------------------------------------------
    @property
    def branch(self) -> Branch:
        """The branch being followed (the position's branch)."""
        return self._branch

    @property
    def position(self) -> tuple[int, int]:
        """(branch id, step) of the sheet's current state."""
        return self._branch.id, self.sheet.steps

    @property
    def at_head(self) -> bool:
        """Whether the sheet is at its branch's newest state (steps there are recorded, changes join the branch)."""
        return self.sheet.steps == self._branch.end

    def path(self, branch: int | None = None) -> list[tuple[Branch, int]]:
        """The branches from the root to `branch` (current by default), each with the step it owns the path from."""
        b = self._get(branch)
        chain = [b]
        while chain[-1].parent is not None:
            chain.append(self.branches[chain[-1].parent])
        chain.reverse()
        return [(c, c.fork) for c in chain]

    def owner(self, step: int, branch: int | None = None) -> Branch:
        """The branch on the path to `branch` whose history holds `step` (a child owns its fork step)."""
        owner = None
        for b, start in self.path(branch):
            if start <= step:
                owner = b
        if owner is None:
            raise ValueError(f"step {step} is before the start of this run (step {self.path(branch)[0][1]})")
        return owner

    # --- stepping ----------------------------------------------------------------------------
    def step(self, n: int = 1) -> StepResult:
        """n updates: along the recorded branch while behind its head (a redo), then recorded at the head."""
        if n < 0:
            raise ValueError(f"steps must not be negative, got {n}")
        parts: list[StepResult] = []
        start = self.sheet.steps
        if start < self._branch.end:
            target = min(start + n, self._branch.end)
            self.seek(target)
            curve = self.curve(self._branch.id, start, target, path=True)
            parts.append(StepResult(target - start, curve.losses, holdout_losses=curve.holdout))
            n -= target - start
        while n > 0:
            now = self.sheet.steps
            result = self.sheet.step(min(n, self.every - now % self.every))
            self._record(result)
            parts.append(result)
            n -= result.steps
            if result.diverged:
                break
            if self.sheet.steps % self.every == 0:
                self._keep(self._branch)
        return _joined(parts)

    def _record(self, result: StepResult) -> None:
        b = self._branch
        b.losses.extend(result.losses)
        held = result.holdout_losses if result.holdout_losses is not None else np.full(result.steps, np.nan)
        b.holdout_losses.extend(held)
        if result.diverged and not (b.events and b.events[-1].kind == "diverged" and b.events[-1].step == b.end):
            b.events.append(Event(b.end, "diverged", f"diverged at step {b.end + 1}: kept the factors of step {b.end}"))

    def seek(self, step: int, branch: int | None = None) -> None:
        """Make the sheet exactly what it was at `step` on the path to `branch` (the current one by default)."""
        target = self._get(branch)
        if step > target.end:
            raise ValueError(f"step {step} is past the head of branch {target.id} (step {target.end})")
        owner = self.owner(step, target.id)
        mark = owner.checkpoint_at_or_before(step)
        now = self.sheet.steps
        if not (target is self._branch and owner is self.owner(now) and mark <= now <= step):
            self.sheet.load_state_dict(owner.checkpoints[mark])
            now = mark
        self._branch = target
        if step > now:
            self.sheet.step(step - now)
            if self.sheet.steps != step:  # the recorded run got there: a replay that does not is a bug
                raise RuntimeError(f"replaying branch {owner.id} stopped at step {self.sheet.steps}, not {step}")

    def resume(self, branch: int) -> None:
        """Go to a branch's head, to go on from where it stopped."""
        self.seek(self._get(branch).end, branch)

    # --- changes -----------------------------------------------------------------------------
    def change(self, kind: str, text: str, apply: Callable[[Sheet], T]) -> T:
        """Apply a change to the sheet and record it: in the branch at its head, else in a new branch from here."""
        b, step = self._branch, self.sheet.steps
        result = apply(self.sheet)
        if self.sheet.steps != step:
            raise RuntimeError(f"a {kind} change must not change the step count (use reset)")
        if step < b.end:
            b = self._fork(self.owner(step), step)
        b.events.append(Event(step, kind, text))
        if self.sheet.settings != b.settings_at(step):
            if b.segments[-1][0] == step:
                b.segments.pop()
            b.segments.append((step, self.sheet.settings))
        self._keep(b)
        return result

    def set_optimizer(self, settings: OptimizerSettings) -> None:
        """Switch rule or settings here (a no-op when nothing differs)."""
        if settings != self.sheet.settings:
            self.change("settings", f"{settings.label}, lr {settings.lr:g}", lambda s: s.set_optimizer(settings))

    def rewind(self, step: int, settings: OptimizerSettings) -> None:
        """Go back to `step` and go on from there with other settings: a new branch (the coach's fix)."""
        self.seek(step)
        self.set_optimizer(settings)

    def set_rating(self, i: int, j: int, value: float | None) -> None:
        """Type a rating (None blanks it)."""
        text = f"rating ({i}, {j}) {'blank' if value is None else f'= {value:g}'}"
        self.change("rating", text, lambda s: s.set_rating(i, j, value))

    def set_param(self, block: str, index: tuple[int, ...], value: float) -> None:
        """Type a factor or bias."""
        self.change("param", f"{block.replace('_', ' ')} {index} = {value:g}", lambda s: s.set_param(block, index, value))

    def set_holdout(self, fraction: float = 0.2, seed: int = 0) -> None:
        """Hold out a seeded fraction of the rated cells."""
        self.change("holdout", f"held out {fraction:.0%} of the ratings (seed {seed})",
                    lambda s: s.set_holdout(fraction, seed))

    def clear_holdout(self) -> None:
        """Put the held-out cells back."""
        self.change("holdout", "no cells held out", lambda s: s.clear_holdout())

    def reconfigure(self, config: SheetConfig) -> None:
        """Change k, biases or squashing, keeping the run."""
        text = f"k={config.k}{', biases' if config.biases else ''}{', squashed' if config.squash else ''}"
        self.change("config", text, lambda s: s.reconfigure(config))

    def solve(self, **options):
        """Solve from here (options as Sheet.solve); recorded as a change: the factors jump."""
        return self.change("solve", "solved", lambda s: s.solve(**options))

    def reset(self, seed: int | None = None) -> None:
        """New random factors and a fresh optimizer: a new root branch (the old tree stays)."""
        self.sheet.reset(seed)
        self._root()

    # --- reading -----------------------------------------------------------------------------
    def curve(self, branch: int | None = None, start: int | None = None, stop: int | None = None,
              path: bool = False) -> Curve:
        """Losses of a branch's own steps from `start` to `stop` (its fork to its head by default); with path=True,
        the whole history that leads to it, ancestors' steps included."""
        b = self._get(branch)
        pieces = self.path(b.id) if path else [(b, b.fork)]
        first = pieces[0][1] if start is None else start
        last = b.end if stop is None else stop
        steps, losses, held = [], [], []
        for i, (owner, since) in enumerate(pieces):
            until = pieces[i + 1][1] if i + 1 < len(pieces) else owner.end
            lo, hi = max(since, first), min(until, last)
            if lo < hi:
                steps.append(np.arange(lo, hi))
                losses.append(owner.losses.array(lo - owner.fork, hi - owner.fork))
                held.append(owner.holdout_losses.array(lo - owner.fork, hi - owner.fork))
        if not steps:
            return Curve(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))
        return Curve(np.concatenate(steps), np.concatenate(losses), np.concatenate(held))

    def view(self) -> tuple[BranchView, ...]:
        """The tree as plain values: each branch's parent, fork step, head step, settings segments and events."""
        return tuple(BranchView(b.id, b.parent, b.fork, b.end, b.label, tuple(b.segments), tuple(b.events))
                     for b in self.branches)

    def nbytes(self) -> int:
        """Bytes of the recorded numbers: losses, and the checkpoints' tensors and arrays (shared arrays once)."""
        seen: set[int] = set()
        total = 0
        for b in self.branches:
            total += b.losses.nbytes + b.holdout_losses.nbytes
            for state in b.checkpoints.values():
                for value in _leaves(state):
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                    if isinstance(value, torch.Tensor):
                        total += value.numel() * value.element_size()
                    elif isinstance(value, np.ndarray):
                        total += value.nbytes
        return total

    # --- bookkeeping -------------------------------------------------------------------------
    def _get(self, branch: int | None) -> Branch:
        if branch is None:
            return self._branch
        if not 0 <= branch < len(self.branches):
            raise ValueError(f"there is no branch {branch}; branches are 0 to {len(self.branches) - 1}")
        return self.branches[branch]

    def _root(self) -> None:
        b = Branch(len(self.branches), None, self.sheet.steps, [(self.sheet.steps, self.sheet.settings)])
        self.branches.append(b)
        self._branch = b
        self._keep(b)

    def _fork(self, parent: Branch, step: int) -> Branch:
        b = Branch(len(self.branches), parent.id, step, [(step, self.sheet.settings)])
        self.branches.append(b)
        self._branch = b
        return b

    def _keep(self, branch: Branch) -> None:
        """Checkpoint the sheet's current state into branch, sharing ratings and mask with the last checkpoint."""
        state = self.sheet.state_dict()
        shared = self._shared
        if shared is None or not (np.array_equal(shared[0], state["ratings"], equal_nan=True)
                                  and np.array_equal(shared[1], state["holdout"])):
            shared = self._shared = (state["ratings"], state["holdout"])
        state["ratings"], state["holdout"] = shared
        branch.keep(self.sheet.steps, state)


def _joined(parts: list[StepResult]) -> StepResult:
    """Several StepResults as one."""
    if not parts:
        return StepResult(0, np.empty(0), holdout_losses=np.empty(0))
    held = [p.holdout_losses if p.holdout_losses is not None else np.full(p.steps, np.nan) for p in parts]
    return StepResult(sum(p.steps for p in parts), np.concatenate([p.losses for p in parts]),
                      diverged=parts[-1].diverged, holdout_losses=np.concatenate(held))


def _leaves(state: dict):
    for value in state.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value
