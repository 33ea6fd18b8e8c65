"""An ensemble run: the recipe's model trained n times, each from its own seed (its start and its batch order),
then averaged. One after another, so each member learns exactly as a lone run of the recipe would.

Listeners hear one run of n × epochs epochs: member i's epochs and batches are numbered after member i − 1's, and
each member's last epoch reports the validation error of the members so far averaged (the curve then shows what
each further model adds).
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable

import torch

from collabsheet.engine.models.lesson import Ensemble
from collabsheet.engine.train.build import make_model, make_optimizer, make_schedule
from collabsheet.engine.train.data import TrainData
from collabsheet.engine.train.fit import BatchEvent, EpochEvent, FitResult, StopFlag, evaluate, fit
from collabsheet.engine.train.recipes import Recipe


def fit_ensemble(recipe: Recipe, data: TrainData, seed: int, bs: int,
                 on_batch: Callable[[BatchEvent], None] | None = None,
                 on_epoch: Callable[[EpochEvent], None] | None = None,
                 should_stop: StopFlag = None) -> tuple[Ensemble, FitResult]:
    """Train recipe.ensemble models of the recipe (seeds seed, seed + 1, …) and average them."""
    one = recipe.with_(ensemble=1, name=recipe.name)
    batches = math.ceil(len(data.train) / bs)
    members: list[torch.nn.Module] = []
    history: list[EpochEvent] = []
    iterations, start, result = 0, time.perf_counter(), None
    for i in range(recipe.ensemble):
        torch.manual_seed(seed + i)
        module = make_model(one, len(data.users), len(data.movies), data.rating_range,
                            (data.train.users, data.train.movies), data.context()).to(data.device)
        opt = make_optimizer(one, module, data.device)
        epochs_before, iterations_before = i * recipe.epochs, iterations

        def batch(e: BatchEvent, before: int = iterations_before, shift: int = epochs_before) -> None:
            if on_batch is not None:
                on_batch(replace(e, iteration=e.iteration + before, epoch=e.epoch + shift))

        def epoch(e: EpochEvent, module: torch.nn.Module = module, shift: int = epochs_before) -> None:
            if e.epoch == recipe.epochs:  # this member is done: the ensemble so far is what counts
                mse = evaluate(Ensemble(members + [module]), data.valid)
                e = replace(e, valid_mse=mse, valid_rmse=math.sqrt(mse))
            e = replace(e, epoch=e.epoch + shift, seconds=time.perf_counter() - start)
            history.append(e)
            if on_epoch is not None:
                on_epoch(e)

        result = fit(module, data, recipe.epochs, opt, bs=bs, schedule=make_schedule(one, batches), seed=seed + i,
                     on_batch=batch, on_epoch=epoch, should_stop=should_stop)
        iterations += result.iterations
        if result.stopped or result.diverged:  # a member cut short is left out
            break
        members.append(module)
    if not members:  # the first member never finished: it stands alone, as a stopped plain run would
        members.append(module)
    return Ensemble(members), FitResult(tuple(history), iterations, time.perf_counter() - start,
                                        result.stopped, result.diverged)
