"""One-hot × embedding = lookup: the course's movielens_1hot and movielens_emb sheets, over a sheet's factors.

The ratings in long form (one row per rating: user id, movie id, rating, and each id's 1-based index as
MATCH finds it); each row's user and movie activations computed two ways, as a one-hot row times the factor
matrix and as the factor row picked by the index; the prediction, its squared error and the loss from them.
numpy only: the window's thread builds this view from a snapshot, and it never imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collabsheet.engine.models import factorization
from collabsheet.engine.sheet.snapshot import Snapshot


@dataclass(frozen=True)
class LongForm:
    """The rated cells as rows, in the sheet's reading order (user by user, movies left to right)."""

    user_ids: tuple
    item_ids: tuple
    ratings: np.ndarray  # (R,) the ratings
    user_idx: np.ndarray  # (R,) 1-based, as =MATCH(userId, the users, 0) gives it
    item_idx: np.ndarray  # (R,) 1-based, as =MATCH(movieId, the movies, 0)
    n_users: int
    n_items: int

    def __len__(self) -> int:
        return len(self.ratings)


@dataclass(frozen=True)
class Activations:
    """Each rating's factor rows (and biases), its prediction and squared error, and the loss over them all."""

    user: np.ndarray  # (R, k)
    item: np.ndarray  # (R, k)
    user_bias: np.ndarray | None  # (R,) or None without biases
    item_bias: np.ndarray | None
    predictions: np.ndarray  # (R,)
    errors2: np.ndarray  # (R,) (rating − prediction)²
    loss: float  # SQRT(AVERAGE(error²))


@dataclass(frozen=True)
class RowView:
    """One rating seen both ways: its one-hot rows, the factor rows they pick, and the looked-up rows."""

    index: int  # the long form's row
    user_one_hot: np.ndarray  # (n,)
    item_one_hot: np.ndarray  # (m,)
    user_product: np.ndarray  # (k,) one-hot · user factor matrix
    item_product: np.ndarray  # (k,) one-hot · movie factor matrix
    user_lookup: np.ndarray  # (k,) the user's factor row, picked by index
    item_lookup: np.ndarray  # (k,)


def long_form(snap: Snapshot) -> LongForm:
    """The rated cells of a sheet as one row per rating; the loss's cells (held-out ones are not rated)."""
    users, items = np.nonzero(snap.mask)  # row-major: the order a reader reads the grid in
    return LongForm(tuple(snap.user_ids[i] for i in users), tuple(snap.item_ids[j] for j in items),
                    snap.ratings[users, items].astype(np.float64), users + 1, items + 1,
                    len(snap.user_ids), len(snap.item_ids))


def one_hot(idx: np.ndarray, size: int) -> np.ndarray:
    """(R, size) rows with a 1 in column idx (1-based) and 0 elsewhere: the sheet's IF(idx = column, 1, 0)."""
    out = np.zeros((len(idx), size))
    out[np.arange(len(idx)), np.asarray(idx) - 1] = 1.0
    return out


def _finish(snap: Snapshot, long: LongForm, user, item, user_bias, item_bias) -> Activations:
    """Prediction, squared error and loss from the activations, by the one formula the sheet uses."""
    raw = factorization.pairs(user, item, user_bias, item_bias)
    predictions, _ = factorization.squash(raw, snap.y_range if snap.squash else None)
    errors2 = (long.ratings - predictions) ** 2
    loss = float(np.sqrt(errors2.mean())) if len(long) else float("nan")
    return Activations(user, item, user_bias, item_bias, predictions, errors2, loss)


def by_one_hot(snap: Snapshot, long: LongForm) -> Activations:
    """movielens_1hot: activations = one-hot rows · factor matrix (n·k multiply-adds per user row)."""
    users, items = one_hot(long.user_idx, long.n_users), one_hot(long.item_idx, long.n_items)
    p = snap.params
    user_bias = users @ p["user_bias"] if snap.biases else None
    item_bias = items @ p["item_bias"] if snap.biases else None
    # The movie factors are stored k × movies (as the sheet lays them out), so the product takes their transpose.
    return _finish(snap, long, users @ p["user_factors"], items @ p["item_factors"].T, user_bias, item_bias)


def by_lookup(snap: Snapshot, long: LongForm) -> Activations:
    """movielens_emb: activations = the factor rows picked by index, as OFFSET(…, idx, column) picks them."""
    p, u, m = snap.params, long.user_idx - 1, long.item_idx - 1
    user_bias = p["user_bias"][u] if snap.biases else None
    item_bias = p["item_bias"][m] if snap.biases else None
    return _finish(snap, long, p["user_factors"][u], p["item_factors"][:, m].T, user_bias, item_bias)


def row_view(snap: Snapshot, long: LongForm, index: int) -> RowView:
    """The rating at long-form row `index`, its one-hot rows, their products with the matrices, and the lookups."""
    p = snap.params
    user = one_hot(long.user_idx[index:index + 1], long.n_users)[0]
    item = one_hot(long.item_idx[index:index + 1], long.n_items)[0]
    u, m = long.user_idx[index] - 1, long.item_idx[index] - 1
    return RowView(index, user, item, user @ p["user_factors"], item @ p["item_factors"].T,
                   p["user_factors"][u].copy(), p["item_factors"][:, m].copy())


def row_of(long: LongForm, user: int, item: int) -> int | None:
    """The long-form row of the grid cell (user, item), 0-based, or None when that cell holds no rating."""
    hit = np.flatnonzero((long.user_idx == user + 1) & (long.item_idx == item + 1))
    return int(hit[0]) if len(hit) else None


def multiply_adds(rows: int, n_users: int, n_items: int, k: int) -> tuple[int, int]:
    """(one-hot, lookup) multiply-adds for the activations of `rows` ratings: the product does (n + m)·k per row,
    the lookup none (it copies 2k numbers), and both then do the k of the dot product."""
    return rows * ((n_users + n_items) * k + k), rows * k
