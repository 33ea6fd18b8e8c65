"""Ratings tables: the one type every source produces, and the loader for files on disk."""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import threading
import time
import warnings
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from collabsheet.engine.data.errors import RatingsError, ratings_error
from collabsheet.engine.data.csv_columns import read_columns
from collabsheet.engine.data.genres import load_genres
from collabsheet.engine.data.source import STDIN, Source, first_bad_utf8, not_utf8, open_source, read_text
from collabsheet.engine.task import Task

PROGRESS_EVERY = 1.0  # seconds between reports of bytes read


@dataclass(frozen=True)
class Ratings:
    """A ratings table: one row per (user, item) with a float rating, plus optional titles, genres and times."""

    # columns: user, item, rating (float64), and timestamp (int64 seconds) where the data has one; one row per
    # (user, item), in the file's order
    frame: pd.DataFrame
    name: str  # what to call it in the UI, e.g. "MovieLens 100k" or the file's name
    source: str  # where it came from: a path or a URL
    titles: dict = field(default_factory=dict)  # item id -> title; may be empty
    notes: tuple[str, ...] = ()  # things the loader did that a user should hear about
    licence: str = ""  # licence/citation notice to show with the data, if any
    genres: dict = field(default_factory=dict)  # item id -> tuple of genre names; may be empty

    @property
    def has_times(self) -> bool:
        """Whether each rating carries when it was made (a timestamp column)."""
        return TIME in self.frame.columns

    @property
    def n_users(self) -> int:
        return int(self.frame["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.frame["item"].nunique())

    def __len__(self) -> int:
        return len(self.frame)



_ROLES = ("user", "item", "rating")
TIME = "timestamp"  # the optional fourth column: when each rating was made, in whole seconds
_ALIASES = {
    TIME: ("timestamp",),  # MovieLens's name; any other is named with time_col
    "user": ("userid", "user_id", "user", "uid"),
    "item": ("movieid", "movie_id", "itemid", "item_id", "item", "movie", "iid"),
    "rating": ("rating", "score", "stars"),
}
_SIBLINGS = {"ratings.csv": "movies.csv", "u.data": "u.item", "ratings.dat": "movies.dat"}
# MovieLens's headerless files whose fourth field is the rating's timestamp
_TIMED_NAMES = re.compile(r"(u\.data|u[1-5]\.(base|test)|u[ab]\.(base|test)|ratings\.dat)$", re.IGNORECASE)
MAX_RATING = 1e50  # |rating| beyond this overflows float64 once squared, summed and multiplied in the solver
_SAMPLE = 20  # lines sniffed for separator, header and ragged rows
_is_num = re.compile(r"\s*[-+]?((\d+\.?\d*|\.\d+)(e[-+]?\d+)?|inf|infinity|nan)\s*$", re.IGNORECASE).match
Column = str | int | None  # a column name (case-insensitive) or a 0-based position


@dataclass(frozen=True)
class _Layout:
    """How a ratings file is laid out, as sniffed from its first lines."""

    sep: str
    header: list[str] | None
    skip: int  # blank lines before the first row
    cols: tuple[int, ...]  # 0-based positions of user, item, rating
    decimal: str = "."
    gap: int = 0  # blank (or comment) lines between the header and the first row
    time: int | None = None  # 0-based position of the timestamp column, if the ratings carry one
    time_named: bool = False  # the caller named it (a bad value is an error), rather than it being found

    @property
    def first_row(self) -> int:
        """Lines before the first row (pandas is given these to skip: a blank first line would set its width)."""
        return self.skip + (self.header is not None) + self.gap


def load_ratings(path: str | PathLike, *, user_col: Column = None, item_col: Column = None,
                 rating_col: Column = None, sep: str | None = None, titles_path: str | PathLike | None = None,
                 name: str | None = None, task: Task | None = None, time_col: Column = None,
                 genres_path: str | PathLike | None = None, genres_col: Column = None) -> Ratings:
    """Read a ratings file (MovieLens or any CSV/TSV; "-" is standard input) into Ratings, raising one-line
    RatingsErrors. A task hears the bytes read (a message and the share read), about once a second, on long
    reads of a file on disk, and ends the read with engine.task.Cancelled when cancelled.

    A timestamp column is kept when `time_col` names it, when the header has a `timestamp` column, or in
    MovieLens's own headerless files (u.data, ratings.dat); one that was found, not named, and holds something
    other than whole seconds is left out with a note. Genres come from `genres_path` (else the titles
    file), in its `genres_col` column (else MovieLens's layouts: u.item's flags, movies.csv's genres).
    """
    label = "standard input" if str(path) == STDIN else str(path)
    try:
        wanted = dict(zip(_ROLES, (user_col, item_col, rating_col)))
        wanted[TIME] = time_col
        extra = (titles_path, genres_path, genres_col)
        if (quick := _quick(path, wanted, sep, task)) is not None:
            source, layout, raw = quick
            return _load(source, wanted, sep, extra, name or source.name, task, layout, raw)
        source = open_source(path)
        return _load(source, wanted, sep, extra, name or source.name, task)
    except RatingsError:
        raise
    except (OSError, ValueError, csv.Error, MemoryError) as e:  # a safety net: callers only see RatingsError
        raise ratings_error(label, f"could not be read ({type(e).__name__}: {e})") from e


def detect_columns(path: str | PathLike) -> dict:
    """What load_ratings would detect: sep, header (None if none) and 0-based user/item/rating positions."""
    source = open_source(path, whole=False)
    lay = _sniff(source.label, source.head, None, dict.fromkeys(_ROLES + (TIME,)), source.name)
    return {"sep": lay.sep, "header": lay.header, **{f"{r}_col": c for r, c in zip(_ROLES, lay.cols)}}


def _quick(path: str | PathLike, wanted: dict[str, Column], sep: str | None,
           task: Task | None) -> tuple[Source, _Layout, dict[str, np.ndarray]] | None:
    """A regular file read by pyarrow straight after its first chunk is sniffed, or None for the careful path.

    The careful path first scans the whole file for binary content and comment or blank lines; a file that
    pyarrow parses into whole-number ids and numeric ratings in every row has none of those (a NUL byte, a
    comment or a blank line would leave a field that is not a number, or missing), so that scan is skipped.
    """
    if str(path) == STDIN:
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None  # a pipe or device cannot be read twice
        source = open_source(path, whole=False)
        if source.data is not None:
            return None
        layout = _sniff(source.label, source.head, sep, wanted, source.name)
    except (RatingsError, OSError, ValueError):
        return None  # the careful path reads it again and says what is wrong, in its own order
    raw = _read_fast(source, layout, task)
    return None if raw is None else (source, layout, raw)


def _load(source: Source, wanted: dict[str, Column], sep: str | None, extra: tuple, name: str,
          task: Task | None = None, layout: _Layout | None = None,
          raw: dict[str, np.ndarray] | None = None) -> Ratings:
    titles_path, genres_path, genres_col = extra
    layout = layout or _sniff(source.label, source.head, sep, wanted, source.name)
    if raw is None:
        clean = _clean(source.label, _read_table(source, layout, task), layout)
    else:
        clean = _clean_parsed(source.label, raw, layout)
    frame, notes = _average_duplicates(clean, source.name)
    _check_enough(source.label, frame)
    if layout.decimal == ",":
        notes = (f"{source.name}: read ratings with a decimal comma (4,5 as 4.5)",) + notes
    if layout.time is not None and TIME not in frame.columns:
        notes += (f"{source.name}: column {layout.time} does not hold whole seconds in every row; timestamps "
                  "not kept (name the column with --time-col to hear which line)",)
    tp = _titles_path(source.path, titles_path)
    integer_ids = pd.api.types.is_integer_dtype(frame["item"])
    titles = _load_titles(tp, integer_ids) if tp else {}
    gp = Path(genres_path) if genres_path is not None else tp
    if gp is None and genres_col is not None:
        raise ratings_error(source.label, f"genres column {genres_col!r} given but no titles or genres file; "
                                          "name the file that holds the genres", "genres")
    genres = load_genres(gp, integer_ids, genres_col, required=genres_path is not None or genres_col is not None) \
        if gp else {}
    return Ratings(frame=frame, name=name, source=source.label, titles=titles, notes=notes, genres=genres)


def _show(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _split(line: str, sep: str) -> list[str]:
    if sep == r"\s+":
        return line.split()
    if sep == "::":
        return line.split(sep)
    return next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])


def _guess_sep(lines: list[str]) -> str | None:
    if "::" in lines[0]:
        return "::"
    scores = {}
    for sep in ("\t", ";", ",", "|"):
        counts = [len(_split(line, sep)) - 1 for line in lines]
        if min(counts) > 0:
            scores[sep] = (len(set(counts)) == 1, min(counts))
    if scores:
        return max(scores, key=scores.__getitem__)
    return r"\s+" if len(lines[0].split()) > 1 else None


def _has_header(rows: list[list[str]], wanted: dict[str, Column]) -> bool:
    known = {a for names in _ALIASES.values() for a in names}
    if any(isinstance(v, str) for v in wanted.values()) or any(f.strip().lower() in known for f in rows[0]):
        return True
    if len(rows) == 1:
        return not any(_is_num(f) for f in rows[0])
    return any(not _is_num(a) and _is_num(b) for a, b in zip(rows[0], rows[1]))


def _sniff(label: str, text: str, sep: str | None, wanted: dict[str, Column], name: str = "") -> _Layout:
    lines = text.splitlines()
    skip = next((i for i, line in enumerate(lines) if line.strip()), None)
    if skip is None:
        raise ratings_error(label, "contains only blank lines or comments; no ratings")
    sample = [(n, line) for n, line in enumerate(lines[skip:], skip + 1) if line.strip()][:_SAMPLE]
    if sep and len(sep) != 1 and sep not in ("::", r"\s+"):
        raise ratings_error(label, f"separator {sep!r} is not supported; use one character (such as , ; | or a tab), "
                          "'::' or whitespace", "sep")
    sep = sep or _guess_sep([line for _, line in sample])
    if sep is None:
        raise ratings_error(label, f"has only one column ({_show(sample[0][1].strip())}); expected user, item and rating "
                          "columns separated by commas, tabs, semicolons or |")
    rows = [_split(line, sep) for _, line in sample]
    header = [f.strip() for f in rows[0]] if _has_header(rows, wanted) else None
    data = list(zip(sample, rows))[header is not None:]
    usual = Counter(len(r) for _, r in data).most_common(1)[0][0] if data else 0
    for (n, _), row in data:  # pandas only catches rows longer than the first one
        if len(row) > usual:
            raise _ragged(label, n, len(row), usual)
    explicit_first = sorted(_ROLES, key=lambda r: wanted.get(r) is None)  # so errors name the user's own column
    cols: dict[str, int] = {}
    for role in explicit_first:
        col = _resolve(label, role, wanted.get(role), header, len(rows[0]))
        if (other := next((r for r in cols if cols[r] == col), None)) is not None:
            raise ratings_error(label, f"user, item and rating must be 3 different columns, but the {other}s and the "
                              f"{role}s would both be read from column {col}",
                       role if wanted.get(role) is not None else other)
        cols[role] = col
    time = _time_column(label, wanted.get(TIME), header, len(rows[0]), name, cols)
    values = [r[cols["rating"]] for _, r in data if len(r) > cols["rating"]]
    comma = sep == ";" and any("," in v for v in values) and all(_is_num(v.replace(",", ".")) for v in values)
    gap = 0
    if header is not None:  # blank lines right below the header: skipped, so pandas sees a row first
        while skip + 1 + gap < len(lines) and not lines[skip + 1 + gap].strip():
            gap += 1
    return _Layout(sep, header, skip, tuple(cols[r] for r in _ROLES), "," if comma else ".", gap, time,
                   wanted.get(TIME) is not None)


def _time_column(label: str, want: Column, header: list[str] | None, n_fields: int, name: str,
                 cols: dict[str, int]) -> int | None:
    """Where the timestamps are: the column asked for, a header's timestamp column, or MovieLens's fourth field."""
    if want is not None:
        col = _resolve(label, TIME, want, header, n_fields)
        if col in cols.values():
            role = next(r for r in cols if cols[r] == col)
            raise ratings_error(label, f"the timestamp column {want!r} is the {role} column", TIME)
        return col
    if header is not None:
        lower = [h.lower() for h in header]
        found = next((lower.index(a) for a in _ALIASES[TIME] if a in lower), None)
        return found if found not in cols.values() else None
    if _TIMED_NAMES.fullmatch(name or "") and n_fields >= 4 and sorted(cols.values()) == [0, 1, 2]:
        return 3
    return None


def _ragged(label: str, line: int, saw: int, expected: int) -> RatingsError:
    return ratings_error(label, f"line {line} has {saw} fields but the other lines have {expected}; "
                       "fix that line (a stray separator, or a name with an unquoted comma?)")


def _resolve(label: str, role: str, want: Column, header: list[str] | None, n_fields: int) -> int:
    if isinstance(want, int):
        if not 0 <= want < n_fields:
            raise ratings_error(label, f"{role} column {want} is out of range; the file has {n_fields} columns "
                              f"(0-{n_fields - 1})", role)
        return want
    if header is None:
        if n_fields < 3:
            raise ratings_error(label, f"has only {n_fields} column(s) in its first row; expected user, item and rating")
        return _ROLES.index(role)
    lower = [h.lower() for h in header]
    for alias in (want.strip().lower(),) if isinstance(want, str) else _ALIASES[role]:
        if alias in lower:
            return lower.index(alias)
    found = ", ".join(repr(h) for h in header)
    if isinstance(want, str):
        raise ratings_error(label, f"has no column named {want!r} for the {role}s; the columns are {found}", role)
    raise ratings_error(label, f"has no {role} column; the columns are {found}; say which column holds the {role}s", role)


class _Heard:
    """The bytes read so far, told to a task (a message and the share read) at most once every PROGRESS_EVERY
    seconds; a read after the task was cancelled raises engine.task.Cancelled."""

    def __init__(self, label: str, size: int, task: Task):
        self.label, self.size, self.task = label, max(1, size), task
        self.done, self.last = 0, time.monotonic()
        self._lock = threading.Lock()  # the parts of a quick read are read side by side; reports stay in order

    def __call__(self, n: int) -> None:
        self.task.check()
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self.last >= PROGRESS_EVERY:
                self.last = now
                self.task.report(f"Reading {self.label}: {self.done / 2**20:,.0f} of {self.size / 2**20:,.0f} MiB",
                                 min(1.0, self.done / self.size))


def _heard(source: Source, task: Task | None) -> _Heard | None:
    """What hears the bytes read from a file on disk, given a task."""
    if task is None or source.data is not None or source.path is None:
        return None
    return _Heard(source.label, os.path.getsize(source.path), task)


class _Counted(io.FileIO):
    """A file that tells what it reads to a _Heard."""

    def __init__(self, path: Path, heard: _Heard):
        super().__init__(path, "rb")
        self.heard = heard

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.heard(len(data or b""))
        return data

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
        n = super().readinto(buffer) or 0
        self.heard(n)
        return n


def _opened(source: Source, task: Task | None):  # noqa: ANN202 - a context giving a path, BytesIO or file
    """What the parser reads: the file itself, or, given a task, a file that reports the bytes read to it."""
    heard = _heard(source, task)
    return nullcontext(source.reader()) if heard is None else _Counted(source.path, heard)


def _read_fast(source: Source, lay: _Layout, task: Task | None) -> dict[str, np.ndarray] | None:
    """The common large file, read by pyarrow's CSV reader: a file on disk, one-character separator, decimal point,
    whole-number ids and numeric ratings in every row, as numpy columns by role. None for anything else (or anything
    odd), which the C engine then reads and explains line by line."""
    if source.path is None or source.data is not None or len(lay.sep) != 1 or lay.decimal != "." or lay.sep == '"':
        return None
    try:
        import pyarrow as pa
    except ImportError:
        return None
    roles = _ROLES + ((TIME,) if lay.time is not None else ())
    positions = lay.cols + ((lay.time,) if lay.time is not None else ())
    types = dict(zip(positions, (np.dtype(np.int64), np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.int64))))
    try:
        columns = read_columns(source.path, types, skip_rows=lay.first_row, delimiter=lay.sep,
                               heard=_heard(source, task))
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError):
        return None  # text ids or ratings, ragged lines, bad bytes: the careful path says where
    return None if columns is None else dict(zip(roles, columns))


def _read_table(source: Source, lay: _Layout, task: Task | None = None) -> pd.DataFrame:
    # "::" is read as ":" so the fast C engine can parse it; the fields then sit on even columns
    logical = lay.cols + ((lay.time,) if lay.time is not None else ())
    phys = [c * 2 for c in logical] if lay.sep == "::" else list(logical)
    label = source.label
    try:
        with warnings.catch_warnings(), _opened(source, task) as f:
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            raw = pd.read_csv(f, sep=":" if lay.sep == "::" else lay.sep, header=None,
                              encoding="utf-8-sig", skiprows=lay.first_row,
                              skip_blank_lines=False, keep_default_na=False, na_values=[""], decimal=lay.decimal,
                              engine="c")
    except pd.errors.EmptyDataError:
        raise _no_rows(label, lay) from None
    except pd.errors.ParserError as e:
        raise _parse_error(label, lay, str(e)) from None
    except UnicodeDecodeError:
        raise not_utf8(label, *first_bad_utf8(source)) from None
    if max(phys) not in raw.columns:
        raise ratings_error(label, f"its lines have only {raw.shape[1]} fields, fewer than its header or first line")
    return raw[phys].set_axis(list(_ROLES) + ([TIME] if lay.time is not None else []), axis=1)


def _no_rows(label: str, lay: _Layout) -> RatingsError:
    if lay.header:
        shown = ", ".join(lay.header[:8]) + (", …" if len(lay.header) > 8 else "")
        return ratings_error(label, f"has a header row ({shown[:300]}) but no ratings below it")
    return ratings_error(label, "contains no ratings")


def _parse_error(label: str, lay: _Layout, message: str) -> RatingsError:
    if m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message):
        expected, line, saw = (int(g) for g in m.groups())
        div = 2 if lay.sep == "::" else 1
        return _ragged(label, line, (saw + div - 1) // div, (expected + div - 1) // div)
    if m := re.search(r"EOF inside string starting at row (\d+)", message):
        return ratings_error(label, f"line {int(m.group(1)) + 1} opens a quote (\") that is never closed")
    return ratings_error(label, f"could not be parsed: {message.strip()}")


def _clean(label: str, raw: pd.DataFrame, lay: _Layout) -> pd.DataFrame:
    blank = raw.isna().all(axis=1).to_numpy()
    if blank.any():  # blank lines were kept so that row positions map to line numbers
        raw = raw[~blank]
    if raw.empty:
        raise _no_rows(label, lay)
    lines = raw.index.to_numpy() + lay.first_row + 1
    rating = _ratings(label, raw, lines)
    out = {"user": _ids(raw["user"]), "item": _ids(raw["item"]), "rating": rating}
    if TIME in raw.columns:
        try:
            out[TIME] = _times(label, raw[TIME], lines)
        except RatingsError:
            if lay.time_named:
                raise  # a column found by its name or place is only a guess: without it the ratings still load
    return pd.DataFrame(out, copy=False)


def _times(label: str, column: pd.Series, lines: np.ndarray) -> np.ndarray:
    """Timestamps as int64 seconds; the first missing or non-whole one is an error naming its line."""
    num = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(num) | (num != np.floor(num)) | (np.abs(num) >= 2**62)
    if bad.any():
        i = int(bad.argmax())
        shown = "nothing" if column.isna().iloc[i] else _show(str(column.iloc[i]).strip())
        raise ratings_error(label, f"line {lines[i]} has timestamp {shown}, which is not a whole number of seconds; "
                                   "fix that line, or name another --time-col", TIME)
    return num.astype(np.int64)


def _clean_parsed(label: str, raw: dict[str, np.ndarray], lay: _Layout) -> pd.DataFrame:
    """_clean for the columns pyarrow read: no blank lines nor missing fields (it checked), int64 ids and times,
    float64 ratings; only the ratings' range is left to check, and _clean names the line when one is out of it."""
    rating = raw["rating"]
    lo, hi = (float(rating.min()), float(rating.max())) if len(rating) else (0.0, 0.0)  # NaN if any is NaN
    frame = pd.DataFrame(raw, copy=False)  # the columns themselves, not copies
    if not (np.isfinite(lo) and np.isfinite(hi) and max(-lo, hi) <= MAX_RATING):  # two passes, no temporaries
        return _clean(label, frame, lay)
    return frame


def _ratings(label: str, raw: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
    r = raw["rating"]
    missing = r.isna().to_numpy()
    num = (r if pd.api.types.is_float_dtype(r) else pd.to_numeric(r, errors="coerce")).to_numpy(np.float64)
    checks = [(raw[role].isna().to_numpy(), lambda i, role=role: f"has no {role} id") for role in ("user", "item")]
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(num) & (np.abs(num) > MAX_RATING)
    checks += [
        (missing, lambda i: "has no rating"),
        (np.isnan(num) & ~missing, lambda i: f"has rating {_show(str(r.iloc[i]).strip())}, which is not a number; "
                                             "ratings must be numbers like 4 or 3.5"),
        (np.isinf(num), lambda i: f"has an infinite rating ({r.iloc[i]}); ratings must be finite numbers"),
        (huge, lambda i: f"has rating {num[i]:g}, too large to compute with; ratings must lie between "
                         f"{-MAX_RATING:g} and {MAX_RATING:g}"),
    ]
    firsts = [(int(mask.argmax()), what) for mask, what in checks if mask.any()]
    if firsts:
        i, what = min(firsts, key=lambda f: f[0])
        raise ratings_error(label, f"line {lines[i]} {what(i)}; fix or delete that line")
    return num


def _ids(s: pd.Series) -> pd.api.extensions.ExtensionArray | np.ndarray:
    v = s.to_numpy()
    if pd.api.types.is_float_dtype(v) and np.all(v == np.floor(v)) and np.all(np.abs(v) < 2**53):
        v = v.astype(np.int64)  # integer ids read as float because a (now dropped) blank line held NaN
    if pd.api.types.is_integer_dtype(v) and v.dtype != np.uint64:
        return v.astype(np.int64, copy=False)
    return s.astype(str).str.strip().array


def _pair_keys(frame: pd.DataFrame) -> np.ndarray:
    codes = []
    for col in ("user", "item"):
        s = frame[col]
        codes.append(s.to_numpy() - s.min() if pd.api.types.is_integer_dtype(s) else pd.factorize(s)[0])
    if (int(codes[0].max()) + 1) * (int(codes[1].max()) + 1) >= 2**63:  # huge sparse ids: use dense codes
        codes = [pd.factorize(c)[0] for c in codes]
    return codes[0].astype(np.int64) * (int(codes[1].max()) + 1) + codes[1]


_BLOCK = 1 << 18  # rows checked at a time: the check's three flag buffers stay in the CPU's cache


def _strictly_sorted(frame: pd.DataFrame) -> bool:
    """Whether integer ids come sorted by user, then item, each pair once: MovieLens's own files (no duplicates)."""
    users, items = frame["user"].to_numpy(), frame["item"].to_numpy()
    if len(users) < 2 or users.dtype != np.int64 or items.dtype != np.int64:
        return False
    flags = np.empty((3, min(_BLOCK, len(users) - 1)), dtype=bool)  # the same memory for every block: no temporaries
    for at in range(0, len(users) - 1, _BLOCK):
        now, nxt = slice(at, at + _BLOCK), slice(at + 1, at + 1 + _BLOCK)  # each pair of neighbours once
        up, same, rises = flags[:, :len(users[nxt])]
        np.less(users[now][:len(up)], users[nxt], out=up)
        np.equal(users[now][:len(up)], users[nxt], out=same)
        np.less(items[now][:len(up)], items[nxt], out=rises)
        if not np.logical_or(up, np.logical_and(same, rises, out=same), out=up).all():
            return False
    return True


def _average_duplicates(frame: pd.DataFrame, label: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    if _strictly_sorted(frame):  # a few vector passes (~0.2 s at 25M) instead of keys and a sort (~2 s)
        return frame, ()
    key = _pair_keys(frame)
    s = np.sort(key)  # sorting 25M int64 keys is several times faster than hashing them
    dup_keys = np.unique(s[1:][s[1:] == s[:-1]])
    if not len(dup_keys):
        return frame, ()
    dups = np.flatnonzero(pd.Series(key).isin(dup_keys).to_numpy())
    rating = frame["rating"].to_numpy().copy()
    rating[dups] = frame.iloc[dups].groupby(["user", "item"], sort=False)["rating"].transform("mean").to_numpy()
    keep = np.ones(len(frame), dtype=bool)
    keep[dups] = ~pd.Series(key[dups]).duplicated().to_numpy()
    out = {"user": frame["user"].array[keep], "item": frame["item"].array[keep], "rating": rating[keep]}
    if TIME in frame.columns:  # an averaged pair keeps its first rating's time
        out[TIME] = frame[TIME].to_numpy()[keep]
    n = len(dup_keys)
    return pd.DataFrame(out, copy=False), (f"{label}: averaged {n} duplicate (user, item) pair{'s' * (n != 1)}",)


def _check_enough(label: str, frame: pd.DataFrame) -> None:
    for role in ("user", "item"):
        v = frame[role].to_numpy()
        if (v.min() == v.max()) if v.dtype.kind == "i" else not (v != v[0]).any():  # numbers: no temporary
            raise ratings_error(label, f"has ratings for only 1 {role} ({_show(v[0])}); "
                          "collaborative filtering needs at least 2 users and 2 items")


def _titles_path(p: Path | None, titles_path: str | PathLike | None) -> Path | None:
    if titles_path is not None:
        return Path(titles_path)
    if p is None:  # standard input has no folder to look in
        return None
    sibling = p.with_name(_SIBLINGS.get(p.name.lower(), p.name))
    return sibling if sibling != p and sibling.is_file() else None


def _title_rows(tp: Path) -> list[tuple[int, list[str]]]:
    text = read_text(tp)
    lines = text.splitlines()
    sample = [line for line in lines if line.strip()][:_SAMPLE]
    if not sample:
        raise ratings_error(tp, "contains only blank lines; expected item ids and titles")
    if "::" in sample[0]:
        return [(n, line.split("::")) for n, line in enumerate(lines, 1) if line.strip()]
    pipes = "|" in sample[0] and not any(c in sample[0].split("|", 1)[0] for c in ",;\t")  # u.item
    sep = "|" if pipes else _guess_sep(sample) or ","
    sep = sep if len(sep) == 1 else ","  # titles hold spaces, so never split them on whitespace
    reader = csv.reader(io.StringIO(text), delimiter=sep, quoting=csv.QUOTE_NONE if pipes else csv.QUOTE_MINIMAL)
    try:
        return [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except csv.Error as e:
        raise ratings_error(tp, f"line {reader.line_num} could not be parsed: {e}") from None


def _load_titles(tp: Path, integer_ids: bool) -> dict:
    rows = _title_rows(tp)
    first = rows[0][1][0].strip().lower() if rows else ""
    if first in _ALIASES["item"] + ("id",) or (integer_ids and not _is_num(first)):
        rows = rows[1:]  # a header such as movieId,title,genres
    if not rows:
        raise ratings_error(tp, "has no titles; expected an item id and a title on each line")
    titles = {}
    for n, row in rows:  # titles files are small (62k lines for ml-25m), so a plain loop is fine
        if len(row) < 2:
            raise ratings_error(tp, f"line {n} has no title; expected an item id and a title on each line")
        key: str | int = row[0].strip()
        if integer_ids:
            try:
                key = int(key)
            except ValueError:
                raise ratings_error(tp, f"line {n} has item id {_show(key)}, which is not a whole number "
                               "like the item ids in the ratings file") from None
        titles[key] = row[1].strip()
    return titles
