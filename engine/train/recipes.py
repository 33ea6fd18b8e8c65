"""Training settings as named recipes: the lesson's four runs and two tuned here.

No torch here, so the GUI can import it while torch still loads.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from collabsheet.engine.config import MAX_K, MIN_K, SQUASH_RANGES
from collabsheet.engine.optimizers import TRAINING, names

MODELS = ("dot", "dotbias", "net", "svdpp")
MODEL_LABELS = {"dot": "EmbeddingDot", "dotbias": "EmbeddingDotBias", "net": "EmbeddingNet",
                "svdpp": "EmbeddingDotBiasImplicit (SVD++)"}
OPTIMIZERS = names(TRAINING)  # torch.optim's, as the lesson's notebook calls them (engine.optimizers: "momentum" is
# torch's undampened SGD momentum here, not the sheet's)
SCHEDULES = ("constant", "sgdr", "onecycle")
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu", "tanh")  # the net's, by torch.nn.functional's names
GENRES = ("off", "sum", "mean")  # a movie's genre vector: none, the sum or the mean of its genres' vectors
TIMES = ("off", "bias", "conts")  # a (user, day) bias and drift; or, for the net, continuous inputs (the lesson's conts)
MAX_ENSEMBLE = 16
Y_RANGES = ("none", *SQUASH_RANGES)  # no sigmoid, or the sheet's ranges: the data's (min, max); (0, max + 10%)


class UnknownRecipeError(ValueError):
    """A recipe name that RECIPES lacks."""


# Beyond these a run only overflows or never ends: a larger rate overflows torch.optim's step (a float32), and
# an epoch count or a cycle length past these would train for years.
MAX_RATE = 1e6
LIMITS = {"epochs": 100_000, "bs": 1 << 30, "nh": 100_000, "cycle_len": 100_000, "cycle_mult": 1_000}


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run but the data and the seed."""

    name: str = "custom"
    model: str = "dotbias"  # one of MODELS
    factors: int = 50  # latent factors per user and per movie
    epochs: int = 3
    lr: float = 1e-2  # the learning rate (the peak, when the schedule varies it)
    # weight decay: as torch.optim's weight_decay (AdamW: decoupled); row-wise (sparse), the L2 of the loss
    # MSE + wd/N·Σ|w|² over N training ratings, so the same wd suits any data size (engine.optim.rowwise)
    wd: float = 0.0
    implicit_wd: float = 1e-3  # svdpp: weight decay of the implicit factors y
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # β of SGD with momentum
    schedule: str = "constant"  # one of SCHEDULES
    cycle_len: int = 1  # SGDR: epochs in the first cycle
    cycle_mult: int = 1  # SGDR: each cycle this many times the one before
    warmup: bool = False  # SGDR: the first 1/20 of the first cycle at lr/100, as the lesson's fastai 0.7
    bs: int = 64  # mini-batch size (the lesson's)
    # an epoch has at most this many batches (0: no limit): on more ratings the batch grows instead, so each
    # batch's fixed cost (a few hundred µs of Python and kernel launches) stays small beside its arithmetic
    epoch_batches: int = 0
    # updates touch only the rows a batch used (sparse embedding gradients, engine.optim.rowwise's lazy Adam, each
    # row's weight decay in proportion to its uses over its ratings): a batch costs what it holds, not users +
    # movies. Adam and AdamW only.
    sparse: bool = False
    y_range: str = "data"  # dotbias: how the sigmoid squashes predictions, one of Y_RANGES
    nh: int = 10  # net: hidden units
    p1: float = 0.5  # net: dropout on the embeddings
    p2: float = 0.5  # net: dropout after each hidden layer
    # the lesson's "things to try" for the net: more or fewer hidden layers (empty: one of nh units), another
    # activation, and users and movies with embeddings of their own sizes (0: factors)
    layers: tuple[int, ...] = ()
    activation: str = "relu"  # one of ACTIVATIONS
    user_factors: int = 0
    movie_factors: int = 0
    # inputs beyond the ids (engine.models.inputs): genres, one of GENRES; time, one of TIMES (needs timestamps)
    genres: str = "off"
    time: str = "off"
    ensemble: int = 1  # models trained side by side from different starts, their predictions averaged
    about: str = ""  # one line on where the settings come from

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(n) for n in self.layers))  # a saved model's list, a tuple
        for field, options in (("model", MODELS), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                               ("y_range", Y_RANGES), ("activation", ACTIVATIONS), ("genres", GENRES),
                               ("time", TIMES)):
            if getattr(self, field) not in options:
                raise ValueError(f"unknown {field} {getattr(self, field)!r}; choose one of {', '.join(options)}")
        if not MIN_K <= self.factors <= MAX_K:
            raise ValueError(f"factors must be between {MIN_K} and {MAX_K}, got {self.factors}")
        for field in ("user_factors", "movie_factors"):
            value = getattr(self, field)
            if value and not MIN_K <= value <= MAX_K:
                raise ValueError(f"{_label(field)} must be between {MIN_K} and {MAX_K} (or 0: factors), got {value}")
        if self.model != "net" and self.sizes != (self.factors, self.factors):
            raise ValueError("separate user and movie embedding sizes need the net: a dot product multiplies a user's "
                             "factors with a movie's one by one, so both have the same number")
        if self.time == "bias" and self.model == "dot":
            raise ValueError("time as a bias needs a model with biases (dotbias, svdpp or net); the dot model has none")
        if self.time == "conts" and self.model != "net":
            raise ValueError("time as continuous inputs (conts) needs the net, which takes inputs beside the "
                             "embeddings; the dot-product models take time as a bias (--time bias)")
        if not 1 <= self.ensemble <= MAX_ENSEMBLE:
            raise ValueError(f"ensemble must be between 1 and {MAX_ENSEMBLE} models, got {self.ensemble}")
        if any(n < 1 for n in self.layers):
            raise ValueError(f"hidden layers must have at least 1 unit each, got {','.join(map(str, self.layers))}")
        if self.epoch_batches < 0:
            raise ValueError(f"batches per epoch must not be negative, got {self.epoch_batches}")
        if self.sparse and self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"row-wise (sparse) updates need adam or adamw, not {self.optimizer}; "
                             "turn sparse off for sgd and momentum")
        for field, most in LIMITS.items():
            if getattr(self, field) < 1:
                raise ValueError(f"{_label(field)} must be at least 1, got {getattr(self, field)}")
            if getattr(self, field) > most:
                raise ValueError(f"{_label(field)} must be at most {most:,}, got {getattr(self, field)}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        if not self.lr <= MAX_RATE:
            raise ValueError(f"learning rate must be at most {MAX_RATE:g}, got {self.lr}")
        if not (0 <= self.wd <= MAX_RATE and 0 <= self.implicit_wd <= MAX_RATE):
            raise ValueError(f"weight decay must be between 0 and {MAX_RATE:g}, got {max(self.wd, self.implicit_wd)}")
        for field in ("momentum", "p1", "p2"):
            if not 0 <= getattr(self, field) < 1:
                raise ValueError(f"{_label(field)} must be in [0, 1), got {getattr(self, field)}")

    def with_(self, **changes) -> Recipe:
        """A copy with some settings changed (and checked), named custom unless a name is given."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        if changes.get("optimizer") in ("sgd", "momentum") and "sparse" not in changes:
            changes["sparse"] = False  # row-wise updates are Adam's; plain SGD updates every row as the lesson
            if self.sparse and self.wd and changes.get("wd", self.wd) == self.wd:
                # row-wise, wd is the L2 over all N training ratings (20 ≈ torch's 2.5e-4 per batch at 80,000); kept
                # for SGD, it would shrink every weight by lr·20 a batch
                raise ValueError(f"{self.name} trains row-wise, where weight decay {self.wd:g} is spread over the "
                                 f"training ratings; {changes['optimizer']} takes torch's per-batch weight decay: "
                                 f"set one for it too, e.g. 2e-4")
        return replace(self, **{"name": f"{self.name} (changed)" if self.name != "custom" else "custom", **changes})

    @property
    def hidden(self) -> tuple[int, ...]:
        """The net's hidden layer sizes: layers, or the lesson's one layer of nh units."""
        return self.layers or (self.nh,)

    @property
    def run_epochs(self) -> int:
        """Epochs in the whole run: an ensemble trains its models one after another."""
        return self.epochs * self.ensemble

    @property
    def sizes(self) -> tuple[int, int]:
        """(user, movie) embedding sizes."""
        return self.user_factors or self.factors, self.movie_factors or self.factors

    def batch_size(self, n_train: int) -> int:
        """The batch size for n_train training ratings: bs, or larger where epoch_batches caps the batches."""
        if not self.epoch_batches:
            return self.bs
        return max(self.bs, -(-n_train // self.epoch_batches))

    def summary(self) -> str:
        """One line: the model, its size and how it trains."""
        users, movies = self.sizes
        parts = [MODEL_LABELS[self.model], f"k={self.factors}" if users == movies else f"k={users} (users), "
                                                                                        f"{movies} (movies)"]
        if self.model == "net":
            shape = f"nh={self.nh}" if not self.layers else f"layers={','.join(map(str, self.layers))}"
            act = "" if self.activation == "relu" else f" {self.activation}"
            parts.append(f"{shape}{act} p1={self.p1:g} p2={self.p2:g}")
        elif self.model in ("dotbias", "svdpp"):
            parts.append(f"y_range={self.y_range}")
        if self.genres != "off":
            parts.append(f"genres={self.genres}")
        if self.time != "off":
            parts.append(f"time={self.time}")
        sched = self.schedule
        if sched == "sgdr":
            warm = ", warm-up lr/100" if self.warmup else ""
            sched = f"sgdr(cycle_len={self.cycle_len}, cycle_mult={self.cycle_mult}{warm})"
        opt = self.optimizer if self.optimizer != "momentum" else f"sgd momentum {self.momentum:g}"
        wd = f"wd={self.wd:g}" + (f" (y: {self.implicit_wd:g})" if self.model == "svdpp" else "")
        bs = f"bs={self.bs}" + (f" (at most {self.epoch_batches} batches an epoch)" if self.epoch_batches else "")
        rows = " (row-wise)" if self.sparse else ""
        parts += [f"{opt}{rows} lr={self.lr:g} {wd}", sched, f"{self.epochs} epochs", bs]
        if self.ensemble > 1:
            parts.append(f"ensemble of {self.ensemble}")
        return " · ".join(parts)


def _label(field: str) -> str:
    return {"bs": "batch size", "nh": "hidden units", "cycle_len": "cycle length", "cycle_mult": "cycle multiplier",
            "p1": "dropout p1", "p2": "dropout p2", "user_factors": "user factors",
            "movie_factors": "movie factors"}.get(field, field)


EPOCH_BATCHES = 128  # fast's cap: bs 1,024 up to 131k training ratings (ml-100k's 80k), then larger batches:
# 62,500 at 10M, where 256 batches were 1.14x slower (per CPU second) for 0.0006 less RMSE, and 64 were 1.24x faster
# for 0.0055 more and moved ml-100k's batch (bench/scale.py)

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("lesson-learner", "dotbias", 50, epochs=3, lr=1e-2, wd=2e-4, optimizer="adam", schedule="sgdr",
           cycle_len=1, cycle_mult=2, warmup=True, y_range="data",
           about="the lesson's collab learner: learn.fit(1e-2, 2, wds=2e-4, cycle_len=1, cycle_mult=2), "
                 "fastai 0.7's SGDR (lr/100 for the first 1/20 of the first cycle)"),
    Recipe("lesson-dot", "dot", 50, epochs=3, lr=0.1, wd=1e-5, optimizer="momentum",
           about="the lesson's EmbeddingDot: optim.SGD(lr=1e-1, weight_decay=1e-5, momentum=0.9), 3 epochs"),
    Recipe("lesson-dotbias", "dotbias", 50, epochs=3, lr=0.1, wd=2e-4, optimizer="momentum", y_range="data",
           about="the lesson's EmbeddingDotBias: optim.SGD(lr=1e-1, weight_decay=2e-4, momentum=0.9), 3 epochs"),
    Recipe("lesson-net", "net", 50, epochs=3, lr=1e-3, wd=1e-5, optimizer="adam", nh=10, p1=0.5, p2=0.5,
           about="the lesson's EmbeddingNet: optim.Adam(lr=1e-3, weight_decay=1e-5), 3 epochs; dropout p1 = p2 = 0.5, "
                 "the defaults of the notes' EmbeddingNet(nh=10, p1=0.5, p2=0.5) (p1 on the embeddings, p2 on the "
                 "hidden layer)"),
    Recipe("fast", "dotbias", 32, epochs=10, lr=1e-2, wd=20, optimizer="adam", schedule="onecycle", bs=1024,
           epoch_batches=EPOCH_BATCHES, sparse=True, y_range="wide",
           about="tuned here: dot + bias, one-cycle Adam with L2 weight decay on large batches, updating only the "
                 "rows each batch used (its cost grows with the ratings, not with users + movies)"),
    Recipe("best", "svdpp", 50, epochs=10, lr=1e-2, wd=20, implicit_wd=80, optimizer="adam",
           schedule="onecycle", bs=1024, epoch_batches=EPOCH_BATCHES, sparse=True, y_range="wide",
           about="tuned here: the fast recipe plus which movies each user rated (SVD++), row-wise"),
    Recipe("tries", "svdpp", 50, epochs=10, lr=1e-2, wd=20, implicit_wd=80, optimizer="adam",
           schedule="onecycle", bs=1024, epoch_batches=EPOCH_BATCHES, sparse=True, y_range="wide", genres="mean",
           time="bias", ensemble=5,
           about="the lesson's things to try on best: the mean of a movie's genres, a (user, day) bias with drift, "
                 "and an ensemble of 5, as bench/tune.py chose them on inner splits of u1.base"),
)}


def recipe(name: str) -> Recipe:
    """The named recipe, or a one-line error listing the names."""
    try:
        return RECIPES[name]
    except KeyError:
        raise UnknownRecipeError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}") from None
