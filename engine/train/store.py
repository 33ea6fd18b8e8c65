"""Saving and loading a trained model.

The file is plain data (tensors, numbers, strings, lists) through torch.save, read back with
weights_only=True, so opening a model file runs no code from it. The training data is not in it: load builds
the module from its recipe, its id maps and the sizes of the genre and time tables its weights hold (first on
the meta device, to check every shape before any memory is taken), then fills it from those weights.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from collabsheet.engine.device import pick_device
from collabsheet.engine.models.inputs import Sizes
from collabsheet.engine.models.lesson import Ensemble
from collabsheet.engine.safe_write import Inputs, WriteError, write_file
from collabsheet.engine.train.build import make_model
from collabsheet.engine.train.data import IdMap
from collabsheet.engine.train.model import CollabModel
from collabsheet.engine.train.recipes import Recipe

FORMAT = "collabsheet-model"
VERSION = 2  # 2 added the genre and time tables' models, ensembles and each user's last rating date
READS = (1, 2)  # a file that needs neither is still written as version 1, which older collabsheets read
COMBINE = "mean"  # how an ensemble's members' predictions are combined: the only way there is


class ModelFileError(ValueError):
    """A model file that cannot be used; str(error) is one line naming the file and what is wrong."""


def _ids(ids: np.ndarray):
    """Ids as a tensor when they are integers, else a list of strings (weights_only loads both)."""
    if np.issubdtype(ids.dtype, np.integer):
        return torch.from_numpy(ids.astype(np.int64))
    return [str(i) for i in ids]


def _array(ids) -> np.ndarray:
    return ids.numpy() if isinstance(ids, torch.Tensor) else np.array(ids, dtype=object)


def save(model: CollabModel, path: str | os.PathLike, inputs: Inputs | None = None) -> Path:
    """Write the model (its genre and time tables and an ensemble's members among its weights), its id maps, titles,
    who rated what, its recipe and a time model's users' last training dates to `path` through engine.safe_write
    (never over one of `inputs`, the files it was made from, nor through a symlink; complete or not at all)."""
    path = Path(path)
    recipe = model.recipe
    titles = [(k.item() if isinstance(k, np.generic) else k, str(v)) for k, v in model.titles.items()]
    payload = {
        "format": FORMAT, "version": _version(recipe),
        "recipe": dataclasses.asdict(recipe),
        "state": {k: v.detach().cpu() for k, v in model.module.state_dict().items()},
        "users": _ids(model.users.ids), "movies": _ids(model.movies.ids),
        "rating_range": list(model.rating_range),
        "title_ids": [k for k, _ in titles], "titles": [v for _, v in titles],
        "counts": torch.from_numpy(model.counts.astype(np.int64)),
        "rated_start": torch.from_numpy(model.rated_start.astype(np.int64)),
        "rated_movies": torch.from_numpy(model.rated_movies.astype(np.int64)),
        "dataset": model.dataset, "valid_rmse": float(model.valid_rmse),
    }
    if isinstance(model.module, Ensemble):  # a stopped ensemble keeps fewer members than its recipe names
        payload.update(members=len(model.module.members), combine=COMBINE)
    if getattr(model.module, "uses_time", False) and model.last_rated is not None:
        payload["last_rated"] = torch.from_numpy(model.last_rated.astype(np.int64))
    try:
        return write_file(path, lambda fh: torch.save(payload, fh), inputs, "model")
    except WriteError as e:
        raise ModelFileError(str(e)) from None
    except RuntimeError as e:  # torch's writer reports a failed write (a full disk) as a RuntimeError
        raise ModelFileError(f"{path.name}: cannot be written ({_first_line(e)})") from None


def _version(recipe: Recipe) -> int:
    """The oldest file version that holds a model of this recipe: 1 unless it has genres, time or an ensemble."""
    return 1 if recipe.genres == "off" and recipe.time == "off" and recipe.ensemble == 1 else VERSION


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> CollabModel:
    """Read a model saved by save(); a damaged or foreign file raises a one-line ModelFileError."""
    path, device = Path(path), pick_device(device)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a collabsheet model file, or damaged (not a complete torch.save archive)")
    _check_archive(path)
    try:
        with warnings.catch_warnings():  # a foreign file's warnings would be lines beside the one message
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError:
        raise ModelFileError(f"{path}: not a collabsheet model file (it holds objects other than plain data, "
                             "which are not loaded)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, AttributeError, ImportError,
            IndexError, TypeError, UnicodeDecodeError, OverflowError, RecursionError, MemoryError) as e:
        raise ModelFileError(f"{path}: not a collabsheet model file, or damaged ({_first_line(e)})") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a collabsheet model file (it holds {_kind(payload)})")
    if type(payload.get("version")) is not int or payload["version"] not in READS:  # not a bool, nor a tensor
        raise ModelFileError(f"{path}: model file version {_first_line(repr(payload.get('version')))}; "
                             f"this collabsheet reads versions {', '.join(map(str, READS[:-1]))} and {READS[-1]}")
    try:
        layout = _check_tensors(payload, path.stat().st_size)
        return _rebuild(payload, layout, device)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError, OverflowError) as e:
        raise ModelFileError(f"{path}: damaged model file ({_first_line(e)})") from None


def _check_archive(path: Path) -> None:
    """torch.save stores every member uncompressed: a compressed one could unpack to far more than the file."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ModelFileError(f"{path}: not a collabsheet model file, or damaged ({_first_line(e)})") from None
    size = path.stat().st_size
    if any(m.compress_type != zipfile.ZIP_STORED or m.file_size > size for m in members) or len(members) > 10_000:
        raise ModelFileError(f"{path}: not a collabsheet model file (its archive is not laid out as torch.save "
                             "writes one)")


def _tensors(value, where: str = ""):
    """Every tensor in a loaded payload, with where it sits ('state.u.weight', 'users')."""
    if isinstance(value, torch.Tensor):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{where}[{i}]")


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What a payload says its module is made of, read and checked before anything is built."""

    recipe: Recipe
    members: int | None  # an ensemble's member count; None for a lone model
    sizes: Sizes  # its genre and time tables' sizes
    pairs: tuple[torch.Tensor, torch.Tensor] | None  # svdpp's training (user, movie) pairs

    def prefixes(self) -> list[str]:
        """Where each model's weights sit in the state: '' for a lone model, 'members.i.' for an ensemble's."""
        return [""] if self.members is None else [f"members.{i}." for i in range(self.members)]


def _check_tensors(payload: dict, file_size: int) -> _Layout:
    """Before anything is built: every tensor laid out plainly and held in the file (a stride-0 or overlapping
    view could declare billions of elements in a few bytes), and every shape matching the id maps."""
    for where, t in _tensors(payload):
        if not t.is_contiguous() or t.storage_offset() != 0 or t.numel() * t.element_size() > file_size:
            raise ValueError(f"tensor {where} of shape {tuple(t.shape)} is not stored in the file")
    users, movies = payload["users"], payload["movies"]
    for name, ids in (("users", users), ("movies", movies)):
        if not isinstance(ids, (torch.Tensor, list)) or (isinstance(ids, torch.Tensor) and ids.dim() != 1):
            raise ValueError(f"{name} is not a list of ids")
    n_users, n_movies = len(users), len(movies)
    shapes = {"rated_start": (n_users + 1,), "counts": (n_movies,)}
    if "last_rated" in payload:
        shapes["last_rated"] = (n_users,)
    for name, shape in shapes.items():
        if not isinstance(payload[name], torch.Tensor) or tuple(payload[name].shape) != shape:
            raise ValueError(f"{name} does not match the {n_users:,} users and {n_movies:,} movies")
    state = payload["state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("its weights are not a dict of tensors")
    recipe = Recipe(**payload["recipe"])
    members = _members(payload, recipe)
    lead = "" if members is None else "members.0."
    sizes = Sizes(genres=_table(state, lead + "genres.weights", 2).shape[1] if recipe.genres != "off" else 0,
                  days=_table(state, lead + "time.keys", 1).shape[0] if recipe.time == "bias" else 0)
    layout = _Layout(recipe, members, sizes, _training_pairs(state, lead))
    _check_pairs(state, layout, n_users, n_movies)
    empty = (torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)) if layout.pairs is not None else None
    with torch.device("meta"):  # the shapes the recipe gives these ids, with no memory behind them
        expected = make_model(recipe, n_users, n_movies, (1.0, 5.0), empty, sizes, members).state_dict()
    tables = "".join(f", {n:,} {what}" for n, what in ((sizes.genres, "genres"), (sizes.days, "(user, day) pairs"))
                     if n)
    for name, ref in expected.items():
        if name.rsplit(".", 1)[-1] in ("rated_users", "rated_movies"):
            continue
        if name not in state or tuple(state[name].shape) != tuple(ref.shape):
            got = tuple(state[name].shape) if name in state else "missing"
            raise ValueError(f"weight {name} is {got}; {n_users:,} users and {n_movies:,} movies with "
                             f"{recipe.model}, k={recipe.factors}{tables} need {tuple(ref.shape)}")
    _check_time(state, layout, n_users)
    return layout


def _members(payload: dict, recipe: Recipe) -> int | None:
    """An ensemble's member count as the file gives it (checked against its recipe); None for a lone model."""
    if recipe.ensemble == 1:
        return None
    members, combine = payload.get("members"), payload.get("combine")
    if combine != COMBINE:
        raise ValueError(f"its ensemble combines its members by {_first_line(repr(combine))}; this collabsheet "
                         f"knows only the {COMBINE}")
    if not isinstance(members, int) or isinstance(members, bool) or not 1 <= members <= recipe.ensemble:
        raise ValueError(f"its ensemble of {recipe.ensemble} says it holds {_first_line(repr(members))} members")
    return members


def _table(state: dict, name: str, dims: int) -> torch.Tensor:
    """The weight `name`, which must be there with `dims` dimensions: the sizes of the rest are read off it."""
    if name not in state:
        raise ValueError(f"weight {name} is missing")
    if state[name].dim() != dims:
        raise ValueError(f"weight {name} is {tuple(state[name].shape)}; it must have {dims} dimension"
                         f"{'s' * (dims != 1)}")
    return state[name]


def _check_pairs(state: dict, layout: _Layout, n_users: int, n_movies: int) -> None:
    """svdpp's training pairs: within the id maps, and the same in every member (each derives its sums from them)."""
    if layout.pairs is None:
        return
    rated_users, rated_movies = layout.pairs
    if rated_users.shape != rated_movies.shape or rated_users.dim() != 1 or (len(rated_users) and (
            int(rated_users.min()) < 0 or int(rated_users.max()) >= n_users or int(rated_movies.min()) < 0
            or int(rated_movies.max()) >= n_movies)):
        raise ValueError("its training pairs do not match the users and movies")
    for prefix in layout.prefixes()[1:]:
        theirs = _training_pairs(state, prefix)
        if theirs is None or not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(theirs, layout.pairs)):
            raise ValueError(f"its ensemble's members hold different training pairs ({prefix}rated_users)")


def _check_time(state: dict, layout: _Layout, n_users: int) -> None:
    """The time tables' scalars and keys as TimeBias and TimeConts make them, so a lookup cannot go astray."""
    for prefix in layout.prefixes():
        if layout.recipe.time == "bias":
            days, keys = int(state[prefix + "time.days"]), state[prefix + "time.keys"]
            if days < 1 or (len(keys) and (bool((keys[1:] <= keys[:-1]).any()) or int(keys[0]) < 0
                                           or int(keys[-1]) >= n_users * days)):
                raise ValueError(f"its (user, day) table {prefix}time.keys is not sorted within its "
                                 f"{n_users:,} users × {days:,} days")
        elif layout.recipe.time == "conts" and int(state[prefix + "conts.span"]) < 1:
            raise ValueError(f"its time span {prefix}conts.span is not a positive number of seconds")


def _rebuild(payload: dict, layout: _Layout, device) -> CollabModel:
    recipe = layout.recipe
    users, movies = IdMap(_array(payload["users"]), "user"), IdMap(_array(payload["movies"]), "movie")
    low, high = (float(x) for x in payload["rating_range"])
    module = make_model(recipe, len(users), len(movies), (low, high), layout.pairs, layout.sizes, layout.members)
    module.load_state_dict(payload["state"])  # strict: a missing or mis-shaped weight raises
    start, rated = payload["rated_start"].numpy(), payload["rated_movies"].numpy()
    counts = payload["counts"].numpy()
    if len(start) != len(users) + 1 or len(counts) != len(movies) or (len(rated) and (rated.max() >= len(movies)
                                                                                  or rated.min() < 0)):
        raise ValueError("its id maps and rated movies do not match")
    last = payload.get("last_rated")
    if getattr(module, "uses_time", False) and last is None:
        raise ValueError("it uses each rating's time and lacks its users' last rating dates (last_rated)")
    titles = dict(zip(payload["title_ids"], payload["titles"]))
    return CollabModel(module.to(device), recipe, users, movies, (low, high), titles, counts, start, rated,
                       str(payload["dataset"]), float(payload["valid_rmse"]),
                       None if last is None else last.to(torch.int64).numpy())


def _training_pairs(state: dict, prefix: str = "") -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (user, movie) pairs of the training ratings that an svdpp model keeps as buffers, if it is one."""
    if prefix + "rated_users" not in state or prefix + "rated_movies" not in state:
        return None
    return state[prefix + "rated_users"], state[prefix + "rated_movies"]


def _kind(payload) -> str:
    if isinstance(payload, dict):
        keys = ", ".join(sorted(map(str, payload))[:4])
        return f"a dict with keys {keys}" if keys else "an empty dict"
    return f"a {type(payload).__name__}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."
