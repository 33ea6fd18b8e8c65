"""Solve the sheet like Excel's Solver: a Newton-type local search, run from several starts.

Excel's GRG Nonlinear finds a local minimum from the cells' current values; with Multistart it
also tries other starts and keeps the best. The factorization's loss needs that: besides its true
minima it has valleys that slope gently down forever (factors growing without bound), and a descent
that enters one crawls. The local search is Levenberg–Marquardt (Gauss–Newton with damping, made
for sums of squares; its step by the Schur complement, engine.schur), all starts at once as one
batch, while the dense algebra is affordable; beyond that, L-BFGS with a strong-Wolfe line search
from the current values. When predictions are linear in a row's parameters (no sigmoid), every row
is kept at its exact least-squares optimum for the columns' values and only the columns are damped
(variable projection): it needs a third of the iterations and far more starts reach the best
minimum. Starts race in rounds and only the best quarter goes on (successive halving).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

from engine.models import factorization
from engine.sheet.solve import schur

if TYPE_CHECKING:
    from engine.sheet.model import SheetModel

DENSE_BUDGET = 2e8  # Marquardt while starts × (VᵀV + Cholesky of S), in multiply-adds, stays under this
ROUND = 20  # iterations per round of successive halving (half that for projected steps, which converge faster)
CHUNK = 10  # L-BFGS iterations per call, between its progress reports (Marquardt reports every iteration)
TOL = 1e-7  # converged when WINDOW iterations together improve the loss by less than this, relatively
WINDOW = 5
SWEEPS = 10  # alternating least-squares sweeps that sort the starts, when predictions are linear in each side
TAU = 1e-3  # the first λ, relative to JᵀJ's largest diagonal entry
RIDGE = 1e-9  # keeps a row's least squares solvable when it has fewer ratings than parameters


@dataclass(frozen=True)
class Problem:
    """The sheet's loss, as the solver sees it."""

    ratings: torch.Tensor  # (users, movies) each cell's rating, 0 where blank
    weight: torch.Tensor  # (users, movies) 1 where rated, 0 where blank
    count: int  # rated cells: MSE = sum of squares / count
    users: torch.Tensor  # (users, s) where each user's parameters sit in θ: k factors, then the bias if any
    movies: torch.Tensor  # (movies, s) the same for each movie
    k: int
    y_range: tuple[float, float] | None  # the sigmoid's range when predictions are squashed
    model: SheetModel  # for L-BFGS: θ's named views (split) and the loss with its gradient


def problem_of(model: SheetModel) -> Problem:
    """The sheet's model as the solver sees it: where each user's and movie's parameters sit in θ."""
    users, movies = model.sides()
    return Problem(model.r, model.mask, model.count, users, movies, model.config.k, model.squash_range, model)


def affordable(problem: Problem, starts: int) -> bool:
    """Whether Marquardt's dense algebra for this many starts fits the budget."""
    n, m = sorted(problem.weight.shape, reverse=True)
    s = problem.users.shape[1]
    return starts * (n * s * (m * s) ** 2 + (m * s) ** 3 / 3) <= DENSE_BUDGET


@dataclass
class Outcome:
    """What the solver found."""

    theta: torch.Tensor
    iterations: int
    converged: bool
    stopped: bool


class Grid:
    """The predictions on the grid as a function of the rows' and columns' parameters.

    Rows are the side with more blocks (users, or movies when there are more of them): it is the
    side the Schur complement eliminates. Each side holds (starts, blocks, s) parameters.
    """

    def __init__(self, problem: Problem, flip: bool | None = None):
        self.problem = problem
        self.flip = problem.weight.shape[1] > problem.weight.shape[0] if flip is None else flip
        pick = (lambda t: t.T) if self.flip else (lambda t: t)
        self.y, self.w = pick(problem.ratings), pick(problem.weight)
        self.row_index, self.col_index = (problem.movies, problem.users) if self.flip else (problem.users,
                                                                                            problem.movies)
        self.k, self.y_range = problem.k, problem.y_range
        self.biases = self.row_index.shape[1] > self.k
        self.linear = problem.y_range is None

    def transposed(self) -> Grid:
        """The same grid with rows and columns swapped."""
        return Grid(self.problem, flip=not self.flip)

    def sides(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """θ (starts, P) as rows' and columns' parameters."""
        return theta[:, self.row_index], theta[:, self.col_index]

    def theta(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """The rows' and columns' parameters back as θ (starts, P)."""
        theta = rows.new_empty(len(rows), self.row_index.numel() + self.col_index.numel())
        theta[:, self.row_index.view(-1)] = rows.flatten(1)
        theta[:, self.col_index.view(-1)] = cols.flatten(1)
        return theta

    def evaluate(self, rows: torch.Tensor, cols: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each cell's residual r and slope f (starts, n, m), and what each side's parameters multiply.

        A cell's derivatives are f·a_j by its row's parameters and f·b_i by its column's (engine.schur).
        """
        a, b = self._multipliers(cols), self._multipliers(rows)
        raw = rows @ a.mT
        if self.biases:
            raw = raw + cols[:, None, :, self.k]  # a row's factors and bias met the column's factors and a 1
        if self.linear:
            return (raw - self.y) * self.w, self.w, a, b
        pred, sig = factorization.squash(raw, self.y_range)
        return (pred - self.y) * self.w, factorization.squash_slope(sig, self.y_range) * self.w, a, b

    def project(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Each row at its exact least-squares optimum for the columns' values (predictions linear in rows)."""
        r, f, a, _ = self.evaluate(rows, cols)
        return rows + schur.rows_step(r, f, a, RIDGE)

    def _multipliers(self, side: torch.Tensor) -> torch.Tensor:
        """A side's values as the other side's parameters multiply them: factors, and 1 for the bias."""
        if not self.biases:
            return side
        return torch.cat([side[..., :self.k], torch.ones_like(side[..., self.k:])], -1)


class Marquardt:
    """Levenberg–Marquardt for a batch of starts: (JᵀJ + λI)·δ = −Jᵀr, each start's λ set by its gain ratio."""

    def __init__(self, starts: torch.Tensor, problem: Problem, sweeps: int = 0):
        self.grid, self.count = Grid(problem), problem.count
        rows, cols = self.grid.sides(starts)
        if self.grid.linear:
            rows, cols = alternate(self.grid, rows, cols, sweeps)
        self.rows, self.cols = rows, cols
        self.r, self.f, self.a, self.b = self.grid.evaluate(rows, cols)
        self.sse = _sum_of_squares(self.r)
        # Nielsen's start: λ a small fraction of JᵀJ's largest diagonal entry on the damped side.
        self.lam = TAU * (self.f * self.f).mT.matmul(self.b * self.b).amax((1, 2))
        self.nu = torch.full_like(self.sse, 2.0)
        self.history = [self.sse]
        self.iterations = 0
        self.converged = torch.zeros_like(self.sse, dtype=torch.bool)

    @property
    def mse(self) -> torch.Tensor:
        return torch.nan_to_num(self.sse / self.count, nan=float("inf"))

    def theta(self, i: int) -> torch.Tensor:
        return self.grid.theta(self.rows[i:i + 1], self.cols[i:i + 1])[0]

    def keep(self, index: torch.Tensor) -> None:
        """Drop all starts but those at index."""
        for name in ("rows", "cols", "r", "a", "b", "sse", "lam", "nu", "converged"):
            setattr(self, name, getattr(self, name)[index])
        if not self.grid.linear:  # linear: f is the weights, one grid for all starts
            self.f = self.f[index]
        self.history = [h[index] for h in self.history]

    def iterate(self) -> None:
        # Projected rows sit at their optimum (their gradient is zero): only the columns need damping.
        mu = torch.full_like(self.lam, RIDGE) if self.grid.linear else self.lam
        d_rows, d_cols, slope = schur.step(self.r, self.f, self.a, self.b, mu, self.lam)
        cols = self.cols + d_cols
        rows = self.grid.project(self.rows, cols) if self.grid.linear else self.rows + d_rows
        r, f, a, b = self.grid.evaluate(rows, cols)
        sse = _sum_of_squares(r)
        # What the quadratic model promised, −(2δ·Jᵀr + δ·JᵀJδ); the gain ratio compares it with what happened.
        # As (JᵀJ + Λ)δ = −Jᵀr, δ·JᵀJδ = −δ·Jᵀr − δ·Λδ: no product with JᵀJ needed. A projection only does better.
        promised = mu * _sum_of_squares(d_rows) + self.lam * _sum_of_squares(d_cols) - slope
        gain = torch.where(promised > 0, (self.sse - sse) / promised, -1.0)
        ok = gain > 0
        self.rows, self.cols = _pick(ok, rows, self.rows), _pick(ok, cols, self.cols)
        self.r, self.a, self.b = _pick(ok, r, self.r), _pick(ok, a, self.a), _pick(ok, b, self.b)
        self.f = f if self.grid.linear else _pick(ok, f, self.f)  # linear: the weights, the same for all
        self.sse = torch.where(ok, sse, self.sse)
        shrink = torch.clamp(1 - (2 * gain - 1) ** 3, min=1 / 3)
        self.lam = self.lam * torch.where(ok, shrink, self.nu)
        self.nu = torch.where(ok, 2.0, self.nu * 2)
        self.history.append(self.sse)
        self.iterations += 1
        if len(self.history) > WINDOW:
            old = self.history[-WINDOW - 1]
            self.converged = (old - self.sse <= TOL * self.sse) | (self.lam > 1e16)


def alternate(grid: Grid, rows: torch.Tensor, cols: torch.Tensor,
              sweeps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Alternating least squares: the rows at their optimum for the columns, then the columns for the rows, ….

    Ends with the rows at their optimum, as Marquardt's projected steps expect.
    """
    rows, other = grid.project(rows, cols), grid.transposed()
    for _ in range(sweeps):
        cols = other.project(cols, rows)
        rows = grid.project(rows, cols)
    return rows, cols


def _sum_of_squares(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(1)
    return torch.linalg.vecdot(flat, flat)


def _pick(ok: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per start, new where its step was accepted, else old."""
    return torch.where(ok.view(-1, *[1] * (new.dim() - 1)), new, old)


class Lbfgs:
    """L-BFGS with a strong-Wolfe line search from one start, for sheets too big for Marquardt."""

    def __init__(self, starts: torch.Tensor, problem: Problem):
        self.problem, self.x = problem, starts[0].clone()
        self._p, self._g = problem.model.split(self.x), problem.model.split(torch.zeros_like(self.x))
        self.lbfgs = torch.optim.LBFGS([self.x], lr=1, max_iter=CHUNK, max_eval=CHUNK * 25, history_size=20,
                                       tolerance_grad=1e-10, tolerance_change=1e-15, line_search_fn="strong_wolfe")
        self.history = [float(self._closure())]
        self.iterations = 0
        self.converged = torch.tensor([False])

    def _closure(self) -> torch.Tensor:
        mse = self.problem.model.loss_and_gradient(self._p, self._g)
        self.x.grad = torch.cat([g.reshape(-1) for g in self._g.values()])
        return mse

    @property
    def mse(self) -> torch.Tensor:
        return torch.tensor([self.history[-1]])

    def theta(self, i: int) -> torch.Tensor:
        return self.x

    def iterate(self) -> None:
        """One chunk of iterations (torch's L-BFGS runs up to CHUNK per call)."""
        self.lbfgs.step(self._closure)
        done = self.lbfgs.state[self.x]["n_iter"] - self.iterations
        self.iterations += done
        self.history.append(float(self.problem.model.loss_and_gradient(self._p, self._g)))
        stalled = self.history[-2] - self.history[-1] <= TOL * self.history[-1]
        flat = float(self.x.grad.abs().max()) <= 1e-10  # L-BFGS's own test for a stationary point
        self.converged = torch.tensor([stalled or flat])


def multistart(problem: Problem, starts: torch.Tensor, max_iter: int = 2000,
               progress: Callable[[int, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> Outcome:
    """The best minimum found from the starts (a batch, the current values first), by successive halving."""
    dense = affordable(problem, len(starts))
    # Marquardt's many small tensor operations never need autograd: inference mode skips its bookkeeping.
    with torch.inference_mode(dense):
        found = _race(problem, starts, dense, max_iter, progress, should_stop)
    # A copy made outside inference mode is an ordinary tensor again, free to be used anywhere.
    return Outcome(found.theta.detach().clone(), found.iterations, found.converged, found.stopped)


def _race(problem: Problem, starts: torch.Tensor, dense: bool, max_iter: int,
          progress: Callable[[int, float], None] | None, should_stop: Callable[[], bool] | None) -> Outcome:
    """Successive halving: the best quarter of the starts go on after each round, until one is left."""
    projected = dense and problem.y_range is None
    sweeps = min(SWEEPS, max_iter) if projected and len(starts) > 1 else 0
    run = Marquardt(starts, problem, sweeps) if dense else Lbfgs(starts, problem)
    total, round_ = sweeps, ROUND // 2 if projected else ROUND
    if sweeps:  # the sweeps were the first round
        run.keep(run.mse.argsort()[: max(1, len(starts) // 4)])
        if progress:
            progress(total, float(run.mse.min()) ** 0.5)
    while True:
        alive = len(run.mse)
        budget = max_iter - total if alive == 1 else round_
        for _ in range(budget if dense else -(-budget // CHUNK)):
            if bool(run.converged.all()):
                break
            before = run.iterations
            run.iterate()
            total += run.iterations - before
            if progress:
                progress(total, float(run.mse.min()) ** 0.5)
            if should_stop and should_stop():
                return _best(run, total, stopped=True)
        if alive == 1 or total >= max_iter:
            return _best(run, total, stopped=False)
        run.keep(run.mse.argsort()[: max(1, alive // 4)])


def _best(run, total: int, stopped: bool) -> Outcome:
    i = int(run.mse.argmin())
    return Outcome(run.theta(i), total, bool(run.converged[i]), stopped)
