"""Solve the sheet like Excel's Solver: a Newton-type local search, run from several starts.

Excel's GRG Nonlinear finds a local minimum from the cells' current values; with Multistart it
also tries random starts and keeps the best. The factorization's loss needs that: besides its
true minima it has valleys that slope gently down forever (factors growing without bound), and
a descent that enters one crawls. The local search is Levenberg–Marquardt (Gauss–Newton with
damping, made for sums of squares; its step by the Schur complement, engine.schur), all starts at
once as one batch, while the dense Jacobian is affordable; beyond that, L-BFGS with a strong-Wolfe
line search from the current values. Starts race in rounds and only the best quarter goes on
(successive halving): a start bound for a good minimum shows it within a few dozen Marquardt
iterations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from engine import schur

DENSE_BUDGET = 2e8  # Marquardt while starts × params³/3 (what a dense Cholesky of JᵀJ would cost) stays under this
ROUND = 20  # iterations per round of successive halving: after each, the best quarter of the starts go on
CHUNK = 10  # iterations between progress reports and stop checks
TOL = 1e-7  # converged when WINDOW iterations together improve the loss by less than this, relatively
WINDOW = 5


@dataclass(frozen=True)
class Problem:
    """The sheet's loss, as the solver sees it."""

    loss_and_gradient: Callable  # (param views, gradient views) -> MSE, writing the gradient
    residuals_and_jacobian: Callable  # θ (batch, P) -> residual per rated cell, Jacobian values and their columns
    split: Callable  # θ -> named views of its blocks
    count: int  # rated cells: MSE = sum of squares / count
    blocks: schur.Blocks  # whose parameters each Jacobian value belongs to, for Marquardt's step


@dataclass
class Outcome:
    """What the solver found."""

    theta: torch.Tensor
    iterations: int
    converged: bool
    stopped: bool


class Marquardt:
    """Levenberg–Marquardt for a batch of starts: (JᵀJ + λI)·δ = −Jᵀr, each start's λ set by its gain ratio."""

    def __init__(self, starts: torch.Tensor, problem: Problem):
        self.problem, self.x = problem, starts.clone()
        # Each start keeps its residuals and compact Jacobian, far smaller than JᵀJ; schur.step builds the rest.
        self.r, self.jac = self._evaluate(self.x)
        self.sse = torch.linalg.vecdot(self.r, self.r)
        self.lam = torch.full_like(self.sse, 1e-3)
        self.nu = torch.full_like(self.sse, 2.0)
        self.history = [self.sse]
        self.iterations = 0
        self.converged = torch.zeros_like(self.sse, dtype=torch.bool)

    def _evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residuals and the Jacobian's values at x."""
        r, values, _ = self.problem.residuals_and_jacobian(x)
        return r, values

    @property
    def mse(self) -> torch.Tensor:
        return torch.nan_to_num(self.sse / self.problem.count, nan=float("inf"))

    def keep(self, index: torch.Tensor) -> None:
        """Drop all starts but those at index."""
        self.x, self.r, self.jac, self.sse = self.x[index], self.r[index], self.jac[index], self.sse[index]
        self.lam, self.nu, self.converged = self.lam[index], self.nu[index], self.converged[index]
        self.history = [h[index] for h in self.history]

    def iterate(self) -> None:
        step, slope = schur.step(self.problem.blocks, self.r, self.jac, self.lam)
        trial = self.x + step
        r, jac = self._evaluate(trial)
        sse = torch.linalg.vecdot(r, r)
        # What the quadratic model promised, −(2δ·Jᵀr + δ·JᵀJδ); the gain ratio compares it with what happened.
        # As (JᵀJ + λI)δ = −Jᵀr, δ·JᵀJδ = −δ·Jᵀr − λ|δ|²: no product with JᵀJ needed.
        promised = self.lam * torch.linalg.vecdot(step, step) - slope
        gain = torch.where(promised > 0, (self.sse - sse) / promised, -1.0)
        ok = gain > 0
        self.x = torch.where(ok[:, None], trial, self.x)
        self.sse = torch.where(ok, sse, self.sse)
        self.r = torch.where(ok[:, None], r, self.r)
        self.jac = torch.where(ok[:, None, None], jac, self.jac)
        shrink = torch.clamp(1 - (2 * gain - 1) ** 3, min=1 / 3)
        self.lam = self.lam * torch.where(ok, shrink, self.nu)
        self.nu = torch.where(ok, 2.0, self.nu * 2)
        self.history.append(self.sse)
        self.iterations += 1
        if len(self.history) > WINDOW:
            old = self.history[-WINDOW - 1]
            self.converged = (old - self.sse <= TOL * self.sse) | (self.lam > 1e16)


class Lbfgs:
    """L-BFGS with a strong-Wolfe line search from one start, for sheets too big for Marquardt."""

    def __init__(self, starts: torch.Tensor, problem: Problem):
        self.problem, self.x = problem, starts[0].clone()
        self._p, self._g = problem.split(self.x), problem.split(torch.zeros_like(self.x))
        self.lbfgs = torch.optim.LBFGS([self.x], lr=1, max_iter=CHUNK, max_eval=CHUNK * 25, history_size=20,
                                       tolerance_grad=1e-10, tolerance_change=1e-15, line_search_fn="strong_wolfe")
        self.history = [float(self._closure())]
        self.iterations = 0
        self.converged = torch.tensor([False])

    def _closure(self) -> torch.Tensor:
        mse = self.problem.loss_and_gradient(self._p, self._g)
        self.x.grad = torch.cat([g.reshape(-1) for g in self._g.values()])
        return mse

    @property
    def mse(self) -> torch.Tensor:
        return torch.tensor([self.history[-1]])

    def iterate(self) -> None:
        """One chunk of iterations (torch's L-BFGS runs up to CHUNK per call)."""
        self.lbfgs.step(self._closure)
        done = self.lbfgs.state[self.x]["n_iter"] - self.iterations
        self.iterations += done
        self.history.append(float(self.problem.loss_and_gradient(self._p, self._g)))
        stalled = self.history[-2] - self.history[-1] <= TOL * self.history[-1]
        flat = float(self.x.grad.abs().max()) <= 1e-10  # L-BFGS's own test for a stationary point
        self.converged = torch.tensor([stalled or flat])


def multistart(problem: Problem, starts: torch.Tensor, max_iter: int = 2000,
               progress: Callable[[int, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> Outcome:
    """The best minimum found from the starts (a batch, the current values first), by successive halving."""
    batch, params = starts.shape
    dense = batch * params**3 / 3 <= DENSE_BUDGET
    run = Marquardt(starts, problem) if dense else Lbfgs(starts, problem)
    total = 0
    while True:
        alive = len(run.x) if dense else 1
        budget = max_iter - total if alive == 1 else ROUND
        for _ in range(budget if dense else -(-budget // CHUNK)):
            if bool(run.converged.all()):
                break
            before = run.iterations
            run.iterate()
            total += run.iterations - before
            if progress and (total % CHUNK == 0 or not dense):
                progress(total, float(run.mse.min()) ** 0.5)
            if should_stop and should_stop():
                return _best(run, total, stopped=True)
        if alive == 1 or total >= max_iter:
            return _best(run, total, stopped=False)
        run.keep(run.mse.argsort()[: max(1, alive // 4)])


def _best(run, total: int, stopped: bool) -> Outcome:
    i = int(run.mse.argmin())
    theta = run.x[i] if run.x.dim() > 1 else run.x
    return Outcome(theta.detach().clone(), total, bool(run.converged[i]), stopped)
