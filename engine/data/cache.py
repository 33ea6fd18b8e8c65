"""Where the default data's prepared copy lives, and the sheets kept beside it so a window opens without pandas.

The lesson's sheet of the prepared MovieLens copy is a few kilobytes; read back from an .npz it takes a few
milliseconds, where importing pandas and reading the parquet copy take about half a second on a small machine.
Each kept sheet is stamped with the prepared copy's files (size and modification time): a new copy makes it stale.
Nothing here imports pandas.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import platformdirs

from collabsheet.engine.data.crosstab import Crosstab

PREPARED_FILES = ("ratings.parquet", "titles.parquet", "dataset.json")
RATINGS_ENV = "COLLABSHEET_RATINGS"  # a ratings file that replaces MovieLens as the default
_FORMAT = 1  # bump when what a kept sheet holds changes
MAX_KEPT_TOP = 200  # sheets up to 200 × 200 are kept (about 0.3 MB); a bigger one is read from the data each time


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder holding the prepared copy: the argument, $COLLABSHEET_CACHE, or the user cache."""
    base = cache_dir or os.environ.get("COLLABSHEET_CACHE") or platformdirs.user_cache_dir("collabsheet")
    return Path(base) / "movielens"


def _stamp(folder: Path) -> np.ndarray | None:
    """The prepared copy's files as (size, mtime in ns) pairs; None when it is not all there."""
    try:
        stats = [(folder / name).stat() for name in PREPARED_FILES]
    except OSError:
        return None
    return np.array([[s.st_size, s.st_mtime_ns] for s in stats] + [[_FORMAT, 0]], dtype=np.int64)


def _sheet_path(folder: Path, top: int) -> Path:
    return folder / f"sheet-top{top}.npz"


def kept_crosstab(top: int, cache_dir: str | os.PathLike | None = None) -> Crosstab | None:
    """The default data's top-N sheet as kept beside the prepared copy; None when there is none or it is stale."""
    if os.environ.get(RATINGS_ENV):  # the default is another file: its sheet is not the prepared copy's
        return None
    folder = cache_folder(cache_dir)
    stamp, path = _stamp(folder), _sheet_path(folder, top)
    if stamp is None or not path.is_file():  # a FIFO or a device there would block np.load: never opened
        return None
    try:
        with np.load(path, allow_pickle=False) as kept:
            if not np.array_equal(kept["stamp"], stamp):
                return None
            ratings = kept["ratings"].astype(np.float64)
            grid = Crosstab(ratings, tuple(kept["user_ids"].tolist()), tuple(kept["item_ids"].tolist()),
                            tuple(str(t) for t in kept["titles"].tolist()), str(kept["name"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):  # missing or damaged: read the data
        return None
    if ratings.shape != (top, top) or len(grid.user_ids) != top or len(grid.item_ids) != top:
        return None
    return grid


def keep_crosstab(grid: Crosstab, top: int, cache_dir: str | os.PathLike | None = None) -> None:
    """Keep the default data's top-N sheet beside its prepared copy (quietly nothing when that cannot be done)."""
    if os.environ.get(RATINGS_ENV):
        return
    folder = cache_folder(cache_dir)
    stamp = _stamp(folder)
    if stamp is None or grid.ratings.shape != (top, top) or top > MAX_KEPT_TOP:
        return
    path = _sheet_path(folder, top)
    if path.is_symlink() or (path.exists() and not path.is_file()):  # only ever replaces a regular file
        return
    arrays = {"ratings": grid.ratings, "user_ids": np.asarray(grid.user_ids), "item_ids": np.asarray(grid.item_ids),
              "titles": np.asarray(grid.titles, dtype=str), "name": np.asarray(grid.name), "stamp": stamp}
    if any(a.dtype == object for a in arrays.values()):  # ids of mixed types: not worth keeping
        return
    tmp = None
    try:
        # A new file of its own beside the sheet (O_EXCL), then renamed over it: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False) as f:
            tmp = Path(f.name)
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        if tmp is not None:
            tmp.unlink(missing_ok=True)
