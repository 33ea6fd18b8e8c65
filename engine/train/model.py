"""A trained model with what it needs to answer in original ids: the id maps, titles, who rated what, its recipe."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from collabsheet.engine.train.data import IdMap, TrainData
from collabsheet.engine.train.fit import predict_split
from collabsheet.engine.train.recipes import Recipe


@dataclass(eq=False)
class CollabModel:
    """An nn.Module from engine.models.lesson together with its id maps and the settings it was trained with."""

    module: nn.Module
    recipe: Recipe
    users: IdMap
    movies: IdMap
    rating_range: tuple[float, float]  # (min, max) rating the model was trained on
    titles: dict  # movie id -> title; may be empty
    counts: np.ndarray  # training ratings per movie, by movie index
    rated_start: np.ndarray  # movies user i rated are rated_movies[rated_start[i]:rated_start[i + 1]]
    rated_movies: np.ndarray
    dataset: str = ""
    valid_rmse: float = math.nan  # measured when it was trained
    last_rated: np.ndarray | None = None  # each user's latest training timestamp (int64 s): a time model's "now"

    @classmethod
    def of(cls, module: nn.Module, recipe: Recipe, data: TrainData, valid_rmse: float = math.nan) -> CollabModel:
        """Wrap a module trained on `data`."""
        users, movies = data.rated()
        order = np.argsort(users, kind="stable")
        start = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=len(data.users)))])
        return cls(module, recipe, data.users, data.movies, data.rating_range, data.titles, data.movie_counts(),
                   start, movies[order].astype(np.int64), data.name, valid_rmse, last_rated(data))

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def title(self, movie_index: int) -> str:
        """The title of the movie at an index, or its id as text when there are no titles."""
        movie = self.movies.id_of(movie_index)
        return str(self.titles.get(movie, movie))

    def rated_by(self, user_index: int) -> np.ndarray:
        """Indices of the movies a user rated (training and validation)."""
        return self.rated_movies[self.rated_start[user_index]:self.rated_start[user_index + 1]]

    def now(self, users: torch.Tensor) -> torch.Tensor | None:
        """The date a time model predicts at when asked with none (recommending): each user's latest training rating.

        Their last sitting is the latest the model knows of each user: its day bias and drift were learned there,
        while a later date would meet a day no rating taught and a drift stretched past every training date.
        None for a model that reads no time.
        """
        if not getattr(self.module, "uses_time", False):
            return None
        if self.last_rated is None:
            raise ValueError("this model uses each rating's time and does not know its users' last rating dates")
        return torch.as_tensor(self.last_rated, device=users.device)[users]


def last_rated(data: TrainData) -> np.ndarray | None:
    """Each user's latest training timestamp (for one with no training rating, the latest of all); None untimed."""
    if data.train.times is None or not len(data.train.times):
        return None
    times, users = data.train.times.cpu(), data.train.users.cpu()  # once a run: the CPU's integer amax is sure
    none = torch.iinfo(torch.int64).min
    latest = torch.full((len(data.users),), none, dtype=torch.int64).scatter_reduce_(0, users, times, reduce="amax")
    return torch.where(latest == none, times.max(), latest).numpy()


def predict(model: CollabModel, users, movies, times=None) -> np.ndarray:
    """Predicted ratings for (user, movie) pairs given by their original ids.

    A time model reads `times` (each pair's timestamp, seconds) where given, else each user's `now`.
    """
    u = torch.as_tensor(model.users.index(users), dtype=torch.int64, device=model.device)
    m = torch.as_tensor(model.movies.index(movies), dtype=torch.int64, device=model.device)
    if times is not None:
        times = torch.as_tensor(np.asarray(times), dtype=torch.int64, device=model.device)
        if times.shape != u.shape:
            raise ValueError(f"{times.numel():,} timestamps for {len(u):,} pairs; give one a pair")
    return predict_split(model.module, u, m, times=model.now(u) if times is None else times).cpu().numpy()


@dataclass(frozen=True)
class Recommendation:
    """A movie the user has not rated, with the rating the model predicts."""

    movie: object  # the original movie id
    title: str
    score: float


def recommend(model: CollabModel, user, n: int = 10) -> list[Recommendation]:
    """The user's top-n movies by predicted rating among those they have not rated."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    u = int(model.users.index([user])[0])
    candidates = np.setdiff1d(np.arange(len(model.movies)), model.rated_by(u))
    users = torch.full((len(candidates),), u, dtype=torch.int64, device=model.device)
    scores = predict_split(model.module, users, torch.as_tensor(candidates, device=model.device),
                           times=model.now(users)).cpu().numpy()
    best = np.argsort(-scores, kind="stable")[:n]
    return [Recommendation(model.movies.id_of(int(candidates[i])), model.title(int(candidates[i])), float(scores[i]))
            for i in best]
