"""One training run from ratings and a recipe: split, model, optimizer, schedule, fit, and the trained model."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
import torch

from collabsheet.engine.data.ratings import Ratings
from collabsheet.engine.device import pick_device, threads_for
from collabsheet.engine.train.build import make_model, make_optimizer, make_schedule
from collabsheet.engine.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from collabsheet.engine.train.data import TrainData, prepare
from collabsheet.engine.task import Task
from collabsheet.engine.train.ensemble import fit_ensemble
from collabsheet.engine.train.fit import FitResult, check_settings, fit
from collabsheet.engine.train.model import CollabModel
from collabsheet.engine.train.recipes import Recipe


@dataclass(eq=False)
class Learned:
    """A finished (or stopped) run: the model, what fit did, and the data it was trained and validated on."""

    model: CollabModel
    history: FitResult
    data: TrainData


def learn(ratings: Ratings | TrainData, recipe: Recipe, *, valid: Ratings | None = None, seed: int = 42,
          device: str | torch.device | None = None, task: Task | None = None,
          checkpoint: str | os.PathLike | None = None, resume: bool | Checkpoint = False) -> Learned:
    """Train the recipe's model on `ratings` (a seeded 80/20 split, or `valid` as the validation set).

    `seed` picks the split, the initial weights and the batch order, so a run repeats exactly on the CPU.
    Pass prepared TrainData to skip the split (e.g. several recipes on one split). The task hears fit's batch and
    epoch events and ends the run between batches when cancelled (engine.train.fit). With `checkpoint`, each
    finished epoch is written there (engine.train.checkpoint); `resume` first loads it (or is it, already read)
    and goes on from it.
    """
    device = pick_device(device)
    data = ratings if isinstance(ratings, TrainData) else prepare(ratings, valid=valid, seed=seed, device=device)
    bs = recipe.batch_size(len(data.train))
    check_settings(recipe.epochs, bs, len(data.train))
    if resume and checkpoint is None:
        raise ValueError("resuming needs the checkpoint to resume from")
    if recipe.ensemble > 1 and (checkpoint is not None or resume):
        raise ValueError("an ensemble is not checkpointed; train it without a checkpoint (its model saves at the end)")
    gpus = [data.device] if data.device.type == "cuda" else []
    # Row-wise updates run torch on one CPU thread: their many short gathers and scatters would each wait for
    # every OpenMP thread, and on a shared machine a descheduled thread makes each wait a time slice (fast at 10M: two
    # torch threads gave 0.16–0.19M ratings/s per CPU second under others' load, one 1.8–2.0M). fast's batches
    # use a second core through engine.train.rowstep's own threads instead, which meet three times a batch.
    work = 0 if recipe.sparse else bs * recipe.factors
    with torch.random.fork_rng(devices=gpus), threads_for(data.device, work):
        torch.manual_seed(seed)  # the weights and the dropout masks, without touching the caller's random state
        if recipe.ensemble > 1:
            module, history = fit_ensemble(recipe, data, seed, bs, task)
            return Learned(CollabModel.of(module, recipe, data, history.valid_rmse), history, data)
        module = make_model(recipe, len(data.users), len(data.movies), data.rating_range,
                            (data.train.users, data.train.movies), data.context()).to(data.device)
        opt = make_optimizer(recipe, module, data.device, data.train)
        state = None
        if resume:
            saved = resume if isinstance(resume, Checkpoint) else load_checkpoint(checkpoint)
            saved.check(recipe, data, seed)
            module.load_state_dict(saved.module)
            opt.load_state_dict(saved.optimizer)
            state = saved.state
        on_state = None
        if checkpoint is not None:
            def on_state(s) -> None:
                save_checkpoint(checkpoint, module, opt, s, recipe, data, seed)
        schedule = make_schedule(recipe, math.ceil(len(data.train) / bs))
        history = fit(module, data, recipe.epochs, opt, bs=bs, schedule=schedule, seed=seed,
                      task=task, resume=state, on_state=on_state)
    return Learned(CollabModel.of(module, recipe, data, history.valid_rmse), history, data)
