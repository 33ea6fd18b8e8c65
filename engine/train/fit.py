"""The fit loop, as the lesson's fit(model, data, epochs, opt, loss): shuffled mini-batches, one line per epoch.

The loop does the arithmetic and reports through its Task (engine.task): each batch's and each epoch's event
as a partial result, with the share of the run done; whatever listens (a progress bar, the Training tab's
curves, a log) is the task's listener, and the task's cancel flag is read between batches.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from collabsheet.engine.optim.schedules import Schedule
from collabsheet.engine.task import Task
from collabsheet.engine.train.data import Split, TrainData
from collabsheet.engine.train.rowstep import row_step

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
AVG_MOM = 0.98  # the lesson's smoothing of the training loss
EVAL_CHUNK = 1 << 20  # rows predicted at once when evaluating: bounded memory on 25M ratings
CUDA_SYNC_EVERY = 64  # on a GPU, batch losses are read back in groups, so the GPU never waits on Python


@dataclass(frozen=True)
class BatchEvent:
    """After each mini-batch: where training is and its smoothed loss."""

    iteration: int  # batches done so far in the whole run, from 1
    epoch: int  # from 1
    batch: int  # within the epoch, from 1
    batches: int  # batches in an epoch
    loss: float  # training loss, exponentially weighted moving average (debiased)
    lr: float  # the learning rate this batch used
    size: int  # ratings in a batch (the batch size; an epoch's last batch may hold fewer)


@dataclass(frozen=True)
class EpochEvent:
    """After each epoch: the lesson's line, epoch · training loss · validation loss."""

    epoch: int  # from 1
    train_loss: float  # the smoothed training loss at the epoch's end
    valid_mse: float  # mean squared error on the validation ratings
    valid_rmse: float
    seconds: float  # since fit began


@dataclass(frozen=True)
class FitResult:
    """What a run of fit did."""

    epochs: tuple[EpochEvent, ...]  # one per completed epoch
    iterations: int  # batches done
    seconds: float  # wall-clock time of the whole fit, validation included
    stopped: bool  # cancelling the task ended it early
    diverged: bool  # the loss became inf or NaN, which ended it

    @property
    def valid_rmse(self) -> float:
        """The last completed epoch's validation RMSE (NaN if no epoch completed)."""
        return self.epochs[-1].valid_rmse if self.epochs else math.nan


@dataclass(frozen=True)
class FitState:
    """Where a run stands after a finished epoch: enough, with the module's and optimizer's states, to go on."""

    epoch: int  # epochs finished
    iterations: int  # batches done
    order_rng: torch.Tensor  # the batch-order generator's state
    torch_rng: torch.Tensor  # torch's CPU random state (dropout masks on the CPU)
    smooth_avg: float  # the smoothed training loss's running average and count
    smooth_n: int
    history: tuple[EpochEvent, ...]
    seconds: float  # training time so far


class Smoothed:
    """fastai's running loss: avg ← mom·avg + (1 − mom)·loss, reported as avg / (1 − momⁿ).

    Dividing by 1 − momⁿ removes the pull towards the 0 the average starts from.
    """

    def __init__(self, mom: float = AVG_MOM):
        self.mom, self.avg, self.n = mom, 0.0, 0

    def add(self, loss: float) -> float:
        self.n += 1
        self.avg = self.mom * self.avg + (1 - self.mom) * loss
        return self.value

    @property
    def value(self) -> float:
        return self.avg / (1 - self.mom**self.n) if self.n else math.nan


def check_settings(epochs: int, bs: int, n_train: int) -> None:
    """One-line errors for settings fit cannot run with."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if bs < 1:
        raise ValueError(f"batch size must be at least 1, got {bs}")
    if bs > n_train:
        raise ValueError(f"batch size {bs:,} is larger than the {n_train:,} training ratings; use at most {n_train:,}")


class _Losses:
    """Batch losses kept on the device and read back in groups (each batch on the CPU), then smoothed and reported."""

    def __init__(self, device: torch.device, batches: int, epochs: int, bs: int, task: Task):
        self.group = CUDA_SYNC_EVERY if device.type == "cuda" else 1
        self.pending = torch.empty(self.group, device=device)
        self.waiting: list[tuple[int, int, int, float]] = []  # (iteration, epoch, batch, lr) of each held loss
        self.smooth, self.batches, self.total, self.bs, self.task = Smoothed(), batches, batches * epochs, bs, task

    def add(self, loss: torch.Tensor, iteration: int, epoch: int, batch: int, lr: float) -> bool:
        """Hold one batch's loss; False when a loss read back is inf or NaN."""
        self.pending[len(self.waiting)] = loss.detach()
        self.waiting.append((iteration, epoch, batch, lr))
        return len(self.waiting) < self.group or self.flush()

    def flush(self) -> bool:
        """Read back and report the held losses; False at the first one that is inf or NaN."""
        values, held = self.pending[:len(self.waiting)].tolist(), self.waiting
        self.waiting = []
        for value, (iteration, epoch, batch, lr) in zip(values, held):
            if not math.isfinite(value):
                return False
            smoothed = self.smooth.add(value)
            if self.task.listened:
                self.task.report(fraction=iteration / self.total, iteration=iteration, loss=smoothed,
                                 result=BatchEvent(iteration, epoch, batch, self.batches, smoothed, lr, self.bs))
        return True


def fit(model: nn.Module, data: TrainData, epochs: int, opt: torch.optim.Optimizer, loss: Loss = F.mse_loss, *,
        bs: int = 64, schedule: Schedule | None = None, seed: int = 0, task: Task | None = None,
        resume: FitState | None = None, on_state: Callable[[FitState], None] | None = None) -> FitResult:
    """Train `model` on data.train for `epochs` epochs of shuffled mini-batches; validate after each epoch.

    `schedule(iteration)` sets every parameter group's lr before each batch. The task hears each batch's
    BatchEvent and each epoch's EpochEvent as its partial results (with the share of the run done); its
    cancel flag is read between batches and ends the run at once. `on_state` hears a FitState after each
    finished epoch (for a checkpoint); `resume` (with the module and optimizer loaded from that checkpoint)
    goes on from there, with the same batch order and schedule as a run that never stopped.
    """
    task = task or Task()
    train = data.train
    check_settings(epochs, bs, len(train))
    batches = math.ceil(len(train) / bs)
    generator = torch.Generator(device=train.ratings.device).manual_seed(seed)
    losses = _Losses(train.ratings.device, batches, epochs, bs, task)
    done, history, stopped, diverged, first, before = 0, [], False, False, 1, 0.0
    if resume is not None:
        generator.set_state(resume.order_rng)
        torch.set_rng_state(resume.torch_rng)
        losses.smooth.avg, losses.smooth.n = resume.smooth_avg, resume.smooth_n
        done, history, first, before = resume.iterations, list(resume.history), resume.epoch + 1, resume.seconds
    start = time.perf_counter() - before
    model.train()
    by_hand = row_step(model, opt, loss)  # fast's model: its backward written out; others: autograd
    for epoch in range(first, epochs + 1):
        order = torch.randperm(len(train), generator=generator, device=train.ratings.device)
        for b in range(batches):
            if stopped := task.cancelled:
                break
            if schedule is not None:
                for group in opt.param_groups:
                    group["lr"] = schedule(done)
            idx = order[b * bs:(b + 1) * bs]
            if by_hand is not None:
                batch_loss = by_hand(train, idx)
            else:
                batch_loss = loss(model(*train.inputs(idx, model)), train.ratings[idx])
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
            done += 1
            if diverged := not losses.add(batch_loss, done, epoch, b + 1, opt.param_groups[0]["lr"]):
                break
        diverged = diverged or not losses.flush()
        if stopped or diverged:
            break
        mse = evaluate(model, data.valid, loss, task=task)
        if stopped := math.isnan(mse) and task.cancelled:
            break
        history.append(EpochEvent(epoch, losses.smooth.value, mse, math.sqrt(mse), time.perf_counter() - start))
        if on_state is not None:
            on_state(FitState(epoch, done, generator.get_state(), torch.get_rng_state(), losses.smooth.avg,
                              losses.smooth.n, tuple(history), history[-1].seconds))
        e = history[-1]
        task.report(fraction=done / (batches * epochs), epoch=epoch, valid_rmse=e.valid_rmse, result=e)
    return FitResult(tuple(history), done, time.perf_counter() - start, stopped, diverged)


def predict_split(model: nn.Module, users: torch.Tensor, movies: torch.Tensor,
                  task: Task | None = None, times: torch.Tensor | None = None) -> torch.Tensor | None:
    """The model's predictions for index tensors, in eval mode and chunks; None if the task was cancelled part way.

    `times` (the ratings' timestamps) reach a model that uses time; without them it predicts with no date.
    """
    task = task or Task()
    was_training = model.training
    model.eval()
    try:
        out = []
        with torch.inference_mode():
            for at in range(0, len(users), EVAL_CHUNK):
                if task.cancelled:
                    return None
                rows = slice(at, at + EVAL_CHUNK)
                extra = (times[rows],) if times is not None and getattr(model, "uses_time", False) else ()
                out.append(model(users[rows], movies[rows], *extra).float())
        return torch.cat(out) if out else torch.empty(0, device=users.device)
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, split: Split, loss: Loss = F.mse_loss, task: Task | None = None) -> float:
    """The loss (by default the MSE) over a whole split; NaN when the split is empty or a cancel cut it short."""
    predicted = predict_split(model, split.users, split.movies, task, split.times)
    if predicted is None or not len(split):
        return math.nan
    return float(loss(predicted.double(), split.ratings.double()))
