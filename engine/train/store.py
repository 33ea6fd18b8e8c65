"""Saving and loading a trained model.

The file is plain data (tensors, numbers, strings, lists) through torch.save, read back with
weights_only=True, so opening a model file runs no code from it.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from collabsheet.engine.device import pick_device
from collabsheet.engine.train.build import make_model
from collabsheet.engine.train.data import IdMap
from collabsheet.engine.train.model import CollabModel
from collabsheet.engine.train.recipes import Recipe

FORMAT = "collabsheet-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be used; str(error) is one line naming the file and what is wrong."""


def _ids(ids: np.ndarray):
    """Ids as a tensor when they are integers, else a list of strings (weights_only loads both)."""
    if np.issubdtype(ids.dtype, np.integer):
        return torch.from_numpy(ids.astype(np.int64))
    return [str(i) for i in ids]


def _array(ids) -> np.ndarray:
    return ids.numpy() if isinstance(ids, torch.Tensor) else np.array(ids, dtype=object)


def save(model: CollabModel, path: str | os.PathLike) -> Path:
    """Write the model, its id maps, titles, who rated what and its recipe to `path` (atomically)."""
    path = Path(path)
    titles = [(k.item() if isinstance(k, np.generic) else k, str(v)) for k, v in model.titles.items()]
    payload = {
        "format": FORMAT, "version": VERSION,
        "recipe": dataclasses.asdict(model.recipe),
        "state": {k: v.detach().cpu() for k, v in model.module.state_dict().items()},
        "users": _ids(model.users.ids), "movies": _ids(model.movies.ids),
        "rating_range": list(model.rating_range),
        "title_ids": [k for k, _ in titles], "titles": [v for _, v in titles],
        "counts": torch.from_numpy(model.counts.astype(np.int64)),
        "rated_start": torch.from_numpy(model.rated_start.astype(np.int64)),
        "rated_movies": torch.from_numpy(model.rated_movies.astype(np.int64)),
        "dataset": model.dataset, "valid_rmse": float(model.valid_rmse),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(f"{path}: cannot be written ({e.strerror or e})") from None
    return path


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> CollabModel:
    """Read a model saved by save(); a damaged or foreign file raises a one-line ModelFileError."""
    path, device = Path(path), pick_device(device)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a collabsheet model file, or damaged (not a complete torch.save archive)")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise ModelFileError(f"{path}: not a collabsheet model file (it holds objects other than plain data, "
                             "which are not loaded)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, AttributeError, ImportError,
            IndexError, TypeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: not a collabsheet model file, or damaged ({_first_line(e)})") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a collabsheet model file (it holds {_kind(payload)})")
    if payload.get("version") != VERSION:
        raise ModelFileError(f"{path}: model file version {payload.get('version')!r}; "
                             f"this collabsheet reads version {VERSION}")
    try:
        return _rebuild(payload, device)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
        raise ModelFileError(f"{path}: damaged model file ({_first_line(e)})") from None


def _rebuild(payload: dict, device) -> CollabModel:
    recipe = Recipe(**payload["recipe"])
    users, movies = IdMap(_array(payload["users"]), "user"), IdMap(_array(payload["movies"]), "movie")
    low, high = (float(x) for x in payload["rating_range"])
    state = payload["state"]
    module = make_model(recipe, len(users), len(movies), (low, high), _training_pairs(state))
    module.load_state_dict(state)  # strict: a missing or mis-shaped weight raises
    start, rated = payload["rated_start"].numpy(), payload["rated_movies"].numpy()
    counts = payload["counts"].numpy()
    if len(start) != len(users) + 1 or len(counts) != len(movies) or (len(rated) and rated.max() >= len(movies)):
        raise ValueError("its id maps and rated movies do not match")
    titles = dict(zip(payload["title_ids"], payload["titles"]))
    return CollabModel(module.to(device), recipe, users, movies, (low, high), titles, counts, start, rated,
                       str(payload["dataset"]), float(payload["valid_rmse"]))


def _training_pairs(state: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (user, movie) pairs of the training ratings that an svdpp model keeps as buffers, if it is one."""
    if "rated_users" not in state or "rated_movies" not in state:
        return None
    return state["rated_users"], state["rated_movies"]


def _kind(payload) -> str:
    if isinstance(payload, dict):
        keys = ", ".join(sorted(map(str, payload))[:4])
        return f"a dict with keys {keys}" if keys else "an empty dict"
    return f"a {type(payload).__name__}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."
