"""The lesson's crosstab: the most active users × the most rated items, blank where unrated."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from collabsheet.engine.config import DEFAULT_TOP, MAX_TOP, MIN_TOP
from collabsheet.engine.data.errors import RatingsError

if TYPE_CHECKING:  # Crosstab itself needs no pandas: the window's first frame is drawn before pandas is imported
    import pandas as pd

    from collabsheet.engine.data.ratings import Ratings


@dataclass(frozen=True)
class Crosstab:
    """A users × items grid of ratings (NaN = blank) with the ids and titles along its edges."""

    ratings: np.ndarray  # float64 (n_users, n_items); NaN where the user did not rate the item
    user_ids: tuple  # row labels, in order
    item_ids: tuple  # column labels, in order
    titles: tuple[str, ...]  # one per item; the id as text where the data has no title
    name: str = ""  # the dataset's name

    @property
    def mask(self) -> np.ndarray:
        return ~np.isnan(self.ratings)


def top_ids(counts: pd.Series, n: int) -> list:
    """The n ids with the most ratings; ties go to the smaller id so the pick is deterministic."""
    table = counts.rename("count").rename_axis("id").reset_index()
    table = table.sort_values(["count", "id"], ascending=[False, True], kind="mergesort")
    return table["id"].head(n).tolist()


def top_crosstab(ratings: Ratings, n: int = DEFAULT_TOP, n_items: int | None = None) -> Crosstab:
    """Crosstab the n users and n items (or n_items) with the most ratings."""
    n_items = n if n_items is None else n_items
    for what, value in (("top-N users", n), ("top-N items", n_items)):
        if not MIN_TOP <= value <= MAX_TOP:
            raise ValueError(f"{what} must be between {MIN_TOP} and {MAX_TOP}, got {value}")
    frame = ratings.frame
    users = top_ids(frame["user"].value_counts(), n)
    items = top_ids(frame["item"].value_counts(), n_items)
    kept = frame[frame["user"].isin(users) & frame["item"].isin(items)]
    if kept.empty:  # a sheet with no rated cells has no loss to fit, and its workbook could not be read back
        raise RatingsError(f"{ratings.name}: the {len(users)} most active users and the {len(items)} most rated "
                           "items share no rating, so the sheet would have no rated cells; choose a larger top-N "
                           "or ratings where the most active users rate the most rated items", "top")
    grid = kept.pivot(index="user", columns="item", values="rating").reindex(index=users, columns=items)
    titles = tuple(str(ratings.titles.get(i, i)) for i in items)
    return Crosstab(grid.to_numpy(dtype=np.float64), tuple(users), tuple(items), titles, ratings.name)
