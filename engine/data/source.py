"""A ratings file's bytes, read once: a regular file checked to its end, a pipe or standard input held in memory."""
from __future__ import annotations

import io
import os
import re
import select
import stat
import sys
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import BinaryIO

from collabsheet.engine.data.errors import RatingsError, ratings_error

STDIN = "-"  # the path that means standard input
FIFO_WAIT_S = 10.0  # how long a FIFO given as ratings may stay without a writer before it is refused
_MAX_STREAM = 1 << 30  # bytes of a pipe or standard input held in memory
_CHUNK = 1 << 20  # bytes read at a time while the whole file is checked
_HEAD_BYTES = 1 << 16
_MAGIC = {
    b"\xd0\xcf\x11\xe0": "looks like an old Excel workbook (.xls), not a CSV; save it as CSV",
    b"\x1f\x8b": "is gzip-compressed; decompress it first",
    b"\xff\xfe": "is UTF-16 text; save it as 'CSV UTF-8'",
    b"\xfe\xff": "is UTF-16 text; save it as 'CSV UTF-8'",
}
# Comment lines ("# ...") and whitespace-only lines are blanked before parsing, so they read as the empty
# lines they stand for and line numbers stay right. _maybe_blank is the quick test of a chunk for one.
_BLANK = re.compile(rb"(?m)^(?:[ \t\f\v]+(?=\r?$)|[ \t\f\v]*#[^\r\n]*)")


@dataclass(frozen=True)
class Source:
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


def open_source(path: str | PathLike, whole: bool = True) -> Source:
    """Read the ratings once: a regular file is checked to its end (pandas then parses it from disk); a pipe,
    device or standard input is read into memory, as it cannot be read twice."""
    if str(path) == STDIN:
        if sys.stdin is None or getattr(sys.stdin, "closed", False):
            raise ratings_error("standard input", "is closed; pipe the ratings in (… | collabsheet grid --ratings -) "
                                "or name a file")
        return _from_stream("standard input", sys.stdin.buffer, whole)
    p, label = Path(path), str(path)
    if not label:
        raise ratings_error("''", "an empty file name; name a ratings file, or - for standard input")
    try:
        mode = p.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ratings_error(label, "is a folder, not a file; choose the ratings file inside it (e.g. ratings.csv or u.data)")
        if stat.S_ISFIFO(mode):
            with _open_fifo(label, p) as f:
                return _from_stream(label, f, whole)
        with p.open("rb") as f:
            if not stat.S_ISREG(mode):
                return _from_stream(label, f, whole)
            first, maybe_blank = _scan(label, f, None, p, whole)
            data = None
            if maybe_blank and whole:  # rare: comment or whitespace-only lines, blanked in memory
                f.seek(0)
                data = _BLANK.sub(b"", f.read())
    except FileNotFoundError:
        raise ratings_error(label, "no such file; check the path") from None
    except OSError as e:
        raise ratings_error(label, f"cannot be read ({e.strerror or e})") from None
    head = data if data is not None else _BLANK.sub(b"", first) if maybe_blank else first
    return Source(label, p, data, _decode_head(label, head))


def _open_fifo(label: str, p: Path) -> BinaryIO:
    """A FIFO opened without waiting for a writer, then given FIFO_WAIT_S for one to start writing: a plain open
    would wait for ever when no program writes to it."""
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(FIFO_WAIT_S * 1000):
            raise ratings_error(label, f"is a FIFO (named pipe) that no program wrote to within {FIFO_WAIT_S:g} s; "
                                "start the program that writes it first, or give a file")
        os.set_blocking(fd, True)  # a writer is there: read to its end as from any pipe
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _from_stream(label: str, f: BinaryIO, whole: bool) -> Source:
    chunks: list[bytes] = []
    _, maybe_blank = _scan(label, f, chunks, None, whole)
    data = b"".join(chunks)
    if maybe_blank:
        data = _BLANK.sub(b"", data)
    return Source(label, None, data, _decode_head(label, data))


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
            raise ratings_error(label, f"contains NUL bytes (line {line}, byte {size + nul}), so it is binary, "
                              "not a CSV of ratings")
        maybe_blank = maybe_blank or _maybe_blank(chunk)
        lines, size = lines + chunk.count(b"\n"), size + len(chunk)
        if keep is not None:
            if size > _MAX_STREAM:
                raise ratings_error(label, f"gave more than {_MAX_STREAM >> 20} MiB; save the ratings to a file and "
                                  "open that")
            keep.append(chunk)
        if not whole:
            break
    if not first:
        raise ratings_error(label, "is empty (0 bytes); choose a file that contains ratings")
    return first, maybe_blank


def _maybe_blank(chunk: bytes) -> bool:
    """Whether a chunk may hold a comment or whitespace-only line (a line may start at the chunk's start)."""
    # bytes' own substring search (memchr-fast) where a regular expression walks the chunk byte by byte
    return b"#" in chunk or chunk[:1] in (b" ", b"\t", b"\f", b"\v") or any(
        pair in chunk for pair in (b"\n ", b"\n\t", b"\n\f", b"\n\v"))


def read_bytes(p: Path) -> bytes:
    """A whole small file (a titles file), read once and checked for binary content."""
    if not p.exists():
        raise ratings_error(p, "no such file; check the path")
    if p.is_dir():
        raise ratings_error(p, "is a folder, not a file; choose the ratings file inside it (e.g. ratings.csv or u.data)")
    try:
        with p.open("rb") as f:
            data = f.read()
    except OSError as e:
        raise ratings_error(p, f"cannot be read ({e.strerror or e})") from None
    if not data:
        raise ratings_error(p, "is empty (0 bytes); choose a file that contains ratings")
    _reject_binary(p, data, p)
    if b"\x00" in data:
        raise ratings_error(p, f"contains NUL bytes (at byte {data.index(0)}), so it is binary, not a CSV of ratings")
    return data


def read_text(p: Path) -> str:
    """A whole small file (titles, genres) as text: UTF-8, else latin-1 (ml-100k's u.item and ml-1m's movies.dat)."""
    data = read_bytes(p)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _reject_binary(label: str | Path, head: bytes, zip_path: Path | None) -> None:
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(zip_path or io.BytesIO(head)) as zf:
                excel = any(n.startswith("xl/") for n in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            excel = False
        if excel:
            raise ratings_error(label, "looks like an Excel workbook, not a CSV; save it as CSV (File > Save As > CSV UTF-8)")
        raise ratings_error(label, "is a zip archive, not a CSV; unzip it and choose the ratings file inside")
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ratings_error(label, what)


def _decode_head(label: str, data: bytes) -> str:
    head = data[: _HEAD_BYTES + 1]
    if len(head) > _HEAD_BYTES:  # keep whole lines only, so no multi-byte character is cut
        head = head[: head.rfind(b"\n", 0, _HEAD_BYTES) + 1 or _HEAD_BYTES]
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_utf8(label, head.count(b"\n", 0, e.start) + 1, head[e.start]) from None


def not_utf8(label: str, line: int, byte: int) -> RatingsError:
    return ratings_error(label, f"line {line} is not UTF-8 text (byte 0x{byte:02x}); save the file as 'CSV UTF-8'")


def first_bad_utf8(source: Source) -> tuple[int, int]:
    with (source.path.open("rb") if source.data is None else io.BytesIO(source.data)) as f:
        for n, line in enumerate(f, 1):  # only runs once pandas has failed, so a slow line loop is fine
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return n, line[e.start]
    return 0, 0
