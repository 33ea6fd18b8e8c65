"""A recipe's parts as torch objects: the model, the optimizer over its parameters, the learning-rate schedule."""
from __future__ import annotations

import torch
from torch import nn

from collabsheet.engine.models.factorization import y_range
from collabsheet.engine.models.inputs import Context, GenreMix, Sizes, TimeBias, TimeConts
from collabsheet.engine.models.lesson import (EmbeddingDot, EmbeddingDotBias, EmbeddingDotBiasImplicit, EmbeddingNet,
                                              Ensemble)
from collabsheet.engine.optim.rowwise import RowAdam
from collabsheet.engine.optim.schedules import SGDR, Constant, OneCycle, Schedule
from collabsheet.engine.train.data import Split
from collabsheet.engine.train.recipes import Recipe


def squash_range(recipe: Recipe, ratings: tuple[float, float]) -> tuple[float, float] | None:
    """The sigmoid's output range for the recipe's y_range setting and the ratings' (min, max)."""
    return None if recipe.y_range == "none" else y_range(*ratings, recipe.y_range)


Pairs = tuple[torch.Tensor, torch.Tensor]


def make_model(recipe: Recipe, n_users: int, n_movies: int, ratings: tuple[float, float],
               rated: Pairs | None = None, context: Context | Sizes | None = None,
               members: int | None = None) -> nn.Module:
    """The recipe's model for n_users × n_movies, with ratings (min, max) setting its output range.

    `rated`, the (user index, movie index) pairs of the training ratings, is what svdpp learns from
    besides the ratings themselves; `context` (the movies' genres, the training ratings' times) is what the
    genre and time inputs are built from, or, for a saved model, their tables' Sizes alone (its weights then
    fill them). An ensemble is that many such models from their own random starts: `members` of them where
    given (a stopped ensemble keeps fewer than the recipe's), else recipe.ensemble.
    """
    if recipe.ensemble > 1:
        one = recipe.with_(ensemble=1, name=recipe.name)
        count = recipe.ensemble if members is None else members
        return Ensemble([make_model(one, n_users, n_movies, ratings, rated, context) for _ in range(count)])
    context = context or Context()
    inputs = _inputs(recipe, n_users, n_movies, context)
    if recipe.model == "svdpp":
        if rated is None:
            raise ValueError("the svdpp model needs the training ratings' (user, movie) pairs")
        return EmbeddingDotBiasImplicit(n_users, n_movies, recipe.factors, squash_range(recipe, ratings), *rated,
                                        sparse=recipe.sparse, **inputs)
    if recipe.model == "dot":
        return EmbeddingDot(n_users, n_movies, recipe.factors, sparse=recipe.sparse, **inputs)
    if recipe.model == "dotbias":
        return EmbeddingDotBias(n_users, n_movies, recipe.factors, squash_range(recipe, ratings), sparse=recipe.sparse,
                                **inputs)
    return EmbeddingNet(n_users, n_movies, recipe.factors, ratings, recipe.nh, recipe.p1, recipe.p2,
                        sparse=recipe.sparse, layers=recipe.hidden, activation=recipe.activation,
                        user_factors=recipe.user_factors or None, movie_factors=recipe.movie_factors or None, **inputs)


def _inputs(recipe: Recipe, n_users: int, n_movies: int, context: Context | Sizes) -> dict[str, nn.Module]:
    """The genre and time modules the recipe asks for, as keyword arguments of its model."""
    inputs: dict[str, nn.Module] = {}
    sized = isinstance(context, Sizes)
    if recipe.genres != "off":
        if sized:
            inputs["genres"] = GenreMix(n_movies, context.genres, recipe.sizes[1])
        elif context.genres is None:
            raise ValueError("genres need a movie's genres, and these ratings have none (MovieLens has them; for "
                             "another file name a genres file or column)")
        else:
            inputs["genres"] = GenreMix.of(context.genres, recipe.sizes[1], recipe.genres)
    if recipe.time == "conts":
        inputs["conts"] = TimeConts(n_users) if sized else TimeConts.of(*_timed(context), n_users)
    elif recipe.time != "off":
        inputs["time"] = (TimeBias(n_users, context.days, recipe.sparse) if sized
                          else TimeBias.of(*_timed(context), n_users, recipe.sparse))
    return inputs


def _timed(context: Context) -> Pairs:
    """The training ratings' user indices and timestamps, which the time inputs are built from."""
    if context.times is None or context.users is None:
        raise ValueError("time needs each rating's timestamp, and these ratings have none (MovieLens has them; "
                         "for another file name its timestamp column)")
    return context.users, context.times


# Whose each embedding table's rows are, by the table's name: a user's or a movie's (svdpp's y is a movie's; the
# time bias's drift is a user's); a time bias's day table has a row per (user, day) (counted by TimeBias.rows)
SIDES = {"u": "users", "ub": "users", "m": "movies", "mb": "movies", "y": "movies", "drift": "users"}


def _table(name: str) -> str:
    """The table a parameter's weight belongs to ('time.day.weight' → 'day', in an ensemble too); '' for the rest."""
    return name.split(".")[-2] if name.endswith(".weight") else ""


def make_optimizer(recipe: Recipe, module: nn.Module, device: torch.device, train: Split) -> torch.optim.Optimizer:
    """torch.optim's SGD, SGD with momentum, Adam or AdamW over the module, with the recipe's lr and weight decay.

    A sparse recipe gets RowAdam (Adam's arithmetic on the rows each batch used, weight decay on those rows,
    each in proportion to the training ratings `train` holds for it: engine.optim.rowwise).
    """
    if recipe.sparse:
        return RowAdam(_row_groups(recipe, module, train), lr=recipe.lr, weight_decay=recipe.wd,
                       decoupled=recipe.optimizer == "adamw", ratings=len(train))
    fast = {"fused": True} if device.type == "cuda" else {}
    named = list(module.named_parameters())
    implicit = [p for name, p in named if _table(name) == "y"]
    params = [{"params": [p for name, p in named if _table(name) != "y"]}]
    if implicit:  # svdpp's implicit factors decay at their own rate
        params.append({"params": implicit, "weight_decay": recipe.implicit_wd})
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, weight_decay=recipe.wd)
    if recipe.optimizer == "momentum":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.wd)
    cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=recipe.lr, weight_decay=recipe.wd, **fast)


def _row_groups(recipe: Recipe, module: nn.Module, train: Split) -> list[dict]:
    """RowAdam's parameter groups: a user's rows, a movie's, svdpp's y (its own decay), each time bias's days, and
    the dense rest (genre tables, a net's layers), each with how many training ratings use each of its rows."""
    lookups = {"users": train.users, "movies": train.movies}  # the row each training rating reads, by side
    days = {}  # id of each time bias's day table → its side
    for i, time in enumerate(m for m in module.modules() if isinstance(m, TimeBias)):
        if train.times is None:
            raise ValueError("time needs each rating's timestamp, and these ratings have none")
        lookups[f"days {i}"] = time.rows(train.users, train.times)
        days[id(time.day.weight)] = f"days {i}"
    groups: dict[tuple[str, bool], list] = {}
    for name, p in module.named_parameters():
        side = days.get(id(p), SIDES.get(_table(name), ""))
        groups.setdefault((side, _table(name) == "y"), []).append(p)
    out = []
    for (side, implicit), params in groups.items():
        group: dict = {"params": params}
        if side:  # at least 1: a row no training rating reads (a user seen only in validation) is never decayed
            rows = torch.bincount(lookups[side], minlength=params[0].shape[0]).clamp(min=1)
            group["counts"] = rows.to(params[0].device, params[0].dtype)
        if implicit:
            group["weight_decay"] = recipe.implicit_wd
        out.append(group)
    return out


def make_schedule(recipe: Recipe, batches_per_epoch: int) -> Schedule:
    """The recipe's learning rate for each iteration of its run."""
    if recipe.schedule == "sgdr":
        return SGDR(recipe.lr, batches_per_epoch, recipe.cycle_len, recipe.cycle_mult, warmup=recipe.warmup)
    if recipe.schedule == "onecycle":
        return OneCycle(recipe.lr, recipe.epochs * batches_per_epoch)
    return Constant(recipe.lr)
