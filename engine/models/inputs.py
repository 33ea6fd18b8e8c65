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


def _uniform(n: int, k: int, spread: float = 0.01) -> nn.Embedding:
    e = nn.Embedding(n, k)
    nn.init.uniform_(e.weight, -spread, spread)
    return e


class GenreMix(nn.Module):
    """A k-vector and a bias per genre; a movie gets the sum (or mean) of its genres' ones."""

    def __init__(self, flags: Tensor, k: int, how: str = "mean"):
        super().__init__()
        flags = flags.float()
        weights = flags / flags.sum(1, keepdim=True).clamp(min=1) if how == "mean" else flags
        self.register_buffer("weights", weights)  # movies × genres
        self.g = _uniform(flags.shape[1], k)
        self.gb = _uniform(flags.shape[1], 1)

    def forward(self, movies: Tensor) -> Tensor:
        """Each movie's genre vector, batch × k."""
        return self.weights[movies] @ self.g.weight

    def bias(self, movies: Tensor) -> Tensor:
        """Each movie's genre bias, one per movie."""
        return (self.weights[movies] @ self.gb.weight).squeeze(-1)


def _user_mean_time(users: Tensor, times: Tensor, n_users: int) -> Tensor:
    """Each user's mean timestamp over their training ratings (float64 seconds; 0 for a user with none)."""
    total = torch.zeros(n_users, dtype=torch.float64, device=times.device).index_add_(0, users, times.double())
    return total / torch.bincount(users, minlength=n_users).clamp(min=1).double()


class TimeBias(nn.Module):
    """b(u, day) + α_u · dev_u(t): a bias per (user, day) seen in training, and each user's drift.

    A day the training ratings lack for that user (or no time at all, as when recommending) gets the shared
    row `unseen`, which no training rating updates and so stays 0; without a time, dev is 0 too.
    """

    def __init__(self, users: Tensor, times: Tensor, n_users: int):
        super().__init__()
        origin = int(times.min())
        days = int((int(times.max()) - origin) // DAY) + 2  # room for a day after the last
        self.register_buffer("origin", torch.tensor(origin, dtype=torch.int64))
        self.register_buffer("days", torch.tensor(days, dtype=torch.int64))
        self.register_buffer("keys", torch.unique(users * days + (times - origin) // DAY))  # sorted
        self.register_buffer("mean_time", _user_mean_time(users, times, n_users))
        self.day = nn.Embedding(len(self.keys) + 1, 1)  # the last row: unseen
        self.drift = nn.Embedding(n_users, 1)
        nn.init.zeros_(self.day.weight)
        nn.init.zeros_(self.drift.weight)

    def forward(self, users: Tensor, times: Tensor | None) -> Tensor:
        if times is None:
            return self.day.weight[-1, 0].expand(len(users))
        day = ((times - self.origin) // DAY).clamp(0, int(self.days) - 1)
        key = users * self.days + day
        at = torch.searchsorted(self.keys, key).clamp(max=len(self.keys) - 1)
        row = torch.where(self.keys[at] == key, at, torch.full_like(at, len(self.keys)))
        return self.day(row).squeeze(-1) + self.drift(users).squeeze(-1) * deviation(times, self.mean_time[users])


def deviation(times: Tensor, mean: Tensor) -> Tensor:
    """dev(t) = sign(t − mean)·|t − mean in months|^0.4, float32."""
    months = ((times.double() - mean) / DRIFT_UNIT).float()
    return torch.sign(months) * months.abs() ** DRIFT_POWER


class TimeConts(nn.Module):
    """The net's continuous time inputs: the rating's date across the training span (0…1) and dev_u(t)."""

    width = 2

    def __init__(self, users: Tensor, times: Tensor, n_users: int):
        super().__init__()
        self.register_buffer("origin", torch.tensor(int(times.min()), dtype=torch.int64))
        self.register_buffer("span", torch.tensor(max(1, int(times.max()) - int(times.min())), dtype=torch.int64))
        self.register_buffer("mean_time", _user_mean_time(users, times, n_users))

    def forward(self, users: Tensor, times: Tensor | None) -> Tensor:
        if times is None:  # no date: the end of training, at the user's average date
            return torch.stack([torch.ones(len(users), device=users.device),
                                torch.zeros(len(users), device=users.device)], 1)
        date = ((times - self.origin).double() / self.span.double()).float()
        return torch.stack([date, deviation(times, self.mean_time[users])], 1)
