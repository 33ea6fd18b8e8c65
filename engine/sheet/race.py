"""A race: several optimizers from the same starting factors, side by side, as ONE batched sheet.

Each racer is a copy of the sheet's θ with a fresh optimizer of its own rule and settings; all are stepped
together by engine.sheet.batched. A racer stops when it converges (its RMSE moved by less than `tol`,
relatively, over the last `window` steps), diverges (it keeps its last good state, as a Sheet does: the first
step whose MSE is not finite or passes the Sheet's bound) or reaches the step limit; stopped racers leave the
batch. Checks come every CHUNK steps, so a racer that converges stops at the end of a chunk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.device import threads_for
from collabsheet.engine.sheet.batched import BatchedSheet, first_unhealthy
from collabsheet.engine.sheet.sheet import Sheet, divergence_bound
from collabsheet.engine.sheet.timeline import Series
from collabsheet.engine.stopping import SETTLED_TOL, SETTLED_WINDOW, settled
from collabsheet.engine.task import Task

CHUNK = 200  # steps between checks for divergence and convergence
WINDOW, TOL = SETTLED_WINDOW, SETTLED_TOL  # converged: the RMSE moved by at most TOL·RMSE over the last WINDOW steps

RUNNING, CONVERGED, DIVERGED, LIMIT = "running", "converged", "diverged", "limit"


@dataclass
class Racer:
    """One optimizer in the race: its settings, how far it got and why it stopped."""

    settings: OptimizerSettings
    losses: Series  # RMSE before each of its updates
    steps: int = 0
    status: str = RUNNING
    theta: torch.Tensor | None = None  # the sheet's layout, once stopped
    state: dict | None = None  # its optimizer state in the Sheet's form, once stopped

    @property
    def label(self) -> str:
        return f"{self.settings.label} {self.settings.lr:g}"


@dataclass(frozen=True)
class RacerView:
    """A racer for the GUI and the command line, in plain numpy."""

    index: int
    label: str
    settings: OptimizerSettings
    steps: int
    status: str  # running, converged, diverged or limit
    rmse: float
    holdout_rmse: float  # NaN when the sheet holds no cells out
    losses: np.ndarray  # RMSE before each update
    predictions: np.ndarray  # (users, movies) every cell's prediction


class Race:
    """Racers from the sheet's current factors, each with a fresh optimizer, stepped as one batch."""

    def __init__(self, sheet: Sheet, racers: Sequence[OptimizerSettings], max_steps: int = 10_000,
                 window: int = WINDOW, tol: float = TOL) -> None:
        if not racers:
            raise ValueError("a race needs at least one optimizer")
        if max_steps < 1 or window < 2:
            raise ValueError(f"the step limit must be positive and the window at least 2, got {max_steps}, {window}")
        self.sheet, self.model = sheet, sheet.model
        self.max_steps, self.window, self.tol = max_steps, window, tol
        self.start_steps = sheet.steps
        self.bound = divergence_bound(sheet.rmse(), self.model.spread)  # as the sheet's, once it takes a racer's settings
        self.held = sheet.held  # the held-out cells, scored in views()
        self.racers = [Racer(h, Series()) for h in racers]
        self.live = list(range(len(racers)))  # the racers in the batch, in its order
        start = sheet.theta.detach().expand(len(racers), -1)
        self.batch = BatchedSheet(self.model, racers, start)
        self.steps = 0  # steps every live racer has taken

    @property
    def done(self) -> bool:
        return not self.live

    def step(self, n: int = CHUNK) -> int:
        """Advance every live racer by up to n steps (fewer at the limit); returns the steps taken."""
        n = min(n, self.max_steps - self.steps)
        done = 0
        with threads_for(self.model.device, self.model.work):  # as a lone sheet computes: the same kernel, the same threads
            while done < n and not self.done:
                k = min(n - done, CHUNK)
                self._chunk(k)
                done += k
        return done

    def run(self, task: Task | None = None) -> None:
        """Step until every racer has stopped or the task is cancelled (read between chunks).

        The task hears the figures `steps` and `racing` (racers still running) and the share of max_steps done."""
        task = task or Task()
        while not self.done and not task.cancelled:
            self.step(CHUNK)
            task.report(fraction=self.steps / self.max_steps, steps=self.steps, racing=len(self.live))

    def _chunk(self, n: int) -> None:
        """n steps of every live racer, then judge each: diverged, converged, at the limit or running."""
        saved = self.batch.save()
        mse, _ = self.batch.run(n)  # before each update, and after the last: its health, as a Sheet checks it
        first_bad = first_unhealthy(mse, self.bound)  # the first unhealthy θ_j, j ≥ 1; 0: none
        rmse = np.sqrt(mse[:n])
        stopped: dict[int, str] = {}
        for b, i in enumerate(self.live):
            racer, j = self.racers[i], int(first_bad[b])
            kept = n if j == 0 else j - 1
            racer.losses.extend(rmse[:kept, b])
            racer.steps += kept
            if j:
                stopped[b] = DIVERGED
            elif self._converged(racer):
                stopped[b] = CONVERGED
            elif self.steps + n >= self.max_steps:
                stopped[b] = LIMIT
        self.steps += n
        diverged = {b: int(first_bad[b]) - 1 for b, why in stopped.items() if why == DIVERGED}
        if diverged:
            self._rewind(saved, diverged)
        if stopped:
            self._retire(stopped)

    def _converged(self, racer: Racer) -> bool:
        if len(racer.losses) < self.window:
            return False
        return bool(settled(racer.losses.array(len(racer.losses) - self.window), self.tol))

    def _rewind(self, saved: tuple, stops: dict[int, int]) -> None:
        """Diverged racers keep the state of their last good step: replay the chunk from its start to capture it."""
        ended = self.batch.save()
        self.batch.restore(saved)
        at = 0
        for stop in sorted(set(stops.values())):
            if stop > at:
                self.batch.run(stop - at)
            at = stop
            for b, s in stops.items():
                if s == stop:
                    racer = self.racers[self.live[b]]
                    racer.theta, racer.state = self.batch.state(b)
        self.batch.restore(ended)

    def _retire(self, stopped: dict[int, str]) -> None:
        """Take stopped racers out of the batch."""
        for b, why in stopped.items():
            racer = self.racers[self.live[b]]
            racer.status = why
            if why != DIVERGED:
                racer.theta, racer.state = self.batch.state(b)
        keep = [b for b in range(len(self.live)) if b not in stopped]
        self.live = [self.live[b] for b in keep]
        if keep:
            self.batch = self.batch.select(keep)

    # --- reading -----------------------------------------------------------------------------
    def _now(self, i: int) -> tuple[torch.Tensor, dict]:
        """Racer i's θ and optimizer state now: where it stopped, or its row of the batch."""
        racer = self.racers[i]
        if racer.theta is not None:
            return racer.theta, racer.state
        return self.batch.state(self.live.index(i))

    def theta_of(self, i: int) -> torch.Tensor:
        """Racer i's θ now, in the sheet's layout."""
        return self._now(i)[0]

    def state_dict(self, i: int) -> dict:
        """Racer i as a Sheet.state_dict, for the sheet to take it on (it continues exactly from there)."""
        racer = self.racers[i]
        theta, state = self._now(i)
        return {**self.sheet.state_dict(), "theta": theta.cpu().clone(), "settings": racer.settings,
                "optimizer": {k: (v.cpu().clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()},
                "steps": self.start_steps + racer.steps, "diverged": racer.status == DIVERGED}

    def views(self) -> tuple[RacerView, ...]:
        """Every racer now: its RMSE, held-out RMSE, losses and predictions, in plain numpy."""
        thetas = torch.stack([self.theta_of(i) for i in range(len(self.racers))])
        with torch.inference_mode():
            pred, _ = self.model.predict(self.model.split(thetas))
            err = (pred - self.model.r) * self.model.mask
            rmse = (err.square().sum((1, 2)) / self.model.count).sqrt().cpu().numpy()
            held = self.held.mse(pred).sqrt().cpu().numpy() if self.held is not None else np.full(len(thetas), np.nan)
            pred = pred.cpu().numpy()
        return tuple(RacerView(i, r.label, r.settings, r.steps, r.status, float(rmse[i]), float(held[i]),
                               r.losses.array(), pred[i].copy()) for i, r in enumerate(self.racers))

    def rmse_at(self, i: int, step: int) -> float:
        """Racer i's RMSE after `step` of its updates; NaN past where it stopped."""
        racer = self.racers[i]
        if step < racer.steps:
            return float(racer.losses.array(step, step + 1)[0])
        if step == racer.steps:
            return self.views()[i].rmse
        return math.nan
