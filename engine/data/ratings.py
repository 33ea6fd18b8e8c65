"""Ratings tables: the one type every source produces, and the loader for files on disk."""
from __future__ import annotations

import csv
import io
import re
import stat
import sys
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd


class RatingsError(ValueError):
    """A ratings source could not be used; str(error) is one line naming the file and what is wrong.

    role names the setting the message is about, so that each front end can point at its own field or
    option: 'user', 'item' or 'rating' (which column holds them), 'sep' (the separator) or 'top' (how many
    users and items the sheet takes); None when the file itself is at fault.
    """

    def __init__(self, message: str, role: str | None = None) -> None:
        super().__init__(message)
        self.role = role


@dataclass(frozen=True)
class Ratings:
    """A ratings table: one row per (user, item) with a float rating, plus optional item titles."""

    frame: pd.DataFrame  # columns exactly: user, item, rating (float64); one row per (user, item)
    name: str  # what to call it in the UI, e.g. "MovieLens 100k" or the file's name
    source: str  # where it came from: a path or a URL
    titles: dict = field(default_factory=dict)  # item id -> title; may be empty
    notes: tuple[str, ...] = ()  # things the loader did that a user should hear about
    licence: str = ""  # licence/citation notice to show with the data, if any

    @property
    def n_users(self) -> int:
        return int(self.frame["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.frame["item"].nunique())

    def __len__(self) -> int:
        return len(self.frame)



_ROLES = ("user", "item", "rating")
_ALIASES = {
    "user": ("userid", "user_id", "user", "uid"),
    "item": ("movieid", "movie_id", "itemid", "item_id", "item", "movie", "iid"),
    "rating": ("rating", "score", "stars"),
}
_SIBLINGS = {"ratings.csv": "movies.csv", "u.data": "u.item", "ratings.dat": "movies.dat"}
STDIN = "-"  # the path that means standard input
MAX_RATING = 1e50  # |rating| beyond this overflows float64 once squared, summed and multiplied in the solver
_MAX_STREAM = 1 << 30  # bytes of a pipe or standard input held in memory
_CHUNK = 1 << 20  # bytes read at a time while the whole file is checked
_HEAD_BYTES = 1 << 16
_SAMPLE = 20  # lines sniffed for separator, header and ragged rows
_MAGIC = {
    b"\xd0\xcf\x11\xe0": "looks like an old Excel workbook (.xls), not a CSV; save it as CSV",
    b"\x1f\x8b": "is gzip-compressed; decompress it first",
    b"\xff\xfe": "is UTF-16 text; save it as 'CSV UTF-8'",
    b"\xfe\xff": "is UTF-16 text; save it as 'CSV UTF-8'",
}
# Comment lines ("# ...") and whitespace-only lines are blanked before parsing, so they read as the empty
# lines they stand for and line numbers stay right. _maybe_blank is the quick test of a chunk for one.
_INDENTED = re.compile(rb"\n[ \t\f\v]")  # a literal first byte keeps the search fast (a few ms per MB)
_BLANK = re.compile(rb"(?m)^(?:[ \t\f\v]+(?=\r?$)|[ \t\f\v]*#[^\r\n]*)")
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


@dataclass(frozen=True)
class _Source:
    """A ratings file, read once where it cannot be read twice (a pipe, standard input)."""

    label: str  # how messages name it: the path as given, or "standard input"
    path: Path | None  # a regular file that pandas reads itself; None when data holds the content
    data: bytes | None  # the whole content, when it is held in memory
    head: str  # the first whole lines (about 64 KB), decoded, for sniffing

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else self.label

    def reader(self) -> Path | io.BytesIO:
        return self.path if self.data is None else io.BytesIO(self.data)


def load_ratings(path: str | PathLike, *, user_col: Column = None, item_col: Column = None,
                 rating_col: Column = None, sep: str | None = None, titles_path: str | PathLike | None = None,
                 name: str | None = None) -> Ratings:
    """Read a ratings file (MovieLens or any CSV/TSV; "-" is standard input) into Ratings, raising one-line
    RatingsErrors."""
    label = "standard input" if str(path) == STDIN else str(path)
    try:
        source = _open(path)
        wanted = dict(zip(_ROLES, (user_col, item_col, rating_col)))
        return _load(source, wanted, sep, titles_path, name or source.name)
    except RatingsError:
        raise
    except (OSError, ValueError, csv.Error, MemoryError) as e:  # a safety net: callers only see RatingsError
        raise _err(label, f"could not be read ({type(e).__name__}: {e})") from e


def detect_columns(path: str | PathLike) -> dict:
    """What load_ratings would detect: sep, header (None if none) and 0-based user/item/rating positions."""
    source = _open(path, whole=False)
    lay = _sniff(source.label, source.head, None, dict.fromkeys(_ROLES))
    return {"sep": lay.sep, "header": lay.header, **{f"{r}_col": c for r, c in zip(_ROLES, lay.cols)}}


def _load(source: _Source, wanted: dict[str, Column], sep: str | None, titles_path: str | PathLike | None,
          name: str) -> Ratings:
    layout = _sniff(source.label, source.head, sep, wanted)
    frame, notes = _average_duplicates(_clean(source.label, _read_table(source, layout), layout), source.name)
    _check_enough(source.label, frame)
    if layout.decimal == ",":
        notes = (f"{source.name}: read ratings with a decimal comma (4,5 as 4.5)",) + notes
    tp = _titles_path(source.path, titles_path)
    titles = _load_titles(tp, pd.api.types.is_integer_dtype(frame["item"])) if tp else {}
    return Ratings(frame=frame, name=name, source=source.label, titles=titles, notes=notes)


def _err(label: str | Path, what: str, role: str | None = None) -> RatingsError:
    return RatingsError(f"{label}: {what}".replace("\r", " ").replace("\n", " "), role)


def _show(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _open(path: str | PathLike, whole: bool = True) -> _Source:
    """Read the ratings once: a regular file is checked to its end (pandas then parses it from disk); a pipe,
    device or standard input is read into memory, as it cannot be read twice."""
    if str(path) == STDIN:
        return _from_stream("standard input", sys.stdin.buffer, whole)
    p, label = Path(path), str(path)
    try:
        mode = p.stat().st_mode
        if stat.S_ISDIR(mode):
            raise _err(label, "is a folder, not a file; choose the ratings file inside it (e.g. ratings.csv or u.data)")
        with p.open("rb") as f:
            if not stat.S_ISREG(mode):
                return _from_stream(label, f, whole)
            first, maybe_blank = _scan(label, f, None, p, whole)
            data = None
            if maybe_blank and whole:  # rare: comment or whitespace-only lines, blanked in memory
                f.seek(0)
                data = _BLANK.sub(b"", f.read())
    except FileNotFoundError:
        raise _err(label, "no such file; check the path") from None
    except OSError as e:
        raise _err(label, f"cannot be read ({e.strerror or e})") from None
    head = data if data is not None else _BLANK.sub(b"", first) if maybe_blank else first
    return _Source(label, p, data, _decode_head(label, head))


def _from_stream(label: str, f: BinaryIO, whole: bool) -> _Source:
    chunks: list[bytes] = []
    _, maybe_blank = _scan(label, f, chunks, None, whole)
    data = b"".join(chunks)
    if maybe_blank:
        data = _BLANK.sub(b"", data)
    return _Source(label, None, data, _decode_head(label, data))


def _scan(label: str, f: BinaryIO, keep: list[bytes] | None, zip_path: Path | None,
          whole: bool = True) -> tuple[bytes, bool]:
    """Check every chunk of f for what makes it no CSV (binary, NUL bytes); keep the chunks when keep is a
    list. Returns the first chunk and whether any line may need blanking."""
    first, maybe_blank, lines, size = b"", False, 0, 0
    while chunk := f.read(_CHUNK):  # a buffered read waits for a whole chunk, even from a pipe
        if not first:
            first = chunk
            _reject_binary(label, chunk, zip_path)
        if (nul := chunk.find(b"\0")) >= 0:
            line = lines + chunk.count(b"\n", 0, nul) + 1
            raise _err(label, f"contains NUL bytes (line {line}, byte {size + nul}), so it is binary, "
                              "not a CSV of ratings")
        maybe_blank = maybe_blank or _maybe_blank(chunk)
        lines, size = lines + chunk.count(b"\n"), size + len(chunk)
        if keep is not None:
            if size > _MAX_STREAM:
                raise _err(label, f"gave more than {_MAX_STREAM >> 20} MiB; save the ratings to a file and "
                                  "open that")
            keep.append(chunk)
        if not whole:
            break
    if not first:
        raise _err(label, "is empty (0 bytes); choose a file that contains ratings")
    return first, maybe_blank


def _maybe_blank(chunk: bytes) -> bool:
    """Whether a chunk may hold a comment or whitespace-only line (a line may start at the chunk's start)."""
    return b"#" in chunk or chunk[:1] in (b" ", b"\t", b"\f", b"\v") or _INDENTED.search(chunk) is not None


def _read_bytes(p: Path) -> bytes:
    """A whole small file (a titles file), read once and checked for binary content."""
    if not p.exists():
        raise _err(p, "no such file; check the path")
    if p.is_dir():
        raise _err(p, "is a folder, not a file; choose the ratings file inside it (e.g. ratings.csv or u.data)")
    try:
        with p.open("rb") as f:
            data = f.read()
    except OSError as e:
        raise _err(p, f"cannot be read ({e.strerror or e})") from None
    if not data:
        raise _err(p, "is empty (0 bytes); choose a file that contains ratings")
    _reject_binary(p, data, p)
    if b"\x00" in data:
        raise _err(p, f"contains NUL bytes (at byte {data.index(0)}), so it is binary, not a CSV of ratings")
    return data


def _reject_binary(label: str | Path, head: bytes, zip_path: Path | None) -> None:
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(zip_path or io.BytesIO(head)) as zf:
                excel = any(n.startswith("xl/") for n in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            excel = False
        if excel:
            raise _err(label, "looks like an Excel workbook, not a CSV; save it as CSV (File > Save As > CSV UTF-8)")
        raise _err(label, "is a zip archive, not a CSV; unzip it and choose the ratings file inside")
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise _err(label, what)


def _decode_head(label: str, data: bytes) -> str:
    head = data[: _HEAD_BYTES + 1]
    if len(head) > _HEAD_BYTES:  # keep whole lines only, so no multi-byte character is cut
        head = head[: head.rfind(b"\n", 0, _HEAD_BYTES) + 1 or _HEAD_BYTES]
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _not_utf8(label, head.count(b"\n", 0, e.start) + 1, head[e.start]) from None


def _not_utf8(label: str, line: int, byte: int) -> RatingsError:
    return _err(label, f"line {line} is not UTF-8 text (byte 0x{byte:02x}); save the file as 'CSV UTF-8'")


def _first_bad_utf8(source: _Source) -> tuple[int, int]:
    with (source.path.open("rb") if source.data is None else io.BytesIO(source.data)) as f:
        for n, line in enumerate(f, 1):  # only runs once pandas has failed, so a slow line loop is fine
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return n, line[e.start]
    return 0, 0


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


def _sniff(label: str, text: str, sep: str | None, wanted: dict[str, Column]) -> _Layout:
    lines = text.splitlines()
    skip = next((i for i, line in enumerate(lines) if line.strip()), None)
    if skip is None:
        raise _err(label, "contains only blank lines or comments; no ratings")
    sample = [(n, line) for n, line in enumerate(lines[skip:], skip + 1) if line.strip()][:_SAMPLE]
    if sep and len(sep) != 1 and sep not in ("::", r"\s+"):
        raise _err(label, f"separator {sep!r} is not supported; use one character (such as , ; | or a tab), "
                          "'::' or whitespace", "sep")
    sep = sep or _guess_sep([line for _, line in sample])
    if sep is None:
        raise _err(label, f"has only one column ({_show(sample[0][1].strip())}); expected user, item and rating "
                          "columns separated by commas, tabs, semicolons or |")
    rows = [_split(line, sep) for _, line in sample]
    header = [f.strip() for f in rows[0]] if _has_header(rows, wanted) else None
    data = list(zip(sample, rows))[header is not None:]
    usual = Counter(len(r) for _, r in data).most_common(1)[0][0] if data else 0
    for (n, _), row in data:  # pandas only catches rows longer than the first one
        if len(row) > usual:
            raise _ragged(label, n, len(row), usual)
    explicit_first = sorted(_ROLES, key=lambda r: wanted[r] is None)  # so errors name the user's own column
    cols: dict[str, int] = {}
    for role in explicit_first:
        col = _resolve(label, role, wanted[role], header, len(rows[0]))
        if (other := next((r for r in cols if cols[r] == col), None)) is not None:
            raise _err(label, f"user, item and rating must be 3 different columns, but the {other}s and the "
                              f"{role}s would both be read from column {col}",
                       role if wanted[role] is not None else other)
        cols[role] = col
    values = [r[cols["rating"]] for _, r in data if len(r) > cols["rating"]]
    comma = sep == ";" and any("," in v for v in values) and all(_is_num(v.replace(",", ".")) for v in values)
    return _Layout(sep, header, skip, tuple(cols[r] for r in _ROLES), "," if comma else ".")


def _ragged(label: str, line: int, saw: int, expected: int) -> RatingsError:
    return _err(label, f"line {line} has {saw} fields but the other lines have {expected}; "
                       "fix that line (a stray separator, or a name with an unquoted comma?)")


def _resolve(label: str, role: str, want: Column, header: list[str] | None, n_fields: int) -> int:
    if isinstance(want, int):
        if not 0 <= want < n_fields:
            raise _err(label, f"{role} column {want} is out of range; the file has {n_fields} columns "
                              f"(0-{n_fields - 1})", role)
        return want
    if header is None:
        if n_fields < 3:
            raise _err(label, f"has only {n_fields} column(s) in its first row; expected user, item and rating")
        return _ROLES.index(role)
    lower = [h.lower() for h in header]
    for alias in (want.strip().lower(),) if isinstance(want, str) else _ALIASES[role]:
        if alias in lower:
            return lower.index(alias)
    found = ", ".join(repr(h) for h in header)
    if isinstance(want, str):
        raise _err(label, f"has no column named {want!r} for the {role}s; the columns are {found}", role)
    raise _err(label, f"has no {role} column; the columns are {found}; say which column holds the {role}s", role)


def _read_table(source: _Source, lay: _Layout) -> pd.DataFrame:
    # "::" is read as ":" so the fast C engine can parse it; the fields then sit on even columns
    phys = [c * 2 for c in lay.cols] if lay.sep == "::" else list(lay.cols)
    label = source.label
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            raw = pd.read_csv(source.reader(), sep=":" if lay.sep == "::" else lay.sep, header=None,
                              encoding="utf-8-sig", skiprows=lay.skip + (lay.header is not None),
                              skip_blank_lines=False, keep_default_na=False, na_values=[""], decimal=lay.decimal,
                              engine="c")
    except pd.errors.EmptyDataError:
        raise _no_rows(label, lay) from None
    except pd.errors.ParserError as e:
        raise _parse_error(label, lay, str(e)) from None
    except UnicodeDecodeError:
        raise _not_utf8(label, *_first_bad_utf8(source)) from None
    if max(phys) not in raw.columns:
        raise _err(label, f"its lines have only {raw.shape[1]} fields, fewer than its header or first line")
    return raw[phys].set_axis(list(_ROLES), axis=1)


def _no_rows(label: str, lay: _Layout) -> RatingsError:
    if lay.header:
        return _err(label, f"has a header row ({', '.join(lay.header)}) but no ratings below it")
    return _err(label, "contains no ratings")


def _parse_error(label: str, lay: _Layout, message: str) -> RatingsError:
    if m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message):
        expected, line, saw = (int(g) for g in m.groups())
        div = 2 if lay.sep == "::" else 1
        return _ragged(label, line, (saw + div - 1) // div, (expected + div - 1) // div)
    if m := re.search(r"EOF inside string starting at row (\d+)", message):
        return _err(label, f"line {int(m.group(1)) + 1} opens a quote (\") that is never closed")
    return _err(label, f"could not be parsed: {message.strip()}")


def _clean(label: str, raw: pd.DataFrame, lay: _Layout) -> pd.DataFrame:
    blank = raw.isna().all(axis=1).to_numpy()
    if blank.any():  # blank lines were kept so that row positions map to line numbers
        raw = raw[~blank]
    if raw.empty:
        raise _no_rows(label, lay)
    rating = _ratings(label, raw, raw.index.to_numpy() + lay.skip + (lay.header is not None) + 1)
    return pd.DataFrame({"user": _ids(raw["user"]), "item": _ids(raw["item"]), "rating": rating}, copy=False)


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
        raise _err(label, f"line {lines[i]} {what(i)}; fix or delete that line")
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


def _average_duplicates(frame: pd.DataFrame, label: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
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
    n = len(dup_keys)
    return pd.DataFrame(out, copy=False), (f"{label}: averaged {n} duplicate (user, item) pair{'s' * (n != 1)}",)


def _check_enough(label: str, frame: pd.DataFrame) -> None:
    for role in ("user", "item"):
        v = frame[role].to_numpy()
        if not (v != v[0]).any():
            raise _err(label, f"has ratings for only 1 {role} ({_show(v[0])}); "
                          "collaborative filtering needs at least 2 users and 2 items")


def _titles_path(p: Path | None, titles_path: str | PathLike | None) -> Path | None:
    if titles_path is not None:
        return Path(titles_path)
    if p is None:  # standard input has no folder to look in
        return None
    sibling = p.with_name(_SIBLINGS.get(p.name.lower(), p.name))
    return sibling if sibling != p and sibling.is_file() else None


def _title_rows(tp: Path) -> list[tuple[int, list[str]]]:
    data = _read_bytes(tp)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # ml-100k's u.item and ml-1m's movies.dat are latin-1
        text = data.decode("latin-1")
    lines = text.splitlines()
    sample = [line for line in lines if line.strip()][:_SAMPLE]
    if not sample:
        raise _err(tp, "contains only blank lines; expected item ids and titles")
    if "::" in sample[0]:
        return [(n, line.split("::")) for n, line in enumerate(lines, 1) if line.strip()]
    pipes = "|" in sample[0] and not any(c in sample[0].split("|", 1)[0] for c in ",;\t")  # u.item
    sep = "|" if pipes else _guess_sep(sample) or ","
    sep = sep if len(sep) == 1 else ","  # titles hold spaces, so never split them on whitespace
    reader = csv.reader(io.StringIO(text), delimiter=sep, quoting=csv.QUOTE_NONE if pipes else csv.QUOTE_MINIMAL)
    try:
        return [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except csv.Error as e:
        raise _err(tp, f"line {reader.line_num} could not be parsed: {e}") from None


def _load_titles(tp: Path, integer_ids: bool) -> dict:
    rows = _title_rows(tp)
    first = rows[0][1][0].strip().lower() if rows else ""
    if first in _ALIASES["item"] + ("id",) or (integer_ids and not _is_num(first)):
        rows = rows[1:]  # a header such as movieId,title,genres
    if not rows:
        raise _err(tp, "has no titles; expected an item id and a title on each line")
    titles = {}
    for n, row in rows:  # titles files are small (62k lines for ml-25m), so a plain loop is fine
        if len(row) < 2:
            raise _err(tp, f"line {n} has no title; expected an item id and a title on each line")
        key: str | int = row[0].strip()
        if integer_ids:
            try:
                key = int(key)
            except ValueError:
                raise _err(tp, f"line {n} has item id {_show(key)}, which is not a whole number "
                               "like the item ids in the ratings file") from None
        titles[key] = row[1].strip()
    return titles
