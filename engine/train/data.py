"""Training data: contiguous indices for the ids, the seeded validation split, tensors on the device."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from collabsheet.engine.data.ratings import TIME, Ratings
from collabsheet.engine.models.inputs import Context
from collabsheet.engine.train.splits import overlap


class UnknownIdError(ValueError):
    """An id the model never saw; str(error) names it."""


class IdMap:
    """Original ids ↔ contiguous indices 0..n−1: the lesson's {o: i for i, o in enumerate(u_uniq)}."""

    def __init__(self, ids: np.ndarray, what: str = "user"):
        self.ids = np.asarray(ids)  # the original ids, in index order
        self.what = what  # what the ids are, for error messages: "user" or "movie"
        self._index = pd.Index(self.ids)

    @classmethod
    def of(cls, ids, what: str) -> IdMap:
        """The map of the distinct ids in `ids`, sorted."""
        return cls(np.sort(pd.unique(np.asarray(ids))), what)

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, ids) -> np.ndarray:
        """Each id's index, −1 where the map lacks it."""
        return self._index.get_indexer(np.asarray(ids))

    def index(self, ids) -> np.ndarray:
        """Each id's index; an id the map lacks raises UnknownIdError naming it."""
        found = self.lookup(ids)
        if (found < 0).any():
            missing = np.asarray(ids)[found < 0]
            raise UnknownIdError(f"{self.what} {_show(missing[0])} is not in the model "
                                 f"({_more(missing)}it knows {len(self):,} {self.what}s)")
        return found

    def id_of(self, index: int):
        """The original id at `index`, as a plain Python value."""
        return self.ids[index].item() if isinstance(self.ids[index], np.generic) else self.ids[index]

    def parse(self, text: str):
        """An id typed by a person (always text) as this map's kind of id: a whole number where the ids are."""
        if np.issubdtype(self.ids.dtype, np.integer):
            try:
                return int(text)
            except ValueError:
                raise UnknownIdError(f"{self.what} {text!r} is not in the model "
                                     f"({self.what} ids are whole numbers)") from None
        return str(text)


def _show(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _more(missing: np.ndarray) -> str:
    others = len(pd.unique(missing)) - 1
    return f"nor are {others} other{'s' * (others != 1)}; " if others else ""


@dataclass(frozen=True)
class Split:
    """One side of the data as tensors on the device: user and movie indices and the ratings."""

    users: torch.Tensor  # int64 indices
    movies: torch.Tensor  # int64 indices
    ratings: torch.Tensor  # float32
    times: torch.Tensor | None = None  # int64 seconds, where the ratings carry timestamps

    def __len__(self) -> int:
        return len(self.ratings)

    def inputs(self, rows: torch.Tensor | slice, model: torch.nn.Module) -> tuple[torch.Tensor, ...]:
        """What `model` reads for these rows: user and movie indices, and their timestamps if it uses time."""
        if getattr(model, "uses_time", False):
            if self.times is None:
                raise ValueError("this model uses each rating's time, and these ratings have no timestamps")
            return self.users[rows], self.movies[rows], self.times[rows]
        return self.users[rows], self.movies[rows]


@dataclass(frozen=True)
class TrainData:
    """What fit() and the models need from a ratings table."""

    users: IdMap
    movies: IdMap
    train: Split
    valid: Split
    rating_range: tuple[float, float]  # lowest and highest rating in the training data
    titles: dict  # movie id -> title (may be empty)
    name: str  # the dataset's name, to print
    notes: tuple[str, ...] = ()  # what a person should hear: e.g. validation ratings left out
    genres: torch.Tensor | None = None  # movies × genres, 1 where the movie has the genre (None: no genres)
    genre_names: tuple[str, ...] = ()  # the columns of genres

    def context(self) -> Context:
        """The facts the genre and time inputs are built from (engine.models.inputs)."""
        return Context(self.genres, self.train.users if self.train.times is not None else None, self.train.times)

    @property
    def device(self) -> torch.device:
        return self.train.ratings.device

    def rated(self) -> tuple[np.ndarray, np.ndarray]:
        """(user index, movie index) of every rating, training and validation."""
        users = torch.cat([self.train.users, self.valid.users]).cpu().numpy()
        return users, torch.cat([self.train.movies, self.valid.movies]).cpu().numpy()

    def movie_counts(self) -> np.ndarray:
        """Ratings per movie in the training data, by movie index."""
        return torch.bincount(self.train.movies, minlength=len(self.movies)).cpu().numpy()


VALID_SHARE = 0.2  # the validation rows of a seeded random split, as the lesson's get_cv_idxs


def split_indices(n: int, pct: float = VALID_SHARE, seed: int = 42) -> np.ndarray:
    """A seeded random pct of the row numbers 0..n−1, as fastai's get_cv_idxs picks the validation rows."""
    if not 0 < pct < 1:
        raise ValueError(f"the validation share must be between 0 and 1, got {pct}")
    return np.random.default_rng(seed).permutation(n)[: int(pct * n)]


def _split(users: np.ndarray, movies: np.ndarray, ratings: np.ndarray, device: torch.device,
           times: np.ndarray | None = None) -> Split:
    as_long = {"dtype": torch.int64, "device": device}  # torch.tensor copies, so pandas' read-only arrays are fine
    return Split(torch.tensor(users, **as_long), torch.tensor(movies, **as_long),
                 torch.tensor(ratings, dtype=torch.float32, device=device),
                 None if times is None else torch.tensor(times, **as_long))


def genre_flags(ratings: Ratings, movies: IdMap, device: torch.device) -> tuple[torch.Tensor | None, tuple[str, ...]]:
    """Movies × genres (1 where a movie has a genre), by movie index, and the genres' names; None without genres."""
    names = tuple(sorted({g for gs in ratings.genres.values() for g in gs}))
    if not names:
        return None, ()
    column = {g: j for j, g in enumerate(names)}
    flags = np.zeros((len(movies), len(names)), dtype=np.float32)
    for i, movie in enumerate(movies.ids.tolist()):
        for g in ratings.genres.get(movie, ()):
            flags[i, column[g]] = 1.0
    return torch.tensor(flags, device=device), names


def prepare(ratings: Ratings, *, valid: Ratings | None = None, pct: float = 0.2, seed: int = 42,
            device: str | torch.device = "cpu") -> TrainData:
    """Index maps and tensors for training: a seeded pct of `ratings` held out, or `valid` as the validation set.

    With a random split the maps cover every id in `ratings` (as in the lesson); with a validation file they
    cover the training ids only, and validation ratings whose user or movie training lacks are counted in
    `notes` and left out.
    """
    device = torch.device(device)
    frame = ratings.frame
    users, movies = IdMap.of(frame["user"].to_numpy(), "user"), IdMap.of(frame["item"].to_numpy(), "movie")
    u, m = users.lookup(frame["user"].to_numpy()), movies.lookup(frame["item"].to_numpy())
    y = frame["rating"].to_numpy()
    timed = ratings.has_times and (valid is None or valid.has_times)  # time models need both sides' timestamps
    t = frame[TIME].to_numpy() if timed else None
    notes: tuple[str, ...] = ()
    if valid is None:
        held = np.zeros(len(frame), dtype=bool)
        held[split_indices(len(frame), pct, seed)] = True
        train = (u[~held], m[~held], y[~held], device, None if t is None else t[~held])
        rest = (u[held], m[held], y[held], device, None if t is None else t[held])
    else:
        vf = valid.frame
        vu, vm = users.lookup(vf["user"].to_numpy()), movies.lookup(vf["item"].to_numpy())
        known = (vu >= 0) & (vm >= 0)
        train = (u, m, y, device, t)
        rest = (vu[known], vm[known], vf["rating"].to_numpy()[known], device,
                vf[TIME].to_numpy()[known] if timed else None)
        if not known.all():
            notes = (_left_out(valid, vu, vm, known, ratings.name),)
        if shared := overlap(ratings, valid):
            notes += (f"{valid.name}: {shared:,} of its {len(vf):,} validation ratings are also in {ratings.name}; "
                      "a validation the model trained on flatters it",)
        if not known.any():
            raise ValueError(f"{valid.source}: none of its {len(vf):,} ratings has a user and a movie that "
                             f"{ratings.name} has; is it the validation file for these ratings?")
    rating_range = (float(train[2].min()), float(train[2].max()))
    flags, names = genre_flags(ratings, movies, device)
    return TrainData(users, movies, _split(*train), _split(*rest), rating_range, dict(ratings.titles), ratings.name,
                     notes, flags, names)


def _left_out(valid: Ratings, vu: np.ndarray, vm: np.ndarray, known: np.ndarray, train_name: str) -> str:
    vf = valid.frame
    new_users = len(pd.unique(vf["user"].to_numpy()[vu < 0]))
    new_movies = len(pd.unique(vf["item"].to_numpy()[vm < 0]))
    n = int((~known).sum())
    return (f"{valid.name}: left out {n:,} of {len(vf):,} validation ratings whose user or movie {train_name} "
            f"lacks ({new_users:,} unknown user{'s' * (new_users != 1)}, "
            f"{new_movies:,} unknown movie{'s' * (new_movies != 1)})")


def synthetic(n_ratings: int, n_users: int, n_movies: int, *, k: int = 8, pct: float = 0.2, seed: int = 0,
              device: str | torch.device = "cpu") -> TrainData:
    """Random ratings 1–5 from a rank-k taste model, made on the device: for throughput at scales no file here has."""
    device = torch.device(device)
    g = torch.Generator(device=device).manual_seed(seed)
    users = torch.randint(n_users, (n_ratings,), generator=g, device=device)
    movies = torch.randint(n_movies, (n_ratings,), generator=g, device=device)
    taste_u = torch.randn(n_users, k, generator=g, device=device) / k**0.5
    taste_m = torch.randn(n_movies, k, generator=g, device=device)
    noise = 0.5 * torch.randn(n_ratings, generator=g, device=device)
    ratings = (3.5 + (taste_u[users] * taste_m[movies]).sum(1) + noise).round().clamp(1, 5)
    held = int(pct * n_ratings)
    split = lambda s: Split(users[s], movies[s], ratings[s])  # noqa: E731 - the rows are already random
    return TrainData(IdMap(np.arange(n_users), "user"), IdMap(np.arange(n_movies), "movie"),
                     split(slice(held, None)), split(slice(0, held)), (1.0, 5.0), {},
                     f"synthetic {n_ratings:,} ratings, {n_users:,} users × {n_movies:,} movies")
