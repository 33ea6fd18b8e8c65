"""The workbook's data: the lesson's recipe (x = RANDBETWEEN(1, 100), y = b + a·x) or a CSV with x and y columns."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collabsheet.engine.graddesc.settings import MAX_ROWS


class DataError(ValueError):
    """Data that cannot be used; str(error) is one line naming the file, line or value."""


@dataclass(frozen=True, eq=False)
class Data:
    """The (x, y) pairs every epoch steps through in order, float64."""

    x: np.ndarray
    y: np.ndarray
    name: str = "data"  # where they came from, for titles

    def __post_init__(self) -> None:
        x, y = (np.array(v, dtype=np.float64).reshape(-1) for v in (self.x, self.y))
        if x.size != y.size:
            raise DataError(f"{self.name}: {x.size} x values but {y.size} y values")
        if not 1 <= x.size <= MAX_ROWS:
            raise DataError(f"{self.name}: needs 1 to {MAX_ROWS:,} rows, has {x.size:,}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise DataError(f"{self.name}: every x and y must be a finite number")
        x.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return self.x.size


def lesson_data(rows: int = 29, seed: int = 42, a: float = 2.0, b: float = 30.0, noise: float = 0.0,
                low: int = 1, high: int = 100) -> Data:
    """The lesson's data sheet: x = RANDBETWEEN(low, high), y = b + x·a (+ noise·N(0, 1)), seeded."""
    if not 1 <= rows <= MAX_ROWS:
        raise DataError(f"rows must be between 1 and {MAX_ROWS:,}, got {rows}")
    if not (np.isfinite(noise) and noise >= 0):
        raise DataError(f"noise must be a number ≥ 0, got {noise}")
    if low > high:
        raise DataError(f"x range {low}…{high} is empty")
    rng = np.random.default_rng(seed)
    x = rng.integers(low, high, size=rows, endpoint=True).astype(np.float64)
    y = b + x * a
    if noise:
        y = y + noise * rng.standard_normal(rows)
    where = f"{rows} rows, seed {seed}, y = {b:g} + {a:g}·x" + (f" + {noise:g}·noise" if noise else "")
    return Data(x, y, where)


def read_csv(path: str | Path) -> Data:
    """x, y pairs from a CSV with columns named x and y (any case, any other columns ignored)."""
    import pandas as pd  # here, not at the top: the window starts without pandas (README, start-up)

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, skip_blank_lines=False)
    except FileNotFoundError:
        raise DataError(f"{path.name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path.name}: is a folder, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path.name}: not a readable CSV file ({' '.join(str(exc).split())[:120]})") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}
    for want in ("x", "y"):
        if want not in columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise DataError(f"{path.name}: no column named {want!r} (columns: {found})")
    frame = frame.fillna("")
    frame = frame[(frame != "").any(axis=1)]  # blank lines; the index still counts them, for line numbers
    if frame.empty:
        raise DataError(f"{path.name}: has a header but no rows")
    values = {}
    for want in ("x", "y"):
        text = frame[columns[want]].str.strip()
        number = pd.to_numeric(text, errors="coerce")
        bad = ~np.isfinite(number.to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            found = repr(text.iloc[i]) if text.iloc[i] else "a blank"
            raise DataError(f"{path.name} line {frame.index[i] + 2}: {want} should be a number, found {found}")
        values[want] = number.to_numpy(dtype=np.float64)
    return Data(values["x"], values["y"], path.name)
