"""The Training tab's checkpoint: where it lives, and what run it continues, read without torch (Qt-free).

The tab checkpoints each finished epoch of its runs to one file in the user data folder (beside the runs
database, engine.train.runs), as `collabsheet train --save` does beside the model. The Resume button says what
that file continues before torch has loaded: a checkpoint is a torch.save archive (engine.train.checkpoint) whose
settings, data shape and epoch sit in its small pickle, while the tensors are separate records. `read_summary`
unpickles that pickle alone, turning every tensor into None: it resolves no global but torch's tensor rebuilders
(stand-ins that build nothing) and OrderedDict, so reading a foreign file runs no code of its.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

from collabsheet.engine.train.recipes import Recipe
from collabsheet.engine.train.runs import database

FILE = "training-tab.ckpt"  # one checkpoint for the tab: a new run replaces it
FORMAT = "collabsheet-checkpoint"  # engine.train.checkpoint.FORMAT (a test keeps the two equal)
MAX_PICKLE = 1 << 20  # a checkpoint's settings and history take a few kB; anything much larger is not one


class CheckpointUnreadable(ValueError):
    """A file that is not a checkpoint this tab can describe; str(error) is one line naming it."""


def tab_checkpoint() -> Path:
    """The tab's checkpoint file, in the folder of the runs database (COLLABSHEET_DATA or the user data folder)."""
    return database().parent / FILE


@dataclass(frozen=True)
class CheckpointSummary:
    """What a checkpoint continues: its settings, seed, data and how far it got."""

    path: Path
    settings: dict  # the Recipe's fields, as saved
    seed: int
    dataset: str
    epoch: int  # epochs finished
    epochs: int  # epochs in the whole run

    @property
    def name(self) -> str:
        return str(self.settings.get("name", "custom"))

    def recipe(self) -> Recipe:
        """The Recipe the run was trained with (the form may have changed since)."""
        return recipe_of(self.settings, self.path)

    def describe(self) -> str:
        """`fast (epoch 3 of 10 on MovieLens 100k)`."""
        return f"{self.name} (epoch {self.epoch} of {self.epochs} on {self.dataset})"


def _nothing(*args, **kwargs) -> None:
    """What a tensor or storage in the pickle reads as: only the plain fields around them are wanted."""
    return None


def recipe_of(settings: dict, path: Path) -> Recipe:
    """A checkpoint's saved settings as a Recipe; CheckpointUnreadable (one line) when they are not one."""
    try:
        return Recipe(**settings)
    except (TypeError, ValueError) as e:
        raise CheckpointUnreadable(f"{path}: its settings are not a recipe this collabsheet knows "
                                   f"({str(e).splitlines()[0]})") from None


class _SettingsOnly(pickle.Unpickler):
    """Unpickles a torch.save pickle's plain data; tensors become None and no other global is resolved."""

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch" or module.startswith("torch."):
            return _nothing
        raise pickle.UnpicklingError(f"refers to {module}.{name}, which no checkpoint holds")

    def persistent_load(self, pid) -> None:  # noqa: ANN001 - a tensor's storage record
        return None


def read_summary(path: str | Path) -> CheckpointSummary | None:
    """What the checkpoint at `path` continues; None when there is none; CheckpointUnreadable (one line) if damaged."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
            if len(pickles) != 1 or archive.getinfo(pickles[0]).file_size > MAX_PICKLE:
                raise CheckpointUnreadable(f"{path}: not a collabsheet checkpoint (no settings record)")
            payload = _SettingsOnly(io.BytesIO(archive.read(pickles[0]))).load()
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointUnreadable(f"{path}: not a collabsheet checkpoint")
        settings, data, fit = payload["recipe"], payload["data"], payload["fit"]
        return CheckpointSummary(path, dict(settings), int(data["seed"]), str(data["name"]), int(fit["epoch"]),
                                 int(settings["epochs"]))
    except CheckpointUnreadable:
        raise
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
            AttributeError, IndexError) as e:
        raise CheckpointUnreadable(f"{path}: not a collabsheet checkpoint, or damaged "
                                   f"({str(e).strip()[:120] or type(e).__name__})") from None
    except OSError as e:
        raise CheckpointUnreadable(f"{path}: cannot be read ({e.strerror or e})") from None


def look(path: str | Path) -> tuple[CheckpointSummary | None, str]:
    """(summary, "") for a checkpoint; (None, "") when there is none; (None, its one line) when it cannot be read."""
    try:
        return read_summary(path), ""
    except CheckpointUnreadable as e:
        return None, str(e)
