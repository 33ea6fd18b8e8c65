"""The lesson's PyTorch models: DotProduct, EmbeddingDot, EmbeddingDotBias and EmbeddingNet.

Each forward pass takes contiguous user and movie indices (engine.train.data maps the original ids to
them) and returns one prediction per pair. The algebra (u·m summed, plus biases, squashed by a sigmoid)
is engine.models.factorization's, the same functions the sheet computes with.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from collabsheet.engine.models.factorization import pairs, sigmoid_range
from collabsheet.engine.models.inputs import GenreMix, TimeBias, TimeConts

Tensor = torch.Tensor
YRange = tuple[float, float]
# SVD++ sums y over the batch's users' movies alone only where they are under 1/SUBSET_SHARE of all the rated
# pairs: per pair that way costs ~10× the sum over everyone (its gradient is a row per pair, sparse, then summed)
SUBSET_SHARE = 8


def embedding(n: int, k: int, lo: float, hi: float, sparse: bool = False) -> nn.Embedding:
    """An n × k embedding initialised uniform in [lo, hi); sparse: its gradient names only the rows a batch used."""
    e = nn.Embedding(n, k, sparse=sparse)
    nn.init.uniform_(e.weight, lo, hi)
    return e


class DotProduct(nn.Module):
    """(u·m).sum(1): the dot product of each row of u with the same row of m."""

    def forward(self, u: Tensor, m: Tensor) -> Tensor:
        return pairs(u, m)


class EmbeddingDot(nn.Module):
    """A vector per user and per movie (uniform 0..0.05); the prediction is their dot product.

    With `genres` (engine.models.inputs.GenreMix) a movie's vector adds its genres' vectors.
    """

    uses_time = False  # forward takes no timestamps

    def __init__(self, n_users: int, n_movies: int, n_factors: int = 50, sparse: bool = False,
                 genres: GenreMix | None = None):
        super().__init__()
        self.u = embedding(n_users, n_factors, 0.0, 0.05, sparse)
        self.m = embedding(n_movies, n_factors, 0.0, 0.05, sparse)
        self.genres = genres

    def forward(self, users: Tensor, movies: Tensor) -> Tensor:
        m = self.m(movies) if self.genres is None else self.m(movies) + self.genres(movies)
        return pairs(self.u(users), m)


class EmbeddingDotBias(nn.Module):
    """EmbeddingDot plus a bias per user and per movie, squashed into y_range when one is given.

    Every embedding, factors and biases, starts uniform(−0.01, 0.01) as the lesson's get_emb makes them
    (EmbeddingDot's uniform(0, 0.05) is that model's own); factor_init lets SVD++ keep the start it was tuned with.
    sparse=True gives sparse gradients (engine.optim.rowwise updates only those rows); the weights are the same.
    With `genres` a movie's vector and bias add its genres' (engine.models.inputs.GenreMix); with `time`
    (engine.models.inputs.TimeBias) the sum before the sigmoid adds the rating's (user, day) bias and drift.
    """

    def __init__(self, n_users: int, n_movies: int, n_factors: int = 50, y_range: YRange | None = None,
                 factor_init: tuple[float, float] = (-0.01, 0.01), sparse: bool = False,
                 genres: GenreMix | None = None, time: TimeBias | None = None):
        super().__init__()
        self.genres, self.time = genres, time
        self.u = embedding(n_users, n_factors, *factor_init, sparse)
        self.m = embedding(n_movies, n_factors, *factor_init, sparse)
        self.ub = embedding(n_users, 1, -0.01, 0.01, sparse)
        self.mb = embedding(n_movies, 1, -0.01, 0.01, sparse)
        self.y_range = None if y_range is None else (float(y_range[0]), float(y_range[1]))

    @property
    def uses_time(self) -> bool:
        """Whether forward reads each rating's timestamp."""
        return self.time is not None

    def score(self, u: Tensor, users: Tensor, movies: Tensor, times: Tensor | None) -> Tensor:
        """The prediction from a user vector u: dot product, biases (genres' and time's too), sigmoid."""
        m, mb = self.m(movies), self.mb(movies).squeeze(-1)
        if self.genres is not None:
            m, mb = m + self.genres(movies), mb + self.genres.bias(movies)
        raw = pairs(u, m, self.ub(users).squeeze(-1), mb)
        if self.time is not None:
            raw = raw + self.time(users, times)
        return raw if self.y_range is None else sigmoid_range(raw, *self.y_range)

    def forward(self, users: Tensor, movies: Tensor, times: Tensor | None = None) -> Tensor:
        return self.score(self.u(users), users, movies, times)


class EmbeddingDotBiasImplicit(EmbeddingDotBias):
    """EmbeddingDotBias whose user vector also says which movies the user rated (Koren's SVD++).

    user vector = u + |R(u)|^(−½) · Σ y_j over the movies j in R(u), the movies the user rated in the
    training data: what someone chose to watch says something about their taste, beside how they rated it.
    A batch sums y over its own users' movies only (cost ∝ their ratings, not all the ratings), unless that
    is more rows than summing for every user once.
    """

    def __init__(self, n_users: int, n_movies: int, n_factors: int, y_range: YRange | None,
                 rated_users: Tensor, rated_movies: Tensor, sparse: bool = False,
                 genres: GenreMix | None = None, time: TimeBias | None = None):
        super().__init__(n_users, n_movies, n_factors, y_range, factor_init=(0.0, 0.05), sparse=sparse,
                         genres=genres, time=time)
        self.y = embedding(n_movies, n_factors, -0.01, 0.01, sparse)
        order = torch.argsort(rated_users, stable=True)
        self.register_buffer("rated_users", rated_users[order].long())
        self.register_buffer("rated_movies", rated_movies[order].long())
        counts = torch.bincount(self.rated_users, minlength=n_users)
        self.register_buffer("_counts", counts, persistent=False)
        self.register_buffer("_offsets", torch.cumsum(counts, 0) - counts, persistent=False)
        self.register_buffer("_weights", counts.clamp(min=1).float()[self.rated_users] ** -0.5, persistent=False)

    def implicit(self) -> Tensor:
        """Every user's |R(u)|^(−½) · Σ y_j, users × factors.

        Its gradient is dense even where y is sparse: it reaches every rated movie, and a sparse one would hold
        a row per rating (8M × k at MovieLens-10M) where a dense one holds a row per movie.
        """
        return _ImplicitSum.apply(self.y.weight, self)

    def _by_movie(self) -> tuple[Tensor, Tensor, Tensor]:
        """The rated pairs grouped by movie: (users, each movie's offset, weights |R(u)|^(−½)), made at the first
        backward pass on a device (predicting needs none)."""
        cached = getattr(self, "_transposed", None)
        if cached is None or (cached[2].device, cached[2].dtype) != (self.y.weight.device, self.y.weight.dtype):
            order = torch.argsort(self.rated_movies, stable=True)
            counts = torch.bincount(self.rated_movies, minlength=self.y.num_embeddings)
            cached = (self.rated_users[order], torch.cumsum(counts, 0) - counts,
                      self._weights[order].to(self.y.weight))
            self._transposed = cached
        return cached

    def implicit_of(self, users: Tensor) -> Tensor:
        """|R(u)|^(−½) · Σ y_j for each of `users` (one row per entry), summing only over their own movies."""
        present, inverse = torch.unique(users, return_inverse=True)
        counts = self._counts[present]
        total = int(counts.sum())
        if total * SUBSET_SHARE >= len(self.rated_movies):  # near as many rows as every user's: sum once for all
            return self.implicit()[users]
        # the rated (user, movie) rows of each present user: its offset, then 0, 1, … count − 1 within it
        bag = torch.repeat_interleave(torch.arange(len(present), device=users.device), counts, output_size=total)
        starts = torch.cumsum(counts, 0) - counts
        rows = self._offsets[present][bag] + torch.arange(total, device=users.device) - starts[bag]
        sums = F.embedding_bag(self.rated_movies[rows], self.y.weight, starts, mode="sum",
                               per_sample_weights=self._weights[rows], sparse=self.y.sparse)
        return sums[inverse]

    def forward(self, users: Tensor, movies: Tensor, times: Tensor | None = None) -> Tensor:
        return self.score(self.u(users) + self.implicit_of(users), users, movies, times)


class _ImplicitSum(torch.autograd.Function):
    """Σ w·y_j over each user's movies, and y's gradient as the same sum the other way round: Σ w·grad_u over each
    movie's users (embedding_bag both ways). embedding_bag's own backward gathers a row per rating first, then
    scatters them: 10× slower at 800k ratings, and its gradient of a sparse y holds a row per rating."""

    @staticmethod
    def forward(ctx, y: Tensor, model: EmbeddingDotBiasImplicit) -> Tensor:
        ctx.model = model
        return F.embedding_bag(model.rated_movies, y, model._offsets, mode="sum", per_sample_weights=model._weights)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN205 - autograd's signature
        users, offsets, weights = ctx.model._by_movie()
        dy = F.embedding_bag(users, grad.contiguous(), offsets, mode="sum", per_sample_weights=weights)
        return dy, None


class EmbeddingNet(nn.Module):
    """User and movie vectors side by side → dropout → Linear(2k, nh) → ReLU → dropout → Linear(nh, 1) → σ.

    The output spans half a star beyond the ratings at each end, (min − 0.5, max + 0.5), as in the lesson.
    The lesson's things to try: `layers` (hidden sizes, default (nh,)), `activation` (a torch.nn.functional
    name), user and movie embeddings of different sizes, a genre vector beside the movie's (`genres`, as wide
    as the movie's), and time as continuous inputs (`conts`: engine.models.inputs.TimeConts) or as a bias
    added before the sigmoid (`time`: TimeBias). The layers are lin1, lin2, …, so the lesson's net keeps its
    lin1 and lin2.
    """

    def __init__(self, n_users: int, n_movies: int, n_factors: int = 50, y_range: YRange = (1.0, 5.0),
                 nh: int = 10, p1: float = 0.5, p2: float = 0.5, sparse: bool = False,
                 layers: tuple[int, ...] | None = None, activation: str = "relu",
                 user_factors: int | None = None, movie_factors: int | None = None,
                 genres: GenreMix | None = None, conts: TimeConts | None = None, time: TimeBias | None = None):
        super().__init__()
        users, movies = user_factors or n_factors, movie_factors or n_factors
        self.u = embedding(n_users, users, -0.01, 0.01, sparse)
        self.m = embedding(n_movies, movies, -0.01, 0.01, sparse)
        self.genres, self.conts, self.time = genres, conts, time
        width = users + movies + (movies if genres is not None else 0) + (conts.width if conts is not None else 0)
        sizes = [width, *(layers or (nh,)), 1]
        self.n_linear = len(sizes) - 1
        for i in range(self.n_linear):
            setattr(self, f"lin{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
        self.drop1 = nn.Dropout(p1)
        self.drop2 = nn.Dropout(p2)
        self.activation = getattr(F, activation)
        self.y_range = (float(y_range[0]), float(y_range[1]))

    @property
    def uses_time(self) -> bool:
        """Whether forward reads each rating's timestamp."""
        return self.conts is not None or self.time is not None

    def forward(self, users: Tensor, movies: Tensor, times: Tensor | None = None) -> Tensor:
        parts = [self.u(users), self.m(movies)]
        if self.genres is not None:
            parts.append(self.genres(movies))
        x = self.drop1(torch.cat(parts, dim=1))
        if self.conts is not None:  # measured facts, not learned vectors: no dropout on them
            x = torch.cat([x, self.conts(users, times)], dim=1)
        for i in range(1, self.n_linear):
            x = self.drop2(self.activation(getattr(self, f"lin{i}")(x)))
        raw = getattr(self, f"lin{self.n_linear}")(x).squeeze(-1)
        if self.time is not None:
            raw = raw + self.time(users, times)
        lo, hi = self.y_range
        return sigmoid_range(raw, lo - 0.5, hi + 0.5)


class Ensemble(nn.Module):
    """Several models of one recipe, each trained on its own (engine.train.ensemble); it predicts their mean."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    @property
    def uses_time(self) -> bool:
        """Whether forward reads each rating's timestamp."""
        return bool(getattr(self.members[0], "uses_time", False))

    def forward(self, users: Tensor, movies: Tensor, times: Tensor | None = None) -> Tensor:
        extra = (times,) if self.uses_time else ()
        return torch.stack([member(users, movies, *extra) for member in self.members]).mean(0)


def lead(module: nn.Module) -> nn.Module:
    """The model whose embeddings stand for the whole: an ensemble's first member, or the model itself."""
    return module.members[0] if isinstance(module, Ensemble) else module
