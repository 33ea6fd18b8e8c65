"""Checkpoints of a training run after each finished epoch, so an interrupted run keeps its work and resumes.

A checkpoint holds the module's and optimizer's states, where fit stood (epoch, batches, random states,
smoothed loss, history) and what it must match to resume: the recipe, the seed and the data's shape. It
is plain data for torch.save, read back with weights_only=True, and written atomically: a temporary file
in the same folder, flushed to disk, then renamed over the old one, so a kill at any moment leaves either
the previous checkpoint or the new one, whole. It never writes through a symbolic link nor replaces
anything but a regular file.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from collabsheet.engine.safe_write import WriteError, write_file
from torch import nn

from collabsheet.engine.train.data import TrainData
from collabsheet.engine.train.fit import EpochEvent, FitState
from collabsheet.engine.train.recipes import Recipe

FORMAT = "collabsheet-checkpoint"
VERSION = 1
SUFFIX = ".ckpt"
_IGNORED = ("name", "about")  # labels may differ on resume; every setting that trains must not


class CheckpointError(ValueError):
    """A checkpoint that cannot be written, read or resumed from; str(error) is one line naming the file."""


def checkpoint_path(save: str | os.PathLike) -> Path:
    """Where the checkpoint of a model saved to `save` goes: beside it, NAME.ckpt."""
    save = Path(save)
    if save.suffix == SUFFIX:
        raise CheckpointError(f"{save}: a model file may not end in {SUFFIX}, which its checkpoint uses")
    return save.with_suffix(SUFFIX)


def _shape(data: TrainData, seed: int) -> dict:
    return {"name": data.name, "seed": seed, "train": len(data.train), "valid": len(data.valid),
            "users": len(data.users), "movies": len(data.movies)}


def write_atomic(path: str | os.PathLike, payload: object) -> Path:
    """torch.save `payload` to `path` through engine.safe_write: a synced temporary file of its own, then a rename;
    never through a link nor over anything but a regular file."""
    try:
        return write_file(path, lambda fh: torch.save(payload, fh), what="checkpoint")
    except WriteError as e:
        raise CheckpointError(f"{path}: {str(e).split(': ', 1)[-1]}") from None


def save_checkpoint(path: str | os.PathLike, module: nn.Module, opt: torch.optim.Optimizer, state: FitState,
                    recipe: Recipe, data: TrainData, seed: int) -> Path:
    """Write a checkpoint of the run after a finished epoch."""
    fit_state = dataclasses.asdict(state)
    fit_state["history"] = [dataclasses.asdict(e) for e in state.history]
    payload = {"format": FORMAT, "version": VERSION, "recipe": dataclasses.asdict(recipe),
               "data": _shape(data, seed),
               "module": {k: v.detach().cpu() for k, v in module.state_dict().items()},
               "optimizer": _to_cpu(opt.state_dict()), "fit": fit_state}
    return write_atomic(path, payload)


def _to_cpu(value):  # noqa: ANN001, ANN202 - nested state dicts
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back: the states to load and where fit stood."""

    path: Path
    recipe: dict
    data: dict
    module: dict
    optimizer: dict
    state: FitState

    def check(self, recipe: Recipe, data: TrainData, seed: int) -> None:
        """Raise CheckpointError unless this run (recipe, seed, data) is the one the checkpoint continues."""
        theirs, ours = self.recipe, dataclasses.asdict(recipe)
        differ = [k for k in ours if k not in _IGNORED and theirs.get(k) != ours[k]]
        if differ:
            k = differ[0]
            raise CheckpointError(f"{self.path}: was trained with {k} {theirs.get(k)!r}, this run has {ours[k]!r}; "
                                  "resume with the same settings")
        shape = _shape(data, seed)
        for k, v in shape.items():
            if self.data.get(k) != v:
                raise CheckpointError(f"{self.path}: was trained on other data or another split ({k} "
                                      f"{self.data.get(k)!r}, now {v!r}); resume with the same ratings and seed")
        if self.state.epoch >= recipe.epochs:
            raise CheckpointError(f"{self.path}: the run already finished all {recipe.epochs} epochs")


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by save_checkpoint; anything else raises a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from" if not path.exists()
                              else f"{path}: is not a file")
    try:
        if not zipfile.is_zipfile(path):
            raise CheckpointError(f"{path}: not a collabsheet checkpoint, or damaged (not a complete torch.save "
                                  "archive)")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a collabsheet checkpoint")
        if payload.get("version") != VERSION:
            raise CheckpointError(f"{path}: checkpoint version {payload.get('version')!r}; this collabsheet reads "
                                  f"version {VERSION}")
        fit = dict(payload["fit"])
        fit["history"] = tuple(EpochEvent(**e) for e in fit["history"])
        return Checkpoint(path, payload["recipe"], payload["data"], payload["module"], payload["optimizer"],
                          FitState(**fit))
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, KeyError, TypeError, ValueError,
            AttributeError) as e:
        raise CheckpointError(f"{path}: not a collabsheet checkpoint, or damaged ({str(e).strip()[:120]})") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None


def finish_checkpoint(path: Path, done: bool) -> str:
    """After a run: a finished run's checkpoint is removed (its model is saved); a stopped run's is kept. Says which."""
    try:
        info = os.lstat(path)
    except OSError:
        return "no epoch finished, so there is no checkpoint to resume from" if not done else ""
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file; left as it is"
    if done:
        path.unlink()
        return f"removed the checkpoint {path} (the run finished)"
    return f"kept the last finished epoch in {path}; add --resume to go on from it"
