"""Small ratings tables for the training tests: made here, so each test knows exactly what is in them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from collabsheet.engine.data.ratings import Ratings


def low_rank_ratings(n_users: int = 40, n_movies: int = 30, density: float = 0.6, seed: int = 0,
                     user_offset: int = 100, movie_offset: int = 1000) -> Ratings:
    """Ratings 1–5 from a rank-2 taste model plus noise, with ids that are not 0..n−1 and titles for every movie."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_movies)) + rng.normal(0, 0.3, (n_users, n_movies))
    stars = np.clip(np.round(3 + taste), 1, 5)
    users, movies = np.nonzero(rng.random((n_users, n_movies)) < density)
    frame = pd.DataFrame({"user": users + user_offset, "item": movies + movie_offset,
                          "rating": stars[users, movies].astype(float)})
    titles = {movie_offset + m: f"Movie {m}" for m in range(n_movies)}
    return Ratings(frame=frame, name="low-rank test ratings", source="tests", titles=titles)
