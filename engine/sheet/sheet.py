"""The factorization sheet: its parameters θ, gradient descent on them with rollback, Solve, and edits.

The model (ratings, θ's layout, predictions) is engine.sheet.model; the sheet steps through a stepping kernel
of one (engine.sheet.batched, the kernel a race steps its racers with), which holds the optimizer's state, so
a plain run, a restored checkpoint and a taken racer compute alike. The sheet owns the step counter and answers the commands
a user gives. `state_dict()` and `load_state_dict()` are the one way to replace all of that at once, exactly.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from collabsheet.engine.config import OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.device import pick_device, threads_for
from collabsheet.engine.sheet import holdout
from collabsheet.engine.sheet.batched import BatchedSheet, first_unhealthy
from collabsheet.engine.sheet.model import DTYPE, SheetModel
from collabsheet.engine.sheet.snapshot import BLOCKS, Snapshot
from collabsheet.engine.sheet.solve import solver
from collabsheet.engine.task import Task


DIVERGED_FACTOR = 10.0  # a run has diverged once its RMSE passes this many times its anchor (see divergence_bound)
GROWN_SCALE = 0.1  # factor columns added to a running sheet start uniform in [0, this·init): a nudge, not a restart


# How a solve can end (SolveResult.reason), as the app and the command line say it: in short, and why.
ENDINGS = {
    "converged": ("converged", ""),
    "settled": ("converged by Excel Solver's test", "the loss changed by under 0.01% in each of the last 5 sweeps"),
    "stopped": ("stopped", ""),
    "cap": ("hit the iteration cap", "not converged yet"),
    "valley": ("stopped in a valley, not converged",
               "the loss still falls while factors grow without bound, so it has no minimum here; weight decay gives "
               "it one"),
    "stalled": ("stalled, not converged", "rounding now outweighs what a sweep gains"),
}


@dataclass(frozen=True)
class SolveResult:
    """What a solve did."""

    iterations: int
    seconds: float
    rmse_before: float
    rmse: float  # the loss cell
    converged: bool
    stopped: bool = False
    weight_decay: float = 0.0  # wd: Solve minimised MSE + (wd/2)·‖θ‖², the objective the steps descend
    penalty: float = 0.0  # (wd/2)·‖θ‖² at the solution
    reason: str = "converged"  # why it ended: one of ENDINGS

    @property
    def ending(self) -> str:
        """How it ended, in a few words: "converged", "hit the iteration cap", …"""
        return ENDINGS.get(self.reason, (self.reason, ""))[0]

    @property
    def why(self) -> str:
        """Why it ended so, when that needs saying ("" when it does not)."""
        return ENDINGS.get(self.reason, (self.reason, ""))[1]

    @property
    def objective(self) -> float:
        """What Solve minimised, at the solution: MSE + (wd/2)·‖θ‖² (the MSE when wd is 0)."""
        return self.rmse**2 + self.penalty


@dataclass
class StepResult:
    """What a batch of steps did."""

    steps: int  # updates actually applied
    losses: np.ndarray = field(repr=False)  # RMSE before each applied update
    diverged: bool = False
    holdout_losses: np.ndarray | None = field(default=None, repr=False)  # held-out RMSE at the same θs, if any


def divergence_bound(anchor_rmse: float, spread: float) -> float:
    """The largest MSE a healthy run reaches: (DIVERGED_FACTOR × the anchor RMSE or the ratings' spread)².

    Refusing only inf/NaN would keep factors so large that no learning rate could recover from them."""
    return (DIVERGED_FACTOR * max(anchor_rmse, spread, 1.0)) ** 2


class Sheet:
    """A crosstab of ratings with factors that gradient descent or a solver can fit."""

    def __init__(self, grid: Crosstab, config: SheetConfig = SheetConfig(),
                 settings: OptimizerSettings = OptimizerSettings(), device: str | torch.device | None = None):
        self.grid = grid
        self.config = config
        self.settings = settings
        self.device = pick_device(device)
        self.holdout = np.zeros(grid.ratings.shape, dtype=bool)  # cells left out of the loss (engine.sheet.holdout)
        self._use_ratings(grid.ratings)
        self.reset(config.seed)

    @property
    def ratings(self) -> np.ndarray:
        """Every rating on the sheet, held-out cells included (the model sees them blanked)."""
        return self._all

    @property
    def n_users(self) -> int:
        return self.model.n_users

    @property
    def n_items(self) -> int:
        return self.model.n_items

    def _bind(self, theta: torch.Tensor, state: dict | None = None) -> None:
        """Make θ (and an optimizer state in the rules' form) the sheet's, with a stepping kernel of one for them.

        θ and its gradient stay the sheet's own flat vectors (edits and Solve write θ); the kernel, which keeps
        them in its padded layout, takes θ before it computes and gives θ and the gradient back after."""
        self.theta, self.grad = theta.clone(), torch.zeros_like(theta)
        self._p, self._g = self.model.split(self.theta), self.model.split(self.grad)
        self._kernel = BatchedSheet.of_state(self.model, self.settings, theta, state or {})
        self._kernel.held = self.held

    def _taken_back(self) -> None:
        """θ and its gradient from the kernel, after it computed."""
        self.theta.copy_(self._kernel.rows(self._kernel.theta)[0])
        self.grad.copy_(self._kernel.rows(self._kernel.grad)[0])

    def _rebind(self, keep_state: bool = True) -> None:
        """A new kernel for the current model and settings, with θ (and the optimizer's state, if kept) as they are."""
        self._bind(self.theta.clone(), self.state if keep_state else None)

    @property
    def state(self) -> dict:
        """The optimizer's state in the rules' form: {} before a first step, {"v"}, {"r"} or {"t", "m", "r"} (copies)."""
        return self._kernel.state(0)[1]

    def _use_ratings(self, ratings: np.ndarray, held: np.ndarray | None = None,
                     model: SheetModel | None = None) -> None:
        """Take these ratings and held-out cells (the sheet's by default), and a model of them with held-out cells blank."""
        self._all = np.array(ratings, dtype=np.float64)
        self.holdout = (self.holdout if held is None else held) & ~np.isnan(self._all)
        self.model = model or SheetModel(holdout.blank(self._all, self.holdout), self.config, self.device)
        self.held = holdout.HeldOut(self._all, self.holdout, self.device) if self.holdout.any() else None

    def _loss(self) -> torch.Tensor:
        """The MSE at θ; the gradient lands in self.grad."""
        self._kernel.put_theta(self.theta)
        mse = self._kernel.loss()[0]
        self.grad.copy_(self._kernel.rows(self._kernel.grad)[0])
        return mse

    # --- commands ----------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """New random factors (biases start at 0) and a fresh optimizer."""
        seed = self.config.seed if seed is None else seed
        self.config = replace(self.config, seed=seed)
        self._bind(self.model.initial_theta(seed))
        self.steps = 0
        self.diverged = False
        self._anchor()

    def _anchor(self) -> None:
        """Remember the RMSE where the user last changed something: divergence is judged against it."""
        self.anchor_rmse = self.rmse()

    def set_optimizer(self, settings: OptimizerSettings) -> None:
        """Switch rule or settings; parameters stay, a different rule starts with fresh state."""
        keep = settings.name == self.settings.name
        self.settings = settings
        self._rebind(keep_state=keep)
        self._anchor()

    def step(self, n: int = 1) -> StepResult:
        """Apply n full-batch updates; a batch that turns inf/NaN is rolled back to the last good step."""
        if n < 1:
            return StepResult(0, np.empty(0))
        with threads_for(self.device, self.model.work):
            return self._step(n)

    def _step(self, n: int) -> StepResult:
        kernel = self._kernel
        kernel.put_theta(self.theta)
        saved = kernel.save()
        mse, held = kernel.run(n)
        refused = int(first_unhealthy(mse, divergence_bound(self.anchor_rmse, self.model.spread))[0])
        kept = n if refused == 0 else refused - 1
        if refused:  # back to the last good step: replaying computes exactly what the run did
            kernel.restore(saved)
            kernel.run(kept)
        self._taken_back()
        self.steps += kept
        self.diverged = bool(refused)
        return StepResult(kept, np.sqrt(mse[:kept, 0]), diverged=self.diverged,
                          holdout_losses=None if held is None else np.sqrt(held[:kept, 0]))

    def solve(self, restarts: int = 14, max_iter: int = 2000, task: Task | None = None) -> SolveResult:
        """Minimise the loss to convergence like Excel's Solver (GRG Nonlinear, with multistart).

        With weight decay wd the objective is the one the steps descend, MSE + (wd/2)·‖θ‖² (their rules add
        wd·θ to the gradient); AdamW's decoupled decay is not the gradient of any loss, so under AdamW
        Solve minimises this same objective. The task hears the figures `iterations` and `rmse` as the solve goes;
        cancelling it stops the solve with the best values so far.
        """
        start, before = time.perf_counter(), self.rmse()
        wd = self.settings.weight_decay
        problem = solver.problem_of(self.model, wd)
        starts = [self.theta]
        if solver.affordable(problem, restarts + 2):  # else the current values only, as GRG does without Multistart
            seeds = [self.config.seed * 1000 + 1 + i for i in range(restarts)]
            starts += [self.model.spectral_theta(problem.rho)] + [self.model.initial_theta(seed) for seed in seeds]
        with threads_for(self.device, self.model.work):
            found = solver.multistart(problem, torch.stack(starts), max_iter=max_iter, task=task)
        if bool(torch.isfinite(found.theta).all()):
            self.theta.copy_(found.theta)
        self._rebind(keep_state=False)
        self.diverged = False
        self._anchor()
        rmse = self.rmse()
        return SolveResult(found.iterations, time.perf_counter() - start, before, rmse, found.converged,
                           found.stopped, wd, wd / 2 * float(self.theta.dot(self.theta)), found.reason)

    # --- edits -------------------------------------------------------------------------------
    def set_rating(self, i: int, j: int, value: float | None) -> None:
        """Type a rating into a cell; None makes it blank."""
        if value is not None and not np.isfinite(value):
            raise ValueError(f"rating must be a finite number, got {value}")
        ratings = self.ratings.copy()
        ratings[i, j] = np.nan if value is None else float(value)
        if not (~np.isnan(holdout.blank(ratings, self.holdout))).any():
            raise ValueError("the sheet needs at least one rating outside the held-out cells")
        self._set_ratings(ratings)
        self._anchor()

    def _set_ratings(self, ratings: np.ndarray) -> None:
        self._use_ratings(ratings)
        self._rebind()

    def set_holdout(self, fraction: float = 0.2, seed: int = 0) -> None:
        """Hold out a seeded fraction of the rated cells: left out of the loss, its gradient and Solve."""
        self.holdout = holdout.pick(self.ratings, fraction, seed)
        self._set_ratings(self.ratings)
        self._anchor()

    def clear_holdout(self) -> None:
        """Put the held-out cells back into the loss."""
        self.holdout = np.zeros_like(self.holdout)
        self._set_ratings(self.ratings)
        self._anchor()

    def set_param(self, block: str, index: tuple[int, ...], value: float) -> None:
        """Type a value into one factor or bias cell."""
        if not np.isfinite(value):
            raise ValueError(f"value must be a finite number, got {value}")
        if block not in self.model.sizes():
            raise ValueError(f"this sheet has no {block.replace('_', ' ')}")
        self._p[block][index] = float(value)
        self._anchor()

    def reconfigure(self, config: SheetConfig) -> None:
        """Change k, biases or squashing and keep the run: shared factors stay, new columns start small, biases 0."""
        old = self.params()
        model = SheetModel(self.model.ratings, config, self.device)
        fresh = {k: v.cpu().numpy() for k, v in model.split(model.initial_theta(config.seed + 1)).items()}
        params = {}
        for name, block in fresh.items():
            block = block * GROWN_SCALE if name.endswith("factors") else block
            if name == "user_factors" and name in old:
                k = min(block.shape[1], old[name].shape[1])
                block[:, :k] = old[name][:, :k]
            elif name == "item_factors" and name in old:
                k = min(block.shape[0], old[name].shape[0])
                block[:k] = old[name][:k]
            elif name in old:
                block = old[name]
            params[name] = block
        self.config, self.model = config, model
        self._bind(model.flatten(params))
        self.diverged = False
        self._anchor()

    # --- the whole state ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything that decides what the sheet does next, as copies: θ, optimizer state, settings, counters."""
        return {"theta": self.theta.detach().cpu().clone(), "optimizer": _copy_state(self.state, "cpu"),
                "settings": self.settings, "config": self.config, "steps": self.steps,
                "diverged": self.diverged, "ratings": self.ratings.copy(), "holdout": self.holdout.copy(),
                "anchor_rmse": self.anchor_rmse}

    def load_state_dict(self, state: dict) -> None:
        """Become exactly the sheet that state_dict() described (same shape of θ); continues bit-identically."""
        config = state.get("config", self.config)
        ratings = np.asarray(state.get("ratings", self.ratings), dtype=np.float64)
        if ratings.shape != self.ratings.shape:
            raise ValueError(f"ratings should have shape {self.ratings.shape}, got {ratings.shape}")
        held = np.asarray(state.get("holdout", np.zeros(ratings.shape, dtype=bool)), dtype=bool)
        if held.shape != ratings.shape:
            raise ValueError(f"the held-out mask should have shape {ratings.shape}, got {held.shape}")
        held = held & ~np.isnan(ratings)
        model = SheetModel(holdout.blank(ratings, held), config, self.device)
        theta = torch.as_tensor(state["theta"], dtype=DTYPE)
        size = sum(int(np.prod(s)) for s in model.sizes().values())
        if theta.shape != (size,):
            raise ValueError(f"θ should have {size} values for this sheet, got {tuple(theta.shape)}")
        self.config = config
        self.settings = state.get("settings", self.settings)
        self._use_ratings(ratings, held, model)
        self._bind(theta.to(self.device), _copy_state(state.get("optimizer", {}), self.device))
        self.steps = int(state.get("steps", 0))
        self.diverged = bool(state.get("diverged", False))
        self.anchor_rmse = float(state.get("anchor_rmse", self.rmse()))

    def params_state(self, params: dict[str, np.ndarray], **rest) -> dict:
        """A state_dict with θ from named blocks (an imported workbook's cells), checked against the sheet's shape."""
        return {**self.state_dict(), "optimizer": {}, "diverged": False, **rest,
                "theta": self.model.flatten(params).cpu()}

    # --- reading -----------------------------------------------------------------------------
    def rmse(self) -> float:
        """The loss cell: RMSE over rated cells (those not held out)."""
        return math.sqrt(float(self._loss()))  # correctly rounded, as the snapshot's and a spreadsheet's SQRT

    def holdout_rmse(self) -> float:
        """RMSE over the held-out cells only; NaN when none are held out."""
        if self.held is None:
            return math.nan
        with torch.inference_mode():
            return math.sqrt(float(self.held.mse(self.model.predict(self._p)[0])))

    def params(self) -> dict[str, np.ndarray]:
        """Each block of θ as a numpy array."""
        return {k: v.cpu().numpy().copy() for k, v in self._p.items()}

    def snapshot(self) -> Snapshot:
        """Everything a view or an export needs, as plain numpy arrays and scalars (one gradient evaluation, copies
        of everything)."""
        model = self.model
        mse = float(self._loss())
        with torch.inference_mode():
            pred = model.predict(self._p)[0]
            holdout_rmse = math.sqrt(float(self.held.mse(pred))) if self.held is not None else math.nan
        mask = ~np.isnan(model.ratings)
        predictions = np.where(mask | self.holdout, pred.cpu().numpy(), 0.0)
        params = self.params()
        grads = {k: v.cpu().numpy().copy() for k, v in self._g.items()}
        state = {k: (v if k == "t" else {b: a.cpu().numpy().copy() for b, a in model.split(v).items()})
                 for k, v in self.state.items()}
        grid, config = self.grid, self.config
        return Snapshot(
            ratings=model.ratings.copy(), mask=mask, predictions=predictions,
            params={b: params.get(b) for b in BLOCKS}, grads={b: grads.get(b) for b in BLOCKS},
            optimizer_state=state, rmse=math.sqrt(mse), sse=mse * model.count, count=model.count,
            step=self.steps, settings=self.settings, k=config.k, biases=config.biases,
            squash=config.squash, y_range=model.squash_range, squash_range=config.squash_range,
            seed=config.seed, diverged=self.diverged, device=str(self.device),
            user_ids=grid.user_ids, item_ids=grid.item_ids, titles=grid.titles, dataset=grid.name,
            holdout=self.holdout.copy(), holdout_ratings=np.where(self.holdout, self.ratings, np.nan),
            holdout_rmse=holdout_rmse, holdout_count=int(self.holdout.sum()),
        )

    def _repr_html_(self) -> str:
        """The sheet as the lesson's colour-coded table, when a notebook shows it."""
        from collabsheet.engine.sheet.html import snapshot_html  # only a notebook needs it

        return snapshot_html(self.snapshot())


def _copy_state(state: dict, device: str | torch.device | None = None) -> dict:
    """A deep copy of an optimizer state (tensors cloned, on `device` when given)."""
    out = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().clone() if device is None else v.detach().to(device, copy=True)
        out[k] = v
    return out
