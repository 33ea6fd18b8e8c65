"""The factorization sheet: factors, predictions, loss, and gradient descent on them, in torch.

All parameters live in one flat float64 vector θ = [user factors | movie factors | user biases |
movie biases], so that every optimizer rule updates the whole sheet with a handful of tensor ops.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from engine.optim import rules as optim
from engine.sheet.solve import solver
from engine.config import OptimizerSettings, SheetConfig
from engine.data.crosstab import Crosstab
from engine.models import factorization
from engine.device import pick_device, threads_for
from engine.sheet.snapshot import BLOCKS, Snapshot
from engine.sheet.solve.spectral import spectral_start

DTYPE = torch.float64  # the sheet's numbers must match what a spreadsheet computes


@dataclass(frozen=True)
class SolveResult:
    """What a solve did."""

    iterations: int
    seconds: float
    rmse_before: float
    rmse: float
    converged: bool
    stopped: bool = False


@dataclass
class StepResult:
    """What a batch of steps did."""

    steps: int  # updates actually applied
    losses: np.ndarray = field(repr=False)  # RMSE before each applied update
    diverged: bool = False


class Sheet:
    """A crosstab of ratings with factors that gradient descent or a solver can fit."""

    def __init__(self, grid: Crosstab, config: SheetConfig = SheetConfig(),
                 settings: OptimizerSettings = OptimizerSettings(), device: str | torch.device | None = None):
        self.grid = grid
        self.config = config
        self.settings = settings
        self.device = pick_device(device)
        self._set_ratings(grid.ratings)
        self.reset(config.seed)

    # --- shape of θ -------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self.ratings.shape[0]

    @property
    def n_items(self) -> int:
        return self.ratings.shape[1]

    @property
    def _work(self) -> int:
        """Multiply-adds in the sheet's matrix product."""
        return self.n_users * self.n_items * self.config.k

    def _sizes(self) -> dict[str, tuple[int, ...]]:
        n, m, k = self.n_users, self.n_items, self.config.k
        shapes = {"user_factors": (n, k), "item_factors": (k, m)}
        if self.config.biases:
            shapes |= {"user_bias": (n,), "item_bias": (m,)}
        return shapes

    def _split(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named views of θ's blocks; θ may carry leading batch dimensions (several starts at once)."""
        out, start = {}, 0
        for name, shape in self._sizes().items():
            size = int(np.prod(shape))
            out[name] = theta[..., start:start + size].unflatten(-1, shape)
            start += size
        return out

    @property
    def squash_range(self) -> tuple[float, float] | None:
        """The sigmoid's range when predictions are squashed, else None."""
        return self.y_range if self.config.squash else None

    # --- the model ---------------------------------------------------------------------------
    def _set_ratings(self, ratings: np.ndarray) -> None:
        self.ratings = np.array(ratings, dtype=np.float64)
        mask = ~np.isnan(self.ratings)
        self._mask = torch.tensor(mask, dtype=DTYPE, device=self.device)
        self._r = torch.tensor(np.where(mask, self.ratings, 0.0), dtype=DTYPE, device=self.device)
        self._count = max(int(mask.sum()), 1)
        lo, hi = (float(self.ratings[mask].min()), float(self.ratings[mask].max())) if mask.any() else (0.0, 1.0)
        self.y_range = factorization.y_range(lo, hi)

    def _predict(self, p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions for every cell (rated or not), and the sigmoid's value when squashing."""
        raw = factorization.grid(p["user_factors"], p["item_factors"], p.get("user_bias"), p.get("item_bias"))
        return factorization.squash(raw, self.squash_range)

    def _loss_and_gradient(self, p: dict[str, torch.Tensor], g: dict[str, torch.Tensor]) -> torch.Tensor:
        """MSE over rated cells; writes its gradient into g's blocks (the chain rule, written out)."""
        pred, s = self._predict(p)
        err = pred.sub_(self._r).mul_(self._mask)  # pred is a fresh tensor; the sigmoid's s is kept apart
        flat = err.view(-1)
        mse = flat.dot(flat) / self._count
        d = err.mul_(2.0 / self._count)  # ∂MSE/∂prediction
        if self.config.squash:
            d = d * factorization.squash_slope(s, self.y_range)  # through the sigmoid
        torch.mm(d, p["item_factors"].T, out=g["user_factors"])
        torch.mm(p["user_factors"].T, d, out=g["item_factors"])
        if self.config.biases:
            torch.sum(d, 1, out=g["user_bias"])
            torch.sum(d, 0, out=g["item_bias"])
        return mse

    def _bind(self, theta: torch.Tensor) -> None:
        """Make θ the sheet's parameters, with a gradient buffer and named views of both."""
        self.theta, self._grad = theta, torch.zeros_like(theta)
        self._p, self._g = self._split(theta), self._split(self._grad)

    def _loss(self) -> torch.Tensor:
        return self._loss_and_gradient(self._p, self._g)

    # --- commands ----------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """New random factors (biases start at 0) and a fresh optimizer."""
        seed = self.config.seed if seed is None else seed
        self.config = replace(self.config, seed=seed)
        self._bind(self.initial_theta(seed))
        self.state: dict = {}
        self.steps = 0
        self.diverged = False

    def initial_theta(self, seed: int) -> torch.Tensor:
        """Random factors uniform in [0, init) like the workbook's =RAND(), biases 0."""
        gen = torch.Generator().manual_seed(seed)  # drawn on the CPU so every device starts alike
        parts = []
        for name, shape in self._sizes().items():
            size = int(np.prod(shape))
            if name.endswith("bias"):
                parts.append(torch.zeros(size, dtype=DTYPE))
            else:
                parts.append(self.config.init * torch.rand(size, generator=gen, dtype=DTYPE))
        return torch.cat(parts).to(self.device)

    def set_optimizer(self, settings: OptimizerSettings) -> None:
        """Switch rule or settings; parameters stay, a different rule starts with fresh state."""
        if settings.name != self.settings.name:
            self.state = {}
        self.settings = settings

    def step(self, n: int = 1) -> StepResult:
        """Apply n full-batch updates; a batch that turns inf/NaN is rolled back to the last good step."""
        with threads_for(self.device, self._work):
            return self._step(n)

    def _step(self, n: int) -> StepResult:
        theta0, state0 = self.theta.clone(), _copy_state(self.state)
        losses = self._run(n)
        if self._finite():
            self.steps += n
            self.diverged = False
            return StepResult(n, losses.cpu().numpy())
        # Replay one update at a time from the batch's start to keep the last good parameters.
        self.theta.copy_(theta0)
        self.state, done = state0, []
        for _ in range(n):
            theta0, state0 = self.theta.clone(), _copy_state(self.state)
            loss = self._run(1)
            if not self._finite():
                self.theta.copy_(theta0)
                self.state = state0
                break
            done.append(loss)
        self.steps += len(done)
        self.diverged = True
        losses = torch.cat(done) if done else torch.empty(0, dtype=DTYPE)
        return StepResult(len(done), losses.cpu().numpy(), diverged=True)

    def _finite(self) -> bool:
        """Whether θ and the loss it gives are finite numbers (one device sync)."""
        return bool(torch.isfinite(self._loss()) & torch.isfinite(self.theta).all())

    def _run(self, n: int) -> torch.Tensor:
        """n updates of θ in place; the RMSE before each."""
        # The gradient is written out, never taken by autograd: inference mode skips autograd's
        # bookkeeping on every small op (about 1.4× the steps per second on the 15×15 sheet).
        # State buffers made here are inference tensors: only ever updated in place in here.
        with torch.inference_mode():
            losses = []
            for _ in range(n):
                losses.append(self._loss())
                optim.update(self.theta, self._grad, self.state, self.settings)
            return torch.stack(losses).sqrt_()

    def solve(self, restarts: int = 14, max_iter: int = 2000,
              progress: Callable[[int, float], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> SolveResult:
        """Minimise the loss to convergence like Excel's Solver (GRG Nonlinear, with multistart)."""
        start, before = time.perf_counter(), self.rmse()
        problem = self._problem()
        starts = [self.theta]
        if solver.affordable(problem, restarts + 2):  # else the current values only, as GRG does without Multistart
            starts += [self.spectral_theta()] + [self.initial_theta(seed) for seed in self._restart_seeds(restarts)]
        with threads_for(self.device, self._work):
            found = solver.multistart(problem, torch.stack(starts), max_iter=max_iter, progress=progress,
                                      should_stop=should_stop)
        if bool(torch.isfinite(found.theta).all()):
            self.theta.copy_(found.theta)
        self.state, self.diverged = {}, False
        return SolveResult(found.iterations, time.perf_counter() - start, before, self.rmse(), found.converged,
                           found.stopped)

    def _problem(self) -> solver.Problem:
        """The sheet as the solver sees it: where each user's and movie's parameters sit in θ."""
        index = self._split(torch.arange(self.theta.numel(), device=self.device))
        users, movies = [index["user_factors"]], [index["item_factors"].T]
        if self.config.biases:
            users.append(index["user_bias"][:, None])
            movies.append(index["item_bias"][:, None])
        return solver.Problem(self._r, self._mask, self._count, torch.cat(users, 1), torch.cat(movies, 1),
                              self.config.k, self.squash_range, self._loss_and_gradient, self._split)

    def spectral_theta(self) -> torch.Tensor:
        """θ read off the ratings by a truncated SVD (engine.spectral), the solver's best-placed start."""
        return self._flatten(spectral_start(self.ratings, self.config.k, self.config.biases, self.squash_range))

    def _restart_seeds(self, restarts: int) -> list[int]:
        return [self.config.seed * 1000 + 1 + i for i in range(restarts)]

    # --- edits -------------------------------------------------------------------------------
    def set_rating(self, i: int, j: int, value: float | None) -> None:
        """Type a rating into a cell; None makes it blank."""
        if value is not None and not np.isfinite(value):
            raise ValueError(f"rating must be a finite number, got {value}")
        ratings = self.ratings.copy()
        ratings[i, j] = np.nan if value is None else float(value)
        if not (~np.isnan(ratings)).any():
            raise ValueError("the sheet needs at least one rating")
        self._set_ratings(ratings)

    def set_param(self, block: str, index: tuple[int, ...], value: float) -> None:
        """Type a value into one factor or bias cell."""
        if not np.isfinite(value):
            raise ValueError(f"value must be a finite number, got {value}")
        if block not in self._sizes():
            raise ValueError(f"this sheet has no {block.replace('_', ' ')}")
        self._p[block][index] = float(value)

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        """Replace all parameters at once (e.g. from an imported workbook)."""
        self._bind(self._flatten(params))
        self.state, self.diverged = {}, False

    def _flatten(self, params: dict[str, np.ndarray]) -> torch.Tensor:
        """θ from its blocks by name, each checked against the sheet's shape."""
        sizes = self._sizes()
        if set(params) != set(sizes):
            raise ValueError(f"expected parameters {sorted(sizes)}, got {sorted(params)}")
        parts = []
        for name, shape in sizes.items():
            a = np.asarray(params[name], dtype=np.float64)
            if a.shape != shape:
                raise ValueError(f"{name.replace('_', ' ')} should have shape {shape}, got {a.shape}")
            parts.append(torch.tensor(a.reshape(-1), dtype=DTYPE))
        return torch.cat(parts).to(self.device)

    # --- reading -----------------------------------------------------------------------------
    def rmse(self) -> float:
        """The loss cell: RMSE over rated cells."""
        return math.sqrt(float(self._loss()))  # correctly rounded, as the snapshot's and a spreadsheet's SQRT

    def params(self) -> dict[str, np.ndarray]:
        """Each block of θ as a numpy array."""
        return {k: v.cpu().numpy().copy() for k, v in self._p.items()}

    def snapshot(self) -> Snapshot:
        """Everything a view or an export needs, as plain numpy arrays and scalars."""
        mse = float(self._loss())
        pred, _ = self._predict(self._p)
        mask = ~np.isnan(self.ratings)
        predictions = np.where(mask, pred.cpu().numpy(), 0.0)
        params = self.params()
        grads = {k: v.cpu().numpy().copy() for k, v in self._g.items()}
        state = {k: (v if k == "t" else {b: a.cpu().numpy().copy() for b, a in self._split(v).items()})
                 for k, v in self.state.items()}
        return Snapshot(
            ratings=self.ratings.copy(), mask=mask, predictions=predictions,
            params={b: params.get(b) for b in BLOCKS}, grads={b: grads.get(b) for b in BLOCKS},
            optimizer_state=state, rmse=math.sqrt(mse), sse=mse * self._count, count=self._count,
            step=self.steps, settings=self.settings, k=self.config.k, biases=self.config.biases,
            squash=self.config.squash, y_range=self.squash_range,
            seed=self.config.seed, diverged=self.diverged, device=str(self.device),
            user_ids=self.grid.user_ids, item_ids=self.grid.item_ids, titles=self.grid.titles,
            dataset=self.grid.name,
        )


def _copy_state(state: dict) -> dict:
    return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}
