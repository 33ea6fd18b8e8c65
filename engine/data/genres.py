"""Movie genres from a titles or genres file: u.item's 19 flags, movies.csv's and movies.dat's `A|B` lists, or a
column a person names. Each item id maps to a tuple of genre names."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from collabsheet.engine.data.errors import ratings_error
from collabsheet.engine.data.source import read_text

Column = str | int | None  # a column name (case-insensitive) or a 0-based position

# MovieLens 100k's u.genre, in the order of u.item's flag columns (the last 19 fields of each line)
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")
NONE_LISTED = "(no genres listed)"  # ml-latest's word for a movie without genres
_ID_NAMES = ("movieid", "movie_id", "itemid", "item_id", "item", "movie", "id")
_GENRE_NAMES = ("genres", "genre")


def split_genres(text: str) -> tuple[str, ...]:
    """`Action|Comedy` → ('Action', 'Comedy'); empty for none."""
    names = tuple(g.strip() for g in text.split("|") if g.strip())
    return () if names == (NONE_LISTED,) else names


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """The file's non-blank lines as (line number, fields): `::`, u.item's `|`, or CSV with , ; or tab."""
    text = read_text(path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "::" in first:
        return [(n, line.split("::")) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    pipes = "|" in first and not any(c in first.split("|", 1)[0] for c in ",;\t")
    sep = "|" if pipes else max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=sep, quoting=csv.QUOTE_NONE if pipes else csv.QUOTE_MINIMAL)
    try:
        return [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except csv.Error as e:
        raise ratings_error(path, f"line {reader.line_num} could not be parsed: {e}", "genres") from None


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _is_num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_genres(path: str | Path, integer_ids: bool, column: Column = None, required: bool = False) -> dict:
    """Item id → genre names from `path`; {} when it holds none, unless `required` (then a one-line error)."""
    path = Path(path)
    rows = _rows(path)
    header = [f.strip().lower() for f in rows[0][1]] if rows else []
    has_header = bool(header) and (header[0] in _ID_NAMES or (integer_ids and not _is_num(header[0])))
    body = rows[1:] if has_header else rows
    if not body:
        if required:
            raise ratings_error(path, "has no genres; expected an item id and its genres on each line", "genres")
        return {}
    col = _genre_column(path, column, header if has_header else None, body, required)
    if col is None:
        return {}
    genres = {}
    for n, row in body:
        key = _item(path, n, row[0], integer_ids)
        if col == "flags":
            genres[key] = _flags(path, n, row[-len(ML100K_GENRES):])
        elif col >= len(row):
            raise ratings_error(path, f"line {n} has {len(row)} fields, too few for genres in column {col}", "genres")
        else:
            genres[key] = split_genres(row[col])
    return genres


def _genre_column(path: Path, column: Column, header: list[str] | None, body: list, required: bool) -> int | str | None:
    """The column holding genres, "flags" for u.item's 19 0/1 fields, or None when the file has no genres."""
    width = len(body[0][1])
    if isinstance(column, int):
        if not 0 < column < width:
            raise ratings_error(path, f"genres column {column} is out of range; its lines have {width} fields "
                                      f"(0-{width - 1}, and 0 is the item id)", "genres")
        return column
    if isinstance(column, str):
        if header is None or column.strip().lower() not in header:
            found = ", ".join(repr(h) for h in header) if header else "none (it has no header row)"
            raise ratings_error(path, f"has no column named {column!r} for the genres; its columns are {found}",
                                "genres")
        return header.index(column.strip().lower())
    if header is not None and (found := next((header.index(g) for g in _GENRE_NAMES if g in header), None)):
        return found
    if width >= 5 + len(ML100K_GENRES) and all(f.strip() in ("0", "1") for f in body[0][1][-len(ML100K_GENRES):]):
        return "flags"  # u.item: id|title|release|video release|IMDb URL|19 flags
    if header is None and width == 3:
        return 2  # movies.dat: id::title::A|B
    if required:
        raise ratings_error(path, "has no genres column; name it (a header name or a 0-based position)", "genres")
    return None


def _item(path: Path, n: int, text: str, integer_ids: bool):
    key: str | int = text.strip()
    if not integer_ids:
        return key
    try:
        return int(key)
    except ValueError:
        raise ratings_error(path, f"line {n} has item id {_show(key)}, which is not a whole number like the item "
                                  "ids in the ratings file", "genres") from None


def _flags(path: Path, n: int, fields: list[str]) -> tuple[str, ...]:
    bad = next((f for f in fields if f.strip() not in ("0", "1")), None)
    if bad is not None or len(fields) != len(ML100K_GENRES):
        shown = _show(bad.strip()) if bad is not None else f"{len(fields)} flags"
        raise ratings_error(path, f"line {n} has genre flag {shown}; u.item's last {len(ML100K_GENRES)} fields "
                                  "are 0 or 1", "genres")
    return tuple(g for g, f in zip(ML100K_GENRES, fields) if f.strip() == "1")
