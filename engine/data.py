"""Ratings tables: the one type every source produces, and the loader for files on disk."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


class RatingsError(ValueError):
    """A ratings source could not be used; str(error) is one line naming the file and what is wrong."""


@dataclass(frozen=True)
class Ratings:
    """A ratings table: one row per (user, item) with a float rating, plus optional item titles."""

    frame: pd.DataFrame  # columns exactly: user, item, rating (float64); one row per (user, item)
    name: str  # what to call it in the UI, e.g. "MovieLens 100k" or the file's name
    source: str  # where it came from: a path or a URL
    titles: dict = field(default_factory=dict)  # item id -> title; may be empty
    notes: tuple[str, ...] = ()  # things the loader did that a user should hear about
    licence: str = ""  # licence/citation notice to show with the data, if any

    @property
    def n_users(self) -> int:
        return int(self.frame["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.frame["item"].nunique())

    def __len__(self) -> int:
        return len(self.frame)
