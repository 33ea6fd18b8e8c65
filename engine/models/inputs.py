"""Inputs beyond the ids (the lesson's things to try): a movie's genres, and when a rating was made.

Genres: a learned vector per genre, summed or averaged over a movie's genres, added to the movie's own factors
(and a bias per genre to its bias), so a movie with few ratings borrows from movies of its kind. Time, for the
dot-product models: a bias for each (user, day) the training ratings hold, since people rate a batch of movies
in one sitting in one mood, and a per-user drift times how far a rating lies from the user's average date. Time
for the net: the same two facts as continuous inputs (the lesson's `conts`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

Tensor = torch.Tensor
DAY = 86_400  # seconds
DRIFT_UNIT = 30 * DAY  # the drift's time unit: a month
DRIFT_POWER = 0.4  # dev(t) = sign(Δ)·|Δ|^0.4: Koren's timeSVD++ shape, so far-off dates do not dominate


@dataclass(frozen=True)
class Context:
    """What the genre and time inputs are built from: the training data's facts, as tensors."""

    genres: Tensor | None = None  # movies × genres, 1 where the movie has the genre
    users: Tensor | None = None  # user index of each training rating
    times: Tensor | None = None  # its timestamp, int64 seconds


@dataclass(frozen=True)
class Sizes:
    """The genre and time tables' sizes alone: what a saved model's inputs are built to before its weights load."""

    genres: int = 0  # columns of the movies × genres table
    days: int = 0  # (user, day) pairs the time bias holds a bias for


def _uniform(n: int, k: int, spread: float = 0.01) -> nn.Embedding:
    e = nn.Embedding(n, k)
    nn.init.uniform_(e.weight, -spread, spread)
    return e


class GenreMix(nn.Module):
    """A k-vector and a bias per genre; a movie gets the sum (or mean) of its genres' ones."""

    def __init__(self, n_movies: int, n_genres: int, k: int):
        super().__init__()
        self.register_buffer("weights", torch.zeros(n_movies, n_genres))  # each movie's share of each genre
        self.g = _uniform(n_genres, k)
        self.gb = _uniform(n_genres, 1)

    @classmethod
    def of(cls, flags: Tensor, k: int, how: str = "mean") -> GenreMix:
        """The mix for movies × genres flags (1 where a movie has the genre), summed or averaged ("sum", "mean")."""
        flags = flags.float()
        mix = cls(flags.shape[0], flags.shape[1], k)
        with torch.no_grad():
            mix.weights.copy_(flags / flags.sum(1, keepdim=True).clamp(min=1) if how == "mean" else flags)
        return mix.to(flags.device)

    def forward(self, movies: Tensor) -> Tensor:
        """Each movie's genre vector, batch × k."""
        return self.weights[movies] @ self.g.weight

    def bias(self, movies: Tensor) -> Tensor:
        """Each movie's genre bias, one per movie."""
        return (self.weights[movies] @ self.gb.weight).squeeze(-1)


def _user_mean_time(users: Tensor, times: Tensor, n_users: int) -> Tensor:
    """Each user's mean timestamp over their training ratings (float64 seconds); a user with none (only validation
    ratings) gets the mean of all of them: measured from 1970, their dates' deviation would be decades."""
    total = torch.zeros(n_users, dtype=torch.float64, device=times.device).index_add_(0, users, times.double())
    count = torch.bincount(users, minlength=n_users).double()
    overall = times.double().mean() if len(times) else torch.tensor(0.0, dtype=torch.float64, device=times.device)
    return torch.where(count > 0, total / count.clamp(min=1), overall)


class TimeBias(nn.Module):
    """b(u, day) + α_u · dev_u(t): a bias per (user, day) seen in training, and each user's drift.

    A day the training ratings lack for that user (or no time at all) gets the shared row `unseen`, which no
    training rating updates and so stays 0; without a time, dev is 0 too. The tables (origin, days, keys, each
    user's mean time) are buffers, so a saved model's state holds them; `of` builds them from training ratings.
    """

    def __init__(self, n_users: int, n_days: int, sparse: bool = False):
        super().__init__()
        self.register_buffer("origin", torch.tensor(0, dtype=torch.int64))  # the first training day's start, s
        self.register_buffer("days", torch.tensor(1, dtype=torch.int64))  # days from origin, one after the last
        self.register_buffer("keys", torch.zeros(n_days, dtype=torch.int64))  # user · days + day, sorted
        self.register_buffer("mean_time", torch.zeros(n_users, dtype=torch.float64))
        self.day = nn.Embedding(n_days + 1, 1, sparse=sparse)  # the last row: unseen
        self.drift = nn.Embedding(n_users, 1, sparse=sparse)
        nn.init.zeros_(self.day.weight)
        nn.init.zeros_(self.drift.weight)

    @classmethod
    def of(cls, users: Tensor, times: Tensor, n_users: int, sparse: bool = False) -> TimeBias:
        """The bias for the training ratings' users and timestamps: a row for each (user, day) they hold."""
        origin = int(times.min())
        days = int((int(times.max()) - origin) // DAY) + 2  # room for a day after the last
        keys = torch.unique(users * days + (times - origin) // DAY)
        bias = cls(n_users, len(keys), sparse)
        with torch.no_grad():
            bias.origin.fill_(origin)
            bias.days.fill_(days)
            bias.keys.copy_(keys)
            bias.mean_time.copy_(_user_mean_time(users, times, n_users))
        return bias.to(times.device)

    def rows(self, users: Tensor, times: Tensor) -> Tensor:
        """The row of `day` each (user, time) reads: its (user, day)'s, or the last (unseen)."""
        day = ((times - self.origin) // DAY).clamp(0, int(self.days) - 1)
        key = users * self.days + day
        at = torch.searchsorted(self.keys, key).clamp(max=len(self.keys) - 1)
        return torch.where(self.keys[at] == key, at, torch.full_like(at, len(self.keys)))

    def forward(self, users: Tensor, times: Tensor | None) -> Tensor:
        if times is None:
            return self.day.weight[-1, 0].expand(len(users))
        row = self.rows(users, times)
        return self.day(row).squeeze(-1) + self.drift(users).squeeze(-1) * deviation(times, self.mean_time[users])


def deviation(times: Tensor, mean: Tensor) -> Tensor:
    """dev(t) = sign(t − mean)·|t − mean in months|^0.4, float32."""
    months = ((times.double() - mean) / DRIFT_UNIT).float()
    return torch.sign(months) * months.abs() ** DRIFT_POWER


class TimeConts(nn.Module):
    """The net's continuous time inputs: the rating's date across the training span (0…1) and dev_u(t)."""

    width = 2

    def __init__(self, n_users: int):
        super().__init__()
        self.register_buffer("origin", torch.tensor(0, dtype=torch.int64))  # the first training rating's time, s
        self.register_buffer("span", torch.tensor(1, dtype=torch.int64))  # seconds to the last one (at least 1)
        self.register_buffer("mean_time", torch.zeros(n_users, dtype=torch.float64))

    @classmethod
    def of(cls, users: Tensor, times: Tensor, n_users: int) -> TimeConts:
        """The inputs for the training ratings' users and timestamps."""
        conts = cls(n_users)
        with torch.no_grad():
            conts.origin.fill_(int(times.min()))
            conts.span.fill_(max(1, int(times.max()) - int(times.min())))
            conts.mean_time.copy_(_user_mean_time(users, times, n_users))
        return conts.to(times.device)

    def forward(self, users: Tensor, times: Tensor | None) -> Tensor:
        if times is None:  # no date: the end of training, at the user's average date
            return torch.stack([torch.ones(len(users), device=users.device),
                                torch.zeros(len(users), device=users.device)], 1)
        date = ((times - self.origin).double() / self.span.double()).float()
        return torch.stack([date, deviation(times, self.mean_time[users])], 1)
