"""What the lesson looks at once a model is trained, as plain numpy: predictions, the movie map, the biases."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collabsheet.engine.train.data import TrainData
from collabsheet.engine.models.lesson import lead
from collabsheet.engine.train.fit import predict_split
from collabsheet.engine.train.model import CollabModel


def valid_predictions(model: CollabModel, data: TrainData) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, actual) for every validation rating: the lesson's jointplot of predictions against ratings."""
    predicted = predict_split(model.module, data.valid.users, data.valid.movies, times=data.valid.times)
    return predicted.cpu().numpy(), data.valid.ratings.cpu().numpy()


@dataclass(frozen=True)
class MovieMap:
    """Each movie's factors projected on their first two principal components."""

    x: np.ndarray  # first component, one value per movie (by movie index)
    y: np.ndarray  # second component
    titles: tuple[str, ...]
    counts: np.ndarray  # training ratings per movie, to pick the most-rated to label
    explained: tuple[float, float]  # share of the factors' variance each component holds

    def most_rated(self, n: int) -> np.ndarray:
        """Indices of the n most-rated movies, most-rated first."""
        return np.argsort(-self.counts, kind="stable")[:n]


def movie_factors(model: CollabModel) -> np.ndarray:
    """The movie embedding matrix, movies × factors."""
    return lead(model.module).m.weight.detach().cpu().double().numpy()


def movie_bias(model: CollabModel) -> np.ndarray:
    """Each movie's learned bias; only the dotbias and svdpp models have them."""
    module = lead(model.module)  # an ensemble's first member
    if not hasattr(module, "mb"):
        raise ValueError(f"the {model.recipe.model} model has no biases; train dotbias or svdpp for them")
    return module.mb.weight.detach().cpu().double().numpy()[:, 0]


def movie_map(model: CollabModel) -> MovieMap:
    """The first two principal components of the movie factors (centred), signs fixed so each is reproducible."""
    factors = movie_factors(model)
    centred = factors - factors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]  # largest loading positive
    xy = centred @ vt[:2].T
    variance = s**2 / max((s**2).sum(), np.finfo(float).tiny)
    explained = (float(variance[0]), float(variance[1]) if len(variance) > 1 else 0.0)
    if xy.shape[1] < 2:  # one factor: the map is a line
        xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])
    titles = tuple(model.title(i) for i in range(len(model.movies)))
    return MovieMap(xy[:, 0], xy[:, 1], titles, model.counts, explained)


@dataclass(frozen=True)
class Bias:
    """A movie and its learned bias."""

    movie: object
    title: str
    bias: float
    count: int  # its training ratings


def movie_biases(model: CollabModel, n: int = 15, among: int | None = 3000) -> tuple[list[Bias], list[Bias]]:
    """(largest, smallest): the n movies with the highest and the lowest bias.

    As in the lesson, only the `among` most-rated movies take part (None: all of them).
    """
    bias = movie_bias(model)
    pool = np.argsort(-model.counts, kind="stable")[:among] if among else np.arange(len(bias))
    pool = pool[model.counts[pool] > 0]  # a movie never trained on keeps its random start
    order = pool[np.argsort(-bias[pool], kind="stable")]

    def rows(indices) -> list[Bias]:
        return [Bias(model.movies.id_of(int(i)), model.title(int(i)), float(bias[i]), int(model.counts[i]))
                for i in indices]
    return rows(order[:n]), rows(order[::-1][:n])
