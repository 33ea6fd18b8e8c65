"""An ensemble run: the recipe's model trained n times, each from its own seed (its start and its batch order),
then averaged. One after another, so each member learns exactly as a lone run of the recipe would.

The task hears one run of n × epochs epochs: member i's epochs and batches are numbered after member i − 1's, and
each member's last epoch reports the validation error of the members so far averaged (the curve then shows what
each further model adds).
"""
from __future__ import annotations

import math
import time
from dataclasses import replace

import torch

from collabsheet.engine.models.lesson import Ensemble
from collabsheet.engine.train.build import make_model, make_optimizer, make_schedule
from collabsheet.engine.train.data import TrainData
from collabsheet.engine.task import Report, Task
from collabsheet.engine.train.fit import BatchEvent, EpochEvent, FitResult, evaluate, fit
from collabsheet.engine.train.recipes import Recipe


def fit_ensemble(recipe: Recipe, data: TrainData, seed: int, bs: int,
                 task: Task | None = None) -> tuple[Ensemble, FitResult]:
    """Train recipe.ensemble models of the recipe (seeds seed, seed + 1, …) and average them; the task hears one run."""
    task = task or Task()
    one = recipe.with_(ensemble=1, name=recipe.name)
    n = recipe.ensemble
    batches = math.ceil(len(data.train) / bs)
    members: list[torch.nn.Module] = []
    history: list[EpochEvent] = []
    iterations, start, result = 0, time.perf_counter(), None
    for i in range(n):
        torch.manual_seed(seed + i)
        module = make_model(one, len(data.users), len(data.movies), data.rating_range,
                            (data.train.users, data.train.movies), data.context()).to(data.device)
        opt = make_optimizer(one, module, data.device, data.train)

        def renumber(r: Report, i: int = i, before: int = iterations, module: torch.nn.Module = module) -> Report:
            """Member i's report as the ensemble's: its batches and epochs after the members before it."""
            shift = i * recipe.epochs
            e = r.result
            if isinstance(e, BatchEvent):
                e = replace(e, iteration=e.iteration + before, epoch=e.epoch + shift)
            elif isinstance(e, EpochEvent):
                if e.epoch == recipe.epochs:  # this member is done: the ensemble so far is what counts
                    mse = evaluate(Ensemble(members + [module]), data.valid)
                    e = replace(e, valid_mse=mse, valid_rmse=math.sqrt(mse))
                e = replace(e, epoch=e.epoch + shift, seconds=time.perf_counter() - start)
                history.append(e)
            figures = dict(r.figures)
            for name, moved in (("iteration", before), ("epoch", shift)):
                if name in figures:
                    figures[name] += moved
            fraction = None if r.fraction is None else (i + r.fraction) / n
            return Report(r.message, fraction, figures, e)

        result = fit(module, data, recipe.epochs, opt, bs=bs, schedule=make_schedule(one, batches), seed=seed + i,
                     task=task.part(renumber))
        iterations += result.iterations
        if result.stopped or result.diverged:  # a member cut short is left out
            break
        members.append(module)
    if not members:  # the first member never finished: it stands alone, as a stopped plain run would
        members.append(module)
    return Ensemble(members), FitResult(tuple(history), iterations, time.perf_counter() - start,
                                        result.stopped, result.diverged)
