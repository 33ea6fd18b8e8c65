"""Solve the sheet like Excel's Solver: a Newton-type local search, run from several starts.

Excel's GRG Nonlinear finds a local minimum from the cells' current values; with Multistart it
also tries other starts and keeps the best. The factorization's loss needs that: besides its true
minima it has valleys that slope gently down forever (factors growing without bound), and a descent
that enters one crawls. The local search is Levenberg–Marquardt (Gauss–Newton with damping, made
for sums of squares; its step by the Schur complement, engine.schur), all starts at once as one
batch, while the dense algebra is affordable. When predictions are linear in a row's parameters (no
sigmoid), every row is kept at its exact least-squares optimum for the columns' values and only the
columns are damped (variable projection): it needs a third of the iterations and far more starts
reach the best minimum. Starts race in rounds and only the best quarter goes on (successive halving).
Beyond the dense budget the current values alone are solved: by alternating least squares
(engine.sheet.solve.als) when predictions are linear, else by L-BFGS with a strong-Wolfe line search.

The objective is the one the steps descend: MSE, plus (wd/2)·‖θ‖² with weight decay (engine.sheet.solve.residuals).
The L2 term gives the loss a minimum where, without it, the valleys have none.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from collabsheet.engine import stopping
from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.sheet.batched import BatchedSheet
from collabsheet.engine.sheet.solve import schur
from collabsheet.engine.sheet.solve.als import Als, als_affordable
from collabsheet.engine.sheet.solve.residuals import RIDGE, TOL, WINDOW, Residuals, ResidualsRun, Problem, problem_of, sum_of_squares
from collabsheet.engine.task import Task

__all__ = ["Residuals", "Problem", "problem_of", "affordable", "alternate", "multistart", "Outcome"]

DENSE_BUDGET = 2e8  # Marquardt while starts × (VᵀV + Cholesky of S), in multiply-adds, stays under this
ROUND = 20  # iterations per round of successive halving (half that for projected steps, which converge faster)
CHUNK = 10  # L-BFGS iterations per call, between its progress reports (Marquardt reports every iteration)
SWEEPS = 10  # alternating least-squares sweeps that sort the starts, when predictions are linear in each side
TAU = 1e-3  # the first λ, relative to JᵀJ's largest diagonal entry


def affordable(problem: Problem, starts: int) -> bool:
    """Whether Marquardt's dense algebra for this many starts fits the budget."""
    n, m = sorted(problem.weight.shape, reverse=True)
    s = problem.users.shape[1]
    return starts * (n * s * (m * s) ** 2 + (m * s) ** 3 / 3) <= DENSE_BUDGET


@dataclass
class Outcome:
    """What the solver found, and why it ended: engine.sheet.sheet.ENDINGS."""

    theta: torch.Tensor
    iterations: int
    converged: bool
    stopped: bool
    reason: str = "converged"


class Marquardt(ResidualsRun):
    """Levenberg–Marquardt for a batch of starts: (JᵀJ + ρI + λI)·δ = −(Jᵀr + ρθ), λ per start by its gain ratio."""

    def __init__(self, starts: torch.Tensor, problem: Problem, sweeps: int = 0):
        self.grid, self.count = Residuals(problem), problem.count
        rows, cols = self.grid.sides(starts)
        if self.grid.linear:
            rows, cols = alternate(self.grid, rows, cols, sweeps)
        self.rows, self.cols = rows, cols
        self.r, self.f, self.a, self.b = self.grid.evaluate(rows, cols)
        self.sse = sum_of_squares(self.r)
        self.loss = self.sse + self.grid.penalty(rows, cols)  # the objective × count: Σr² + ρ‖θ‖²
        # Nielsen's start: λ a small fraction of JᵀJ's largest diagonal entry on the damped side.
        self.lam = TAU * (self.f * self.f).mT.matmul(self.b * self.b).amax((1, 2))
        self.nu = torch.full_like(self.sse, 2.0)
        self.history = [self.loss]
        self.iterations = 0
        self.converged = torch.zeros_like(self.sse, dtype=torch.bool)

    def keep(self, index: torch.Tensor) -> None:
        """Drop all starts but those at index."""
        for name in ("rows", "cols", "r", "a", "b", "sse", "loss", "lam", "nu", "converged"):
            setattr(self, name, getattr(self, name)[index])
        if not self.grid.linear:  # linear: f is the weights, one grid for all starts
            self.f = self.f[index]
        self.history = [h[index] for h in self.history]

    def iterate(self) -> None:
        # Projected rows sit at their optimum (their gradient is zero): only the columns need damping.
        mu = torch.full_like(self.lam, RIDGE) if self.grid.linear else self.lam
        d_rows, d_cols, slope = schur.step(self.r, self.f, self.a, self.b, mu, self.lam, self.grid.rho,
                                           self.rows, self.cols)
        cols = self.cols + d_cols
        rows = self.grid.project(self.rows, cols) if self.grid.linear else self.rows + d_rows
        r, f, a, b = self.grid.evaluate(rows, cols)
        sse = sum_of_squares(r)
        loss = sse + self.grid.penalty(rows, cols)
        # What the quadratic model promised, −(2δ·g + δ·Hδ) with H = JᵀJ + ρI and g = Jᵀr + ρθ; the gain ratio
        # compares it with what happened. As (H + Λ)δ = −g, δ·Hδ = −δ·g − δ·Λδ: no product with H needed.
        # A projection only does better.
        promised = mu * sum_of_squares(d_rows) + self.lam * sum_of_squares(d_cols) - slope
        gain = torch.where(promised > 0, (self.loss - loss) / promised, -1.0)
        ok = gain > 0
        self.rows, self.cols = _pick(ok, rows, self.rows), _pick(ok, cols, self.cols)
        self.r, self.a, self.b = _pick(ok, r, self.r), _pick(ok, a, self.a), _pick(ok, b, self.b)
        self.f = f if self.grid.linear else _pick(ok, f, self.f)  # linear: the weights, the same for all
        self.sse, self.loss = torch.where(ok, sse, self.sse), torch.where(ok, loss, self.loss)
        shrink = torch.clamp(1 - (2 * gain - 1) ** 3, min=1 / 3)
        self.lam = self.lam * torch.where(ok, shrink, self.nu)
        self.nu = torch.where(ok, 2.0, self.nu * 2)
        self.history.append(self.loss)
        self.iterations += 1
        if len(self.history) > WINDOW:
            old = self.history[-WINDOW - 1]
            self.converged = stopping.little_gain(old, self.loss, TOL) | (self.lam > 1e16)


def alternate(grid: Residuals, rows: torch.Tensor, cols: torch.Tensor,
              sweeps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Alternating least squares: the rows at their optimum for the columns, then the columns for the rows, ….

    Ends with the rows at their optimum, as Marquardt's projected steps expect.
    """
    rows, other = grid.project(rows, cols), grid.transposed()
    for _ in range(sweeps):
        cols = other.project(cols, rows)
        rows = grid.project(rows, cols)
    return rows, cols


def _pick(ok: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per start, new where its step was accepted, else old."""
    return torch.where(ok.view(-1, *[1] * (new.dim() - 1)), new, old)


class Lbfgs:
    """L-BFGS with a strong-Wolfe line search from one start, for squashed sheets too big for Marquardt."""

    per_call = CHUNK  # iterations per iterate()

    def __init__(self, starts: torch.Tensor, problem: Problem):
        # the loss and its gradient from the stepping kernel, a batch of one
        self.problem, self.x = problem, starts[0].clone()
        self.kernel = BatchedSheet(problem.model, [OptimizerSettings()], self.x)
        self.lbfgs = torch.optim.LBFGS([self.x], lr=1, max_iter=CHUNK, max_eval=CHUNK * 25, history_size=20,
                                       tolerance_grad=1e-10, tolerance_change=1e-15, line_search_fn="strong_wolfe")
        self.history = [float(self._closure())]
        self.iterations = 0
        self.converged = torch.tensor([False])

    def _closure(self) -> torch.Tensor:
        """MSE + (wd/2)·‖θ‖², with its gradient in x.grad."""
        self.kernel.put_theta(self.x)
        self._mse = self.kernel.loss()[0]
        self.x.grad = self.kernel.rows(self.kernel.grad)[0]
        wd = self.problem.weight_decay
        if not wd:
            return self._mse
        self.x.grad.add_(self.x.detach(), alpha=wd)
        return self._mse + wd / 2 * self.x.detach().dot(self.x.detach())

    @property
    def objective(self) -> torch.Tensor:
        return torch.tensor([self.history[-1]])

    @property
    def rmse(self) -> torch.Tensor:
        return torch.tensor([float(self._mse) ** 0.5])

    def theta(self, i: int) -> torch.Tensor:
        return self.x

    def iterate(self) -> None:
        """One chunk of iterations (torch's L-BFGS runs up to CHUNK per call)."""
        self.lbfgs.step(self._closure)
        done = self.lbfgs.state[self.x]["n_iter"] - self.iterations
        self.iterations += done
        self.history.append(float(self._closure()))
        stalled = stopping.little_gain(self.history[-2], self.history[-1], TOL)
        flat = stopping.flat(float(self.x.grad.abs().max()), 1e-10)  # L-BFGS's own test for a stationary point
        self.converged = torch.tensor([stalled or flat])


def multistart(problem: Problem, starts: torch.Tensor, max_iter: int = 2000, task: Task | None = None) -> Outcome:
    """The best minimum of MSE + (wd/2)·‖θ‖² found from the starts (a batch, the current values first).

    Marquardt races all starts by successive halving while its dense algebra is affordable; beyond that
    one start, the current values, is solved by alternating least squares (no sigmoid) or L-BFGS. The task
    hears the figures `iterations` and `rmse` after each chunk; cancelling it ends the solve there.
    """
    task = task or Task()
    dense = affordable(problem, len(starts))
    kind = Marquardt if dense else Als if problem.y_range is None and als_affordable(problem) else Lbfgs
    # Marquardt's and ALS's many tensor operations never need autograd: inference mode skips its bookkeeping.
    with torch.inference_mode(kind is not Lbfgs):
        found = _race(problem, starts, kind, max_iter, task)
    # A copy made outside inference mode is an ordinary tensor again, free to be used anywhere.
    return Outcome(found.theta.detach().clone(), found.iterations, found.converged, found.stopped, found.reason)


def _race(problem: Problem, starts: torch.Tensor, kind: type, max_iter: int, task: Task) -> Outcome:
    """Successive halving: the best quarter of the starts go on after each round, until one is left."""
    projected = kind is Marquardt and problem.y_range is None
    sweeps = min(SWEEPS, max_iter) if projected and len(starts) > 1 else 0
    run = Marquardt(starts, problem, sweeps) if kind is Marquardt else kind(starts, problem)
    total, round_ = sweeps, ROUND // 2 if projected else ROUND
    per_call = getattr(run, "per_call", 1)
    if sweeps:  # the sweeps were the first round
        run.keep(run.objective.argsort()[: max(1, len(starts) // 4)])
        _report(run, total, task)
    while True:
        alive = len(run.objective)
        budget = max_iter - total if alive == 1 else round_
        for _ in range(-(-budget // per_call)):
            if bool(run.converged.all()) or getattr(run, "done", False) or total >= max_iter:
                break
            before = run.iterations
            run.iterate()
            total += run.iterations - before
            _report(run, total, task)
            if task.cancelled:
                return _best(run, total, stopped=True)
        if alive == 1 or total >= max_iter:
            return _best(run, total, stopped=False)
        run.keep(run.objective.argsort()[: max(1, alive // 4)])


def _report(run, total: int, task: Task) -> None:
    """The iterations so far and the RMSE of the start now best by the objective."""
    if task.listened:  # reading the RMSE back costs a device sync: only for a listener
        task.report(iterations=total, rmse=float(run.rmse[int(run.objective.argmin())]))


def _best(run, total: int, stopped: bool) -> Outcome:
    i = int(run.objective.argmin())
    converged = bool(run.converged[i])
    said = getattr(run, "reason", "")  # ALS's: "settled" while converged, "valley" or "stalled" when it gave up
    if stopped:
        reason = "stopped"
    elif converged:
        reason = "settled" if said == "settled" else "converged"
    else:
        reason = said or "cap"
    return Outcome(run.theta(i), total, converged, stopped, reason)
