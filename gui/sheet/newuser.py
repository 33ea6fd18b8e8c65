"""The person using the app as a new row of the sheet, folded in with every movie frozen (Qt-free; worker thread).

"Add me" gives the sheet one more user row, below the others: its blue cells take the user's ratings, its
orange cells their factors and its purple cells their predictions. The row is not part of the loss: the steps
and Solve never move it. "Fold in" fits its factors (and bias) to the typed ratings with the movies' values as
they are now (engine.sheet.foldin, an exact least-squares solve), so the purple cells fill in and the best
unrated movies are listed. With a trained model's file, fold-in uses that model's movies instead: every
movie of the dataset it was trained on, not only the sheet's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from collabsheet.gui.sheet.frames import NEW_USER_ID, NewUserRow

if TYPE_CHECKING:
    from collabsheet.engine.sheet.explanation import Explanation
    from collabsheet.engine.sheet.snapshot import Snapshot

TOP = 10  # recommendations listed
USER_BLOCKS = ("user_factors", "user_bias")


@dataclass(frozen=True)
class ModelMovies:
    """A trained model's movies, as fold-in needs them: factors, biases, squashing, ids and titles."""

    name: str
    ids: np.ndarray  # movie ids, by the model's movie index
    titles: tuple[str, ...]
    factors: np.ndarray  # (movies, k)
    bias: np.ndarray | None  # (movies,), None for a model without biases
    y_range: tuple[float, float] | None
    implicit: np.ndarray | None  # (movies, k) SVD++'s y: a user's vector adds |R|^(−½)·Σ y_j over the movies rated

    def offsets(self, rated: np.ndarray) -> np.ndarray | None:
        """Each movie's part of a prediction besides u·m_j: its bias, plus m_j·(the implicit vector of `rated`)."""
        if self.implicit is None:
            return self.bias
        rated = np.flatnonzero(rated)
        pooled = self.implicit[rated].sum(0) / math.sqrt(max(len(rated), 1))
        return (self.bias if self.bias is not None else 0.0) + self.factors @ pooled


def load_movies(path: str) -> ModelMovies:
    """The movies of a model saved by the Training tab; a model whose predictions are no dot product is refused."""
    import torch

    from collabsheet.engine.train import analysis, store

    model = store.load(path)
    if model.recipe.model == "net":
        raise ValueError(f"{path}: a {model.recipe.model} model's predictions are not a dot product, so a new user "
                         "cannot be folded into it; train a dot, dotbias or svdpp model")
    recipe = model.recipe
    if recipe.genres != "off" or recipe.time != "off" or recipe.ensemble > 1:
        raise ValueError(f"{path}: a model with genres, time or an ensemble predicts from more than its movie factors "
                         "and biases, so a new user is not folded into it; train one without them")
    module = model.module
    bias = analysis.movie_bias(model) if hasattr(module, "mb") else None
    with torch.no_grad():
        implicit = module.y.weight.detach().cpu().double().numpy() if hasattr(module, "y") else None
    y_range = getattr(module, "y_range", None)
    titles = tuple(model.title(i) for i in range(len(model.movies)))
    name = f"{Path(path).name} ({model.recipe.model}, {len(model.movies):,} movies)"
    return ModelMovies(name, np.asarray(model.movies.ids), titles, analysis.movie_factors(model), bias,
                       None if y_range is None else (float(y_range[0]), float(y_range[1])), implicit)


class NewUser:
    """The new row's state: typed ratings, and the fold-in's result (on the sheet's movies or a model's)."""

    def __init__(self, item_ids: tuple) -> None:
        self.item_ids = item_ids
        self.ratings = np.full(len(item_ids), np.nan)
        self.factors: np.ndarray | None = None  # on the sheet: their k factors
        self.bias: float | None = None
        self.model: ModelMovies | None = None  # fold in against a trained model's movies instead
        self.folded_at: int | None = None
        self._model_fold = None  # the model fold-in's FoldIn
        self._note = ""

    # --- edits ---------------------------------------------------------------------------------
    def set_rating(self, j: int, value: float | None) -> None:
        """Type a rating of sheet movie j (None blanks it)."""
        if value is not None and not math.isfinite(value):
            raise ValueError(f"rating must be a finite number, got {value}")
        self.ratings[j] = np.nan if value is None else float(value)

    def set_param(self, block: str, index: tuple, value: float) -> None:
        """Type one of their factors or their bias (after a fold-in on the sheet's movies)."""
        if self.factors is None:
            raise ValueError("your factors come from Fold in: rate a few movies and fold in first")
        if block == "user_bias":
            if self.bias is None:
                raise ValueError("this sheet has no biases")
            self.bias = float(value)
        else:
            self.factors[index[-1]] = float(value)

    def forget_fit(self) -> None:
        """The sheet's shape changed (k, biases): their factors no longer fit it."""
        self.factors, self.bias, self.folded_at, self._model_fold = None, None, None, None

    def use(self, model: ModelMovies | None) -> None:
        self.model = model
        self.forget_fit()

    # --- fold-in -------------------------------------------------------------------------------
    def fold_in(self, snap: Snapshot) -> None:
        """Fit their row: against the sheet's movies as they are now, or the trained model's."""
        from collabsheet.engine.sheet import foldin

        if self.model is None:
            fold = foldin.from_snapshot(snap, self.ratings, top=TOP)
            self.factors, self.bias = fold.factors.copy(), fold.bias
        else:
            m = self.model
            known = {item: r for item, r in zip(self.item_ids, self.ratings) if r == r}
            ids = set(m.ids.tolist())
            missing = [item for item in known if item not in ids]
            row = foldin.ratings_row({item: r for item, r in known.items() if item in ids}, m.ids)
            if np.isnan(row).all():
                raise ValueError(f"none of the movies you rated is in {m.name}; rate others, or use the sheet's movies")
            fold = foldin.fold_in(row, m.factors, m.offsets(~np.isnan(row)), m.y_range, titles=m.titles, top=TOP)
            self._model_fold, self.factors, self.bias = fold, None, None
            self._note = (f"{len(missing)} of the movies you rated are not in the model and were left out"
                          if missing else "")
        self.folded_at = snap.step

    # --- what the sheet shows ------------------------------------------------------------------
    def predictions(self, snap: Snapshot) -> np.ndarray:
        """Their predicted rating of each sheet movie now (NaN before a fold-in, or for a movie the model lacks)."""
        if self.model is not None:
            if self._model_fold is None:
                return np.full(len(self.item_ids), np.nan)
            index = {item: i for i, item in enumerate(self.model.ids.tolist())}
            at = [index.get(item, -1) for item in self.item_ids]
            return np.array([self._model_fold.predictions[i] if i >= 0 else np.nan for i in at])
        if self.factors is None:
            return np.full(len(self.item_ids), np.nan)
        from collabsheet.engine.models import factorization

        bias = (np.array([self.bias]), snap.params["item_bias"]) if snap.biases else (None, None)
        raw = factorization.cells(self.factors[None, :], snap.item_factors, *bias)
        return np.asarray(factorization.squash(raw, snap.y_range if snap.squash else None)[0], dtype=np.float64)[0]

    def row(self, snap: Snapshot) -> NewUserRow:
        """The row for the GUI: ratings, predictions, factors and the best unrated movies."""
        predictions = self.predictions(snap)
        rated = ~np.isnan(self.ratings)
        if self.model is not None:
            fold = self._model_fold
            top = tuple((r.title, r.prediction) for r in fold.top) if fold is not None else ()
            rmse = fold.rmse if fold is not None else math.nan
            return NewUserRow(self.ratings.copy(), predictions, None, None, top, self.model.name, self.folded_at, rmse,
                              len(self.model.ids), self._note)
        top: tuple = ()
        rmse = math.nan
        if self.factors is not None:
            unrated = np.flatnonzero(~rated)
            best = unrated[np.argsort(-predictions[unrated], kind="stable")][:TOP]
            top = tuple((snap.titles[j], float(predictions[j])) for j in best)
            if rated.any():
                rmse = float(np.sqrt(np.mean((predictions[rated] - self.ratings[rated]) ** 2)))
        factors = None if self.factors is None else self.factors.copy()
        return NewUserRow(self.ratings.copy(), predictions, factors, self.bias, top, "", self.folded_at, rmse,
                          len(self.item_ids))

    def extend(self, snap: Snapshot) -> Snapshot:
        """The snapshot with their row under the others: what the table shows (the loss still counts the sheet only)."""
        predictions = self.predictions(snap)
        rated = ~np.isnan(self.ratings)
        k = snap.k
        factors = self.factors if self.factors is not None and len(self.factors) == k else np.full(k, np.nan)
        params, grads = dict(snap.params), dict(snap.grads)
        params["user_factors"] = np.vstack([snap.user_factors, factors[None, :]])
        grads["user_factors"] = np.vstack([snap.grads["user_factors"], np.zeros((1, k))])
        if snap.biases:
            bias = self.bias if self.bias is not None and self.factors is not None else np.nan
            params["user_bias"] = np.append(snap.params["user_bias"], bias)
            grads["user_bias"] = np.append(snap.grads["user_bias"], 0.0)
        none = np.zeros((1, len(self.item_ids)), dtype=bool)
        holdout_mask = snap.holdout if snap.holdout is not None else np.zeros(snap.ratings.shape, dtype=bool)
        holdout_ratings = snap.holdout_ratings if snap.holdout_ratings is not None else np.full(snap.ratings.shape, np.nan)
        return replace(snap, ratings=np.vstack([snap.ratings, self.ratings[None, :]]),
                       mask=np.vstack([snap.mask, rated[None, :]]),
                       predictions=np.vstack([snap.predictions, np.where(rated, predictions, 0.0)[None, :]]),
                       params=params, grads=grads, user_ids=snap.user_ids + (NEW_USER_ID,),
                       holdout=np.vstack([holdout_mask, none]),
                       holdout_ratings=np.vstack([holdout_ratings, np.full((1, len(self.item_ids)), np.nan)]))

    # --- explained -------------------------------------------------------------------------------
    def explain(self, display: Snapshot, kind: str, index: tuple) -> Explanation | None:
        """A cell of their row explained: the prediction's formula once folded in, what fold-in did for their factors."""
        from collabsheet.engine.sheet import explain
        from collabsheet.engine.sheet.explanation import Explanation, fmt

        i = display.ratings.shape[0] - 1
        fitted = self.factors is not None and len(self.factors) == display.k
        note = ("Your row is not part of the loss: Step, Play and Solve never move it. Fold in fits your factors"
                f"{' and bias' if display.biases else ''} to your ratings with every movie frozen: a least-squares "
                "problem with one unknown per factor, solved exactly.")
        if kind in ("rating", "prediction") and fitted:
            e = (explain.prediction if kind == "prediction" else explain.rating)(display, i, index[-1])
            return replace(e, notes=e.notes + (note,))
        if kind in ("rating", "prediction"):
            j = index[-1]
            title = f"{'Prediction' if kind == 'prediction' else 'Rating'}: you × {display.titles[j]}"
            r = self.ratings[j]
            terms = ((("your rating", float(r)),) if r == r else ())
            if self.model is not None and self._model_fold is not None:
                p = self.predictions(display)[j]
                terms += (("the model's prediction", float(p)),)
                formula = f"p = {fmt(p)}, from {self.model.name}, with your factors folded into its movies"
            elif kind == "prediction":
                formula = "p: not folded in yet (rate a few movies in your blue cells, then Fold me in)"
            else:
                formula = "r = (blank)" if r != r else f"r = {fmt(float(r), trim=True)}"
            return Explanation(title, formula, terms, (note,), (("rating", (i, j)), ("prediction", (i, j))))
        if kind in USER_BLOCKS:
            name = "your bias" if kind == "user_bias" else f"your factor {index[-1] + 1}"
            value = display.params[kind][(i,) + tuple(index[1:])]
            when = f" at step {self.folded_at:,}" if self.folded_at is not None else ""
            formula = (f"{name} = {fmt(float(value))}: fitted by fold-in{when}" if value == value
                       else f"{name}: not fitted yet (rate a few movies, then Fold in)")
            return Explanation(f"New user: {name}", formula, ((name, float(value)),) if value == value else (),
                               (note,), ((kind, (i,) + tuple(index[1:])),))
        return None
