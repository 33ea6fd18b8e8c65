"""The sheet's loss as the solvers see it: a grid of residuals over two sides of parameters, rows and columns.

The objective is the sum of squared errors over the rated cells plus, with weight decay wd, the L2 term
ρ‖θ‖² with ρ = wd·count/2: count × (MSE + (wd/2)·‖θ‖²), whose gradient is the one the steps follow
(engine.optim.rules adds wd·θ to ∂MSE/∂θ).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from collabsheet.engine.models import factorization
from collabsheet.engine.sheet.solve import schur

if TYPE_CHECKING:
    from collabsheet.engine.sheet.model import SheetModel

RIDGE = 1e-9  # keeps a row's least squares solvable when it has fewer ratings than parameters
TOL = 1e-7  # Marquardt, L-BFGS: converged when WINDOW iterations together improve the objective by less than this
WINDOW = 5
# ALS: converged when each of the last WINDOW sweeps changed the objective by less than this, relatively: the test
# of Excel's Solver (GRG Nonlinear) at its default Convergence, 0.0001. ALS gains each digit at a linear rate, so
# TOL would cost it many times the sweeps (943 × 1000 × 50 with wd 0.001: 21 sweeps against 12, for the 7th digit).
CONVERGENCE = 1e-4


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
    weight_decay: float = 0.0  # wd: the objective is MSE + (wd/2)·‖θ‖²

    @property
    def rho(self) -> float:
        """The L2 term's weight in sum-of-squares units: Σr² + ρ‖θ‖² = count × (MSE + (wd/2)·‖θ‖²)."""
        return self.weight_decay * self.count / 2


def problem_of(model: SheetModel, weight_decay: float = 0.0) -> Problem:
    """The sheet's model as the solver sees it: where each user's and movie's parameters sit in θ."""
    users, movies = model.sides()
    return Problem(model.r, model.mask, model.count, users, movies, model.config.k, model.squash_range, model,
                   weight_decay)


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
        self.k, self.y_range, self.rho = problem.k, problem.y_range, problem.rho
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
        a, b = self.multipliers(cols), self.multipliers(rows)
        raw = rows @ a.mT
        if self.biases:
            raw = raw + cols[:, None, :, self.k]  # a row's factors and bias met the column's factors and a 1
        if self.linear:
            return (raw - self.y) * self.w, self.w, a, b
        pred, sig = factorization.squash(raw, self.y_range)
        return (pred - self.y) * self.w, factorization.squash_slope(sig, self.y_range) * self.w, a, b

    def penalty(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor | float:
        """ρ‖θ‖² per start (0 without weight decay)."""
        return self.rho * (sum_of_squares(rows) + sum_of_squares(cols)) if self.rho else 0.0

    def project(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Each row at its exact (ridge) least-squares optimum for the columns' values (predictions linear in rows)."""
        r, f, a, _ = self.evaluate(rows, cols)
        return rows + schur.rows_step(r, f, a, RIDGE, self.rho, rows)

    def multipliers(self, side: torch.Tensor) -> torch.Tensor:
        """A side's values as the other side's parameters multiply them: factors, and 1 for the bias."""
        if not self.biases:
            return side
        return torch.cat([side[..., :self.k], torch.ones_like(side[..., self.k:])], -1)


class GridRun:
    """What the solvers over a Grid share: each start's rows and columns, Σr² (sse) and Σr² + ρ‖θ‖² (loss)."""

    grid: Grid
    count: int
    rows: torch.Tensor
    cols: torch.Tensor
    sse: torch.Tensor
    loss: torch.Tensor

    @property
    def objective(self) -> torch.Tensor:
        """Each start's MSE + (wd/2)·‖θ‖²."""
        return torch.nan_to_num(self.loss / self.count, nan=float("inf"))

    @property
    def rmse(self) -> torch.Tensor:
        return (self.sse / self.count).sqrt()

    def theta(self, i: int) -> torch.Tensor:
        """Start i's parameters as θ."""
        return self.grid.theta(self.rows[i:i + 1], self.cols[i:i + 1])[0]


def sum_of_squares(x: torch.Tensor) -> torch.Tensor:
    """Σx² per start (over all but the first dimension)."""
    flat = x.flatten(1)
    return torch.linalg.vecdot(flat, flat)
