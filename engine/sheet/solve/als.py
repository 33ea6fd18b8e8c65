"""Alternating least squares for sheets too large for Marquardt's dense algebra (predictions linear, no sigmoid).

With the columns held, each row's parameters are one small ridge regression on its rated cells, solved
exactly; then the columns for the rows (engine.sheet.solve.grid names the sides). A sweep never raises
the objective. Plain sweeps crawl along the loss's long valleys, so each sweep starts from a point
pushed on along the last sweep's move (Nesterov's momentum), and when that does no better than where
it came from, the sweep is redone from there with the momentum reset (adaptive restart).

A row's normal equations Σ_j w_ij a_j a_jᵀ are one matrix product of the rated-cell weights (rows ×
columns) with every column's a_j a_jᵀ packed as its s(s+1)/2 distinct entries: half the work of the
full outer products. On a 943 × 1000 grid a tenth rated, a sparse product over the rated cells alone
(a tenth of the multiply-adds) took as long on this 2-core CPU, so the dense one stays: one product on a GPU.
Converged as Excel's Solver judges it, by the objective's change in each of the last few sweeps (grid.CONVERGENCE),
or at an exact fit.
"""
from __future__ import annotations

import math

import torch

from collabsheet.engine.sheet.solve.grid import CONVERGENCE, RIDGE, TOL, WINDOW, Grid, GridRun, Problem, sum_of_squares

MEMORY = 6e7  # ALS while each side's normal equations, (blocks × s²) numbers, stay under this; else L-BFGS
# Converged (besides by TOL over WINDOW sweeps) when the objective is this small next to the ratings' own sum of
# squares: a fit exact to rounding.
EXACT = 1e-12
PULL = 1e-10  # the pull towards the current values, relative to a block's largest diagonal entry (at least RIDGE)
CANCEL = 1e6  # Σr² by the normal equations while its terms are at most this many times their sum, else cell by cell
# A parameter this many times the ratings' spread marks a valley: the loss still falls while factors grow without
# bound (no minimum to converge to; weight decay gives it one). The solve stops there, not converged.
VALLEY = 1000


def als_affordable(problem: Problem) -> bool:
    """Whether the rows' and columns' normal equations fit in memory."""
    s = problem.users.shape[1]
    return max(problem.weight.shape) * s * s <= MEMORY


class Side:
    """One side's exact step: each of its blocks at its ridge least-squares optimum for the other side's values."""

    def __init__(self, grid: Grid):
        self.grid = grid
        s = grid.row_index.shape[1]
        i, j = torch.tril_indices(s, s, device=grid.w.device)
        self.i, self.j = i, j
        # For each entry (p, q) of an s × s block, where its value sits among the packed ones.
        slot = torch.empty(s, s, dtype=torch.long, device=grid.w.device)
        slot[i, j] = slot[j, i] = torch.arange(len(i), device=grid.w.device)
        self.unpack = slot.view(-1)
        self.rho = grid.rho
        self.wy = grid.w * grid.y
        # For the sum of squares without the grid's residuals: Σ w·y², and per column Σ_i w·y and Σ_i w.
        self.wy2, self.col_wy, self.col_w = (self.wy * grid.y).sum(), self.wy.sum(0), grid.w.sum(0)

    def solve(self, rows: torch.Tensor, cols: torch.Tensor,
              sse: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The rows (1, n, s) that minimise the objective for the columns (1, m, s), and Σr² there if asked."""
        grid = self.grid
        a = grid.multipliers(cols)
        s = a.shape[-1]
        across = a[0].T.contiguous()  # (s, m): gathering whole rows of it is far faster than single entries
        packed = grid.w @ (across[self.i] * across[self.j]).T  # (n, s(s+1)/2)
        normal = packed[:, self.unpack].view(1, -1, s, s)  # G_i = Σ_j w_ij a_j a_jᵀ (indexing beats index_select here)
        # The objective's ρ pulls towards 0; a pull towards the rows' current values (as in Grid.project's
        # step) keeps each block solvable, and, as small as PULL next to the block's own scale, accurately
        # so even far down a valley. It moves no fixed point: there the rows are their current values.
        diagonal = normal.diagonal(dim1=-2, dim2=-1)
        pull = torch.clamp(PULL * diagonal.amax(-1), min=RIDGE)[..., None]
        diagonal.add_(self.rho + pull)  # normal is now G_i + (ρ + pull_i)·I
        chol, failed = torch.linalg.cholesky_ex(normal)
        t = self.wy @ a  # t_i = Σ_j w_ij a_j (y_ij − the column's bias)
        if grid.biases:
            t = t - grid.w @ (a * cols[..., grid.k:])
        x = torch.cholesky_solve((t + pull * rows)[..., None], chol)[..., 0]
        x = torch.where((failed > 0)[..., None], rows, x)  # a block that could not be solved stays as it was
        if not sse:
            return x, None
        # Σ_ij w (y − bias − x_i·a_j)² = Σ w (y − bias)² − 2 Σ x_i·t_i + Σ x_iᵀG_i x_i: no pass over the grid …
        gx = (normal @ x[..., None])[..., 0] - (self.rho + pull) * x  # G_i x_i
        terms = [self.wy2, -2 * _dot(x, t), _dot(x, gx)]
        if grid.biases:
            bias = cols[0, :, grid.k]
            terms += [-2 * bias @ self.col_wy, (bias * bias) @ self.col_w]
        total = sum(terms)
        # … unless the terms are so much larger than their sum that rounding would show (far down a valley).
        if bool(sum(abs(term) for term in terms) > CANCEL * total):
            total = sum_of_squares(grid.evaluate(x, cols)[0])
        return x, total


class Als(GridRun):
    """Alternating least squares with momentum and adaptive restart, from one start."""

    def __init__(self, starts: torch.Tensor, problem: Problem):
        self.grid, self.count = Grid(problem), problem.count
        self.row_side, self.col_side = Side(self.grid), Side(self.grid.transposed())
        rows, cols = self.grid.sides(starts[:1])
        rows, self.sse = self.row_side.solve(rows, cols)  # the rows at their optimum, as every sweep leaves them
        self.rows, self.cols, self.before = rows, cols, (rows, cols)
        self.loss = self.sse + self.grid.penalty(rows, cols)
        self.t = 1.0  # Nesterov's sequence; the momentum is (t − 1)/t_next
        self.history = [self.loss]
        self.iterations = 0
        self.converged = torch.tensor([False])
        self.done = False  # set when no sweep can lower the objective any more
        self.reason = ""  # "settled" (converged by Excel's test but not by TOL), or why it stopped: "valley", "stalled"
        self.exact = EXACT * float(self.row_side.wy2)
        rated = self.grid.y[self.grid.w > 0]
        spread = float(rated.max() - rated.min()) if rated.numel() else 0.0
        self.valley = VALLEY * max(spread, 1.0)

    def _sweep(self, rows: torch.Tensor, cols: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The columns for the rows, then the rows for the columns; with Σr² and Σr² + ρ‖θ‖² there."""
        cols, _ = self.col_side.solve(cols, rows, sse=False)
        rows, sse = self.row_side.solve(rows, cols)
        return rows, cols, sse, sse + self.grid.penalty(rows, cols)

    def iterate(self) -> None:
        """One sweep from the extrapolated point (two when it must restart)."""
        t_next = (1 + math.sqrt(1 + 4 * self.t**2)) / 2
        beta = (self.t - 1) / t_next
        rows0, cols0 = self.before
        found = self._sweep(self.rows + beta * (self.rows - rows0), self.cols + beta * (self.cols - cols0))
        self.iterations += 1
        if beta and not bool(found[3] <= self.loss):  # the momentum overshot (or left the finite numbers)
            found = self._sweep(self.rows, self.cols)
            self.iterations += 1
            t_next = 1.0
        self.t = t_next
        if bool(found[3] <= self.loss):
            self.before = self.rows, self.cols
            self.rows, self.cols, self.sse, self.loss = found
            self.history.append(self.loss)
        else:
            # Exact sweeps never raise the objective: rounding does, at a fixed point (the sweeps before it had
            # stopped improving: converged, below) or where the normal equations have grown too ill-conditioned
            # to solve, far down a valley while the objective was still falling (not converged).
            self.done = True
        if len(self.history) > WINDOW:
            recent = torch.stack(self.history[-WINDOW - 1:])
            changes = (recent[:-1] - recent[1:]) / recent[1:]
            tight = (recent[0] - recent[-1] <= TOL * recent[-1]) | (self.loss <= self.exact)
            self.converged = (changes.abs() < CONVERGENCE).all(0) | tight
            self.reason = "settled" if bool(self.converged.all()) and not bool(tight.all()) else ""
        if self.done and not bool(self.converged.all()):
            self.reason = "stalled"
        if bool(torch.maximum(self.rows.abs().max(), self.cols.abs().max()) > self.valley):
            self.done, self.converged, self.reason = True, torch.tensor([False]), "valley"


def _dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vecdot(x.flatten(1), y.flatten(1))
