"""Every training run, kept in SQLite in the user data folder, to list and compare (`collabsheet runs`).

A run row holds its settings (the recipe as JSON and the main ones as columns), the data and split, the
final validation RMSE and MSE, time, device and collabsheet's version; an epochs row per finished epoch
holds the training loss and validation MSE/RMSE. No torch here: the window can read it while torch loads.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import sqlite3
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import platformdirs

from collabsheet.engine.safe_write import write_bytes
from collabsheet.engine.train.recipes import Recipe

ENV = "COLLABSHEET_DATA"  # another folder for the database (tests, several set-ups side by side)
FILE = "runs.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,          -- local time, ISO 8601
    recipe TEXT NOT NULL,           -- the recipe's name
    model TEXT NOT NULL,
    summary TEXT NOT NULL,          -- Recipe.summary()
    settings TEXT NOT NULL,         -- every setting, as JSON
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,            -- random:SEED, u1 … u5, or valid:PATH
    seed INTEGER NOT NULL,
    n_train INTEGER NOT NULL,
    n_valid INTEGER NOT NULL,
    device TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,           -- finished, stopped or diverged
    epochs INTEGER NOT NULL,        -- finished epochs
    valid_rmse REAL,
    valid_mse REAL,
    seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    train_loss REAL,
    valid_mse REAL,
    valid_rmse REAL,
    seconds REAL,
    PRIMARY KEY (run, epoch)
);
"""
COLUMNS = ("id", "started", "recipe", "model", "summary", "settings", "dataset", "split", "seed", "n_train",
           "n_valid", "device", "version", "status", "epochs", "valid_rmse", "valid_mse", "seconds")
SORTS = ("id", "rmse", "seconds", "started")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a CSV cell starting so is a formula to Excel and Calc
SEARCHED = ("recipe", "model", "dataset", "split", "summary", "status", "device")  # what a text filter looks in


@dataclass(frozen=True)
class Run:
    """One recorded run, as listed."""

    id: int
    started: str
    recipe: str
    model: str
    summary: str
    settings: str
    dataset: str
    split: str
    seed: int
    n_train: int
    n_valid: int
    device: str
    version: str
    status: str
    epochs: int
    valid_rmse: float | None
    valid_mse: float | None
    seconds: float


def database(path: str | os.PathLike | None = None) -> Path:
    """Where the runs are kept: `path`, $COLLABSHEET_DATA/runs.sqlite, or the user data folder's."""
    if path is not None:
        return Path(path)
    folder = os.environ.get(ENV) or platformdirs.user_data_dir("collabsheet")
    return Path(folder) / FILE


def version() -> str:
    """collabsheet's installed version, or "unknown" when run from a bare checkout."""
    try:
        return metadata.version("collabsheet")
    except metadata.PackageNotFoundError:
        return "unknown"


def connect(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """The database, created with its tables on first use."""
    p = database(path)
    if p.is_symlink() or (p.exists() and not p.is_file()):  # only ever a regular file of its own, as every output
        raise ValueError(f"the runs database {p}: is not a regular file; collabsheet keeps its runs only in one")
    p.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(p, timeout=10)
    con.execute("PRAGMA foreign_keys = ON")
    con.executescript(SCHEMA)
    return con


def _number(x) -> float | None:  # noqa: ANN001 - a float or NaN
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def record(recipe: Recipe, *, dataset: str, split: str, seed: int, n_train: int, n_valid: int, device: str,
           status: str, epochs: Iterable, seconds: float, path: str | os.PathLike | None = None) -> int:
    """Keep one run; `epochs` are objects with epoch, train_loss, valid_mse, valid_rmse, seconds. Its id."""
    rows = [(e.epoch, _number(e.train_loss), _number(e.valid_mse), _number(e.valid_rmse), _number(e.seconds))
            for e in epochs]
    last = rows[-1] if rows else (0, None, None, None, None)
    with _named(path), connect(path) as con:
        cur = con.execute(
            "INSERT INTO runs (started, recipe, model, summary, settings, dataset, split, seed, n_train, n_valid, "
            "device, version, status, epochs, valid_rmse, valid_mse, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (time.strftime("%Y-%m-%dT%H:%M:%S"), recipe.name, recipe.model, recipe.summary(),
             json.dumps(dataclasses.asdict(recipe)), dataset, split, seed, n_train, n_valid, device, version(),
             status, len(rows), last[3], last[2], float(seconds)))
        run = int(cur.lastrowid)
        con.executemany("INSERT INTO epochs VALUES (?,?,?,?,?,?)", [(run, *r) for r in rows])
    con.close()
    return run


def runs(path: str | os.PathLike | None = None, *, sort: str = "id", model: str | None = None,
         split: str | None = None, dataset: str | None = None, text: str | None = None,
         limit: int | None = None) -> list[Run]:
    """Recorded runs, filtered by model, split, dataset (substring) and text (see `matches`), sorted (rmse: best
    first; seconds: quickest first; else newest)."""
    if sort not in SORTS:
        raise ValueError(f"sort by one of {', '.join(SORTS)}, not {sort!r}")
    where, args = [], []
    for column, value in (("model", model), ("split", split)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if dataset:
        where.append("dataset LIKE ?")
        args.append(f"%{dataset}%")
    order = {"id": "id DESC", "started": "started DESC, id DESC", "seconds": "seconds, id",
             "rmse": "valid_rmse IS NULL, valid_rmse, id"}[sort]
    sql = f"SELECT {', '.join(COLUMNS)} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "") \
        + f" ORDER BY {order}"
    with _named(path):
        con = connect(path)
        try:
            found = [Run(*row) for row in con.execute(sql, args)]
        finally:
            con.close()
    if text:  # in Python, so the command line and the window's table filter by one rule
        found = [r for r in found if matches(r, text)]
    return found[:limit] if limit else found


def matches(run: Run, text: str) -> bool:
    """Whether every word of `text` is in one of the run's SEARCHED fields, ignoring case ("net u1" finds nets on u1)."""
    fields = [str(getattr(run, name)).casefold() for name in SEARCHED]
    return all(any(word in f for f in fields) for word in text.casefold().split())


def differences(rows: Sequence[Run]) -> dict[str, list]:
    """The settings (and data, split, seed) on which the runs differ: name → each run's value, in `rows`' order."""
    described = []
    for r in rows:
        settings = json.loads(r.settings)
        for prose in ("name", "about"):  # shown anyway, and "(changed)" or a recipe's story is no setting
            settings.pop(prose, None)
        described.append({**settings, "dataset": r.dataset, "split": r.split, "seed": r.seed})
    names = list(dict.fromkeys(name for d in described for name in d))
    return {name: [d.get(name) for d in described] for name in names
            if len({json.dumps(d.get(name), sort_keys=True) for d in described}) > 1}


def curves(ids: Sequence[int], path: str | os.PathLike | None = None) -> dict[int, list[tuple[int, float, float]]]:
    """Each run's (epoch, train loss, validation RMSE) per finished epoch; a missing id raises ValueError."""
    if not ids:
        return {}
    with _named(path):
        con = connect(path)
        try:
            known = {r[0] for r in con.execute(f"SELECT id FROM runs WHERE id IN ({','.join('?' * len(ids))})", ids)}
            out: dict[int, list] = {i: [] for i in ids}
            for run, epoch, loss, rmse in con.execute(
                    f"SELECT run, epoch, train_loss, valid_rmse FROM epochs WHERE run IN ({','.join('?' * len(ids))}) "
                    "ORDER BY run, epoch", ids):
                out[run].append((epoch, loss, rmse))
        finally:
            con.close()
    if missing := [i for i in ids if i not in known]:
        raise ValueError(f"no run {missing[0]} in {database(path)}")
    return out


def delete(ids: Sequence[int], path: str | os.PathLike | None = None) -> int:
    """Forget runs (and their epochs); how many there were."""
    if not ids:
        return 0
    with _named(path):
        con = connect(path)
        try:
            with con:  # one transaction
                n = con.execute(f"DELETE FROM runs WHERE id IN ({','.join('?' * len(ids))})", list(ids)).rowcount
        finally:
            con.close()
    return n


@contextlib.contextmanager
def _named(path: str | os.PathLike | None) -> Iterator[None]:
    """SQLite's own errors ("file is not a database") as one line that names the database."""
    try:
        yield
    except sqlite3.Error as error:
        raise ValueError(f"the runs database {database(path)}: {error}") from None


def write_csv(rows: Sequence[Run], out) -> None:  # noqa: ANN001 - a text file
    """The runs as CSV with a header, every column; text that a spreadsheet would take for a formula gets a quote."""
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_inert(v) for v in dataclasses.astuple(r)])


def _inert(value):  # noqa: ANN001, ANN202 - any cell
    # A dataset named after a file called "=HYPERLINK(…)" must stay text when the CSV is opened in a spreadsheet.
    return f"'{value}" if isinstance(value, str) and value[:1] in FORMULA_STARTS else value


def export_csv(rows: Sequence[Run], out: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Write the runs as CSV to `out` through engine.safe_write (never over the database at `path`); the file."""
    text = io.StringIO(newline="")
    write_csv(rows, text)
    return write_bytes(out, text.getvalue().encode("utf-8"), {database(path): "the runs database"}, what="CSV file")
