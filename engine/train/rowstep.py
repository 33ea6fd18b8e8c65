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
_POOL: list[ThreadPoolExecutor] = []  # one pool for every run, made at the first that wants it


def cpu_workers() -> int:
    """Threads a row-wise batch is split over on the CPU: 2 where there are 2 cores or more (bench/scale.py)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _pool(workers: int) -> Executor | None:
    if workers <= 1:
        return None
    if not _POOL or _POOL[0]._max_workers < workers:  # noqa: SLF001 - the size it was made with
        _POOL[:] = [ThreadPoolExecutor(workers, thread_name_prefix="collabsheet-rows")]
    return _POOL[0]


def row_step(model: nn.Module, opt: torch.optim.Optimizer, loss: Callable) -> DotBiasStep | None:
    """The hand-written step for this model, optimizer and loss, or None where autograd has to do it."""
    if type(model) is not EmbeddingDotBias or type(opt) is not RowAdam or loss is not F.mse_loss:
        return None
    tables = (model.u, model.m, model.ub, model.mb)
    owned = {p for group in opt.param_groups for p in group["params"]}
    if not all(t.sparse and t.weight in owned for t in tables) or len(owned) != len(tables):
        return None
    return DotBiasStep(model, opt, cpu_workers() if model.u.weight.device.type == "cpu" else 1)


class DotBiasStep:
    """EmbeddingDotBias's MSE, gradient and RowAdam update for one batch, in plain tensor operations.

    On the CPU with `workers` > 1 the users' and the movies' sums run side by side, and so do the parts of
    the rows' update: Python threads, each a long run of torch operations (which let go of Python's lock),
    meeting twice a batch. torch's own threads would meet at every operation, and on a busy machine each
    meeting waits for a descheduled thread; these results are the same whatever the number of workers.
    """

    def __init__(self, model: EmbeddingDotBias, opt: RowAdam, workers: int = 1):
        self.model, self.opt, self.workers = model, opt, workers
        self.pool = _pool(workers)

    def __call__(self, split: Split, idx: Tensor) -> Tensor:
        """Train on the ratings of `split` at `idx`; the batch's loss (the MSE before the update)."""
        if idx.device.type == "cpu":
            # in file order: MovieLens files list each user's ratings together, so the batch's users come
            # grouped (summed by embedding_bag, no scatter), and the reads below walk memory forwards
            idx = idx.sort().values
        users, movies, ratings = (x.index_select(0, idx) for x in (split.users, split.movies, split.ratings))
        loss, grads = self.gradients(users, movies, ratings)
        self.opt.step_rows(grads, self.pool, self.workers)
        return loss

    @torch.no_grad()
    def gradients(self, users: Tensor, movies: Tensor, ratings: Tensor) -> tuple[Tensor, list[RowGrad]]:
        """The batch's MSE and its gradient, as summed row gradients of the four tables."""
        mod = self.model
        u, m = mod.u.weight.index_select(0, users), mod.m.weight.index_select(0, movies)
        raw = (u * m).sum(1).add_(mod.ub.weight.view(-1).index_select(0, users))
        raw.add_(mod.mb.weight.view(-1).index_select(0, movies))
        target = ratings.to(raw.dtype)
        if mod.y_range is None:
            err = raw - target
            slope = None
        else:
            lo, hi = mod.y_range
            s = torch.sigmoid(raw)
            err = s * (hi - lo) + (lo - target)  # lo + (hi − lo)·σ(raw) − rating
            slope = s.mul_(s.neg().add_(1)).mul_(hi - lo)  # d prediction / d raw = (hi − lo)·σ·(1 − σ)
        loss = err.square().mean()
        d_raw = err.mul_(2 / len(err))  # d MSE / d prediction
        if slope is not None:
            d_raw.mul_(slope)
        movie_side = (mod.m.weight, mod.mb.weight, movies, u, d_raw)
        later = self.pool.submit(_side, *movie_side) if self.pool is not None else None
        user_grads = _side(mod.u.weight, mod.ub.weight, users, m, d_raw)
        return loss, [*user_grads, *(later.result() if later is not None else _side(*movie_side))]


@torch.no_grad()  # grad mode is per thread: a pool's thread needs its own
def _side(factors: Tensor, bias: Tensor, index: Tensor, other: Tensor, d_raw: Tensor) -> tuple[RowGrad, RowGrad]:
    """Row gradients of one side's factors (d_raw · the other side's factors) and biases (d_raw), summed per row."""
    n = len(index)
    if index.device.type == "cpu" and n > 1 and bool((index[1:] >= index[:-1]).all()):
        # grouped rows (users in file order): each row's sum is one bag of consecutive entries
        rows, counts = torch.unique_consecutive(index, return_counts=True)
        starts = counts.cumsum(0).sub_(counts)
        grad = F.embedding_bag(torch.arange(n, device=index.device), other, starts, mode="sum",
                               per_sample_weights=d_raw)
        bias_grad = F.embedding_bag(torch.arange(n, device=index.device), d_raw.unsqueeze(1), starts, mode="sum")
        uses = counts.to(factors.dtype)
    else:
        rows, at, uses = row_slots(index, factors.shape[0], factors.dtype)
        grad = torch.zeros((len(rows), factors.shape[1]), dtype=factors.dtype, device=factors.device)
        grad.index_add_(0, at, other.mul_(d_raw.unsqueeze(1)))  # `other` is this batch's own gathered copy
        bias_grad = torch.zeros((len(rows), 1), dtype=bias.dtype, device=bias.device)
        bias_grad.view(-1).index_add_(0, at, d_raw)
    return RowGrad(factors, rows, grad, uses, n), RowGrad(bias, rows, bias_grad, uses, n)
