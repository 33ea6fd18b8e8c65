"""A mini-batch of the row-wise dot-product-with-biases model, its backward pass written out (no autograd).

For `fast` (EmbeddingDotBias with sparse embeddings, RowAdam, the MSE) autograd's bookkeeping costs more
than the arithmetic: sparse gradient tensors, one row gathered per lookup four times over, the rows found
again in the optimizer. Here the batch's rows are found once per side (users, movies), the prediction and
its gradient are a few whole-batch operations, each side's per-row sums are one index_add_, and RowAdam's
own update (`step_rows`) runs on those rows. Same model, same optimizer state, same arithmetic up to the
order of float sums; any other model, optimizer or loss goes through autograd as before.
"""
from __future__ import annotations

import os
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from collabsheet.engine.models.lesson import EmbeddingDotBias
from collabsheet.engine.optim.rowwise import RowAdam, RowGrad, row_slots
from collabsheet.engine.train.data import Split

Tensor = torch.Tensor
_POOLS: dict[int, ThreadPoolExecutor] = {}  # by size: one pool for every run, made at the first that wants it


def cpu_workers() -> int:
    """Threads a row-wise batch is split over on the CPU: 2 where there are 2 cores or more (bench/scale.py)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _pool(workers: int) -> Executor | None:
    if workers <= 1:
        return None
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="collabsheet-rows")
    return _POOLS[workers]


def row_step(model: nn.Module, opt: torch.optim.Optimizer, loss: Callable) -> DotBiasStep | None:
    """The hand-written step for this model, optimizer and loss, or None where autograd has to do it."""
    if type(model) is not EmbeddingDotBias or type(opt) is not RowAdam or loss is not F.mse_loss:
        return None
    if getattr(model, "genres", None) is not None or getattr(model, "time", None) is not None:
        return None  # genre and time inputs: their gradients are autograd's
    tables = (model.u, model.m, model.ub, model.mb)
    owned = {p for group in opt.param_groups for p in group["params"]}
    if not all(t.sparse and t.weight in owned for t in tables) or len(owned) != len(tables):
        return None
    return DotBiasStep(model, opt, cpu_workers() if model.u.weight.device.type == "cpu" else 1)


class DotBiasStep:
    """EmbeddingDotBias's MSE, gradient and RowAdam update for one batch, in plain tensor operations.

    On the CPU with `workers` > 1 each phase of a batch runs in parts side by side (the prediction for each
    half of the batch, then the users' and the movies' sums, then parts of the rows' update): Python threads,
    each a long run of torch operations (which let go of Python's lock), meeting three times a batch. torch's
    own threads would meet at every operation, and on a busy machine each meeting waits for a descheduled
    thread. Parts are cut at multiples of 64 entries, so each element meets the same vector or scalar code
    as in one part: the numbers are the same whatever the number of workers.
    """

    def __init__(self, model: EmbeddingDotBias, opt: RowAdam, workers: int = 1):
        self.model, self.opt, self.workers = model, opt, workers
        self.pool = _pool(workers)

    def __call__(self, split: Split, idx: Tensor) -> Tensor:
        """Train on the ratings of `split` at `idx`; the batch's loss (the MSE before the update)."""
        loss, grads = self._gradients(split, idx)
        self.opt.step_rows(grads, self.pool, self.workers)
        return loss

    def gradients(self, users: Tensor, movies: Tensor, ratings: Tensor) -> tuple[Tensor, list[RowGrad]]:
        """The batch's MSE and its gradient, as summed row gradients of the four tables."""
        return self._gradients(Split(users, movies, ratings), torch.arange(len(users), device=users.device))

    def _gradients(self, split: Split, idx: Tensor) -> tuple[Tensor, list[RowGrad]]:
        mod, n = self.model, len(idx)
        batch = _Batch(n, mod.u.weight, split.users)
        cut = n // 2 // 64 * 64 if self.pool is not None else 0
        later = self.pool.submit(self._predict, split, idx, batch, cut, n) if cut else None
        self._predict(split, idx, batch, 0, cut or n)
        if later is not None:
            later.result()
        loss = batch.squares.sum() / n
        movie_side = (mod.m.weight, mod.mb.weight, batch.movies, batch.u, batch.d_raw)
        later = self.pool.submit(_side, *movie_side) if self.pool is not None else None
        user_grads = _side(mod.u.weight, mod.ub.weight, batch.users, batch.m, batch.d_raw)
        return loss, [*user_grads, *(later.result() if later is not None else _side(*movie_side))]

    @torch.no_grad()  # grad mode is per thread: a pool's thread needs its own
    def _predict(self, split: Split, idx: Tensor, batch: _Batch, start: int, stop: int) -> None:
        """The entries start:stop of the batch: their rows, predictions' errors and d MSE / d raw prediction."""
        mod, at = self.model, slice(start, stop)
        users, movies, u, m = batch.users[at], batch.movies[at], batch.u[at], batch.m[at]
        torch.index_select(split.users, 0, idx[at], out=users)
        torch.index_select(split.movies, 0, idx[at], out=movies)
        target = split.ratings.index_select(0, idx[at]).to(u.dtype)
        torch.index_select(mod.u.weight, 0, users, out=u)
        torch.index_select(mod.m.weight, 0, movies, out=m)
        raw = (u * m).sum(1).add_(mod.ub.weight.view(-1).index_select(0, users))
        raw.add_(mod.mb.weight.view(-1).index_select(0, movies))
        if mod.y_range is None:
            err = raw.sub_(target)
            slope = None
        else:
            lo, hi = mod.y_range
            s = torch.sigmoid(raw)
            err = s * (hi - lo) + (lo - target)  # lo + (hi − lo)·σ(raw) − rating
            slope = s.mul_(s.neg().add_(1)).mul_(hi - lo)  # d prediction / d raw = (hi − lo)·σ·(1 − σ)
        batch.squares[0 if start == 0 else 1] = err.square().sum()
        d_raw = torch.mul(err, 2 / batch.n, out=batch.d_raw[at])  # d MSE / d prediction
        if slope is not None:
            d_raw.mul_(slope)


class _Batch:
    """A batch's entries as the parts of a step fill them in: rows, gathered factors, d MSE / d raw, squared errors."""

    def __init__(self, n: int, factors: Tensor, index: Tensor):
        self.n = n
        self.users = torch.empty(n, dtype=index.dtype, device=index.device)
        self.movies = torch.empty(n, dtype=index.dtype, device=index.device)
        self.u = torch.empty((n, factors.shape[1]), dtype=factors.dtype, device=factors.device)
        self.m = torch.empty((n, factors.shape[1]), dtype=factors.dtype, device=factors.device)
        self.d_raw = torch.empty(n, dtype=factors.dtype, device=factors.device)
        self.squares = torch.zeros(2, dtype=factors.dtype, device=factors.device)  # each part's sum of squared errors


@torch.no_grad()  # grad mode is per thread: a pool's thread needs its own
def _side(factors: Tensor, bias: Tensor, index: Tensor, other: Tensor, d_raw: Tensor) -> tuple[RowGrad, RowGrad]:
    """Row gradients of one side's factors (d_raw · the other side's factors) and biases (d_raw), summed per row."""
    rows, at, uses = row_slots(index, factors.shape[0], factors.dtype)
    grad = torch.zeros((len(rows), factors.shape[1]), dtype=factors.dtype, device=factors.device)
    grad.index_add_(0, at, other.mul_(d_raw.unsqueeze(1)))  # `other` is this batch's own gathered copy
    bias_grad = torch.zeros((len(rows), 1), dtype=bias.dtype, device=bias.device)
    bias_grad.view(-1).index_add_(0, at, d_raw)
    n = len(index)
    return RowGrad(factors, rows, grad, uses, n), RowGrad(bias, rows, bias_grad, uses, n)
