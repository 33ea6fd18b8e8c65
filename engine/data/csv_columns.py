"""Typed columns of a large CSV, parsed in pieces side by side straight into numpy: by a compiled loop where the
text is plain numbers and numba is installed (engine/data/csv_numbers.py), else by pyarrow a block at a time."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Bytes parsed at a time. Small blocks keep the parser's working copy in the CPU's cache and let the allocator
# hand the same memory back block after block; only the columns themselves are fresh memory. The read alone of
# the 25M-rating synthetic file (bench/scale.py), on one thread, each in a fresh process, load average 1-2:
# 1 MiB blocks 1.8-2.4 s and 10-20k page faults, 8 MiB 2.7-3.5 s, the file as one block 3.2-3.4 s and 370k.
BLOCK = 1 << 20
# The file is cut into pieces of about this many bytes, which the threads take in turn as each is free: a thread
# slowed by other work on its core takes fewer, where one part a thread left the read waiting for the slowest.
PIECE = 8 << 20
MAX_THREADS = 4  # threads parsing side by side, one a core (measured on 2 cores only)
# Files from this size on are parsed by the compiled loop: importing numba and loading the loop from its cache
# costs ~0.3 s, which smaller files would not earn back (pyarrow reads 30 MiB in ~0.15 s on 2 cores).
COMPILED_FROM = 32 << 20
_TYPES = {np.dtype(np.int64): "int64", np.dtype(np.float64): "float64"}


def most_rows(size: int, positions: list[int]) -> int:
    """An upper bound on the rows of `size` bytes in which the fields at `positions` are all non-empty."""
    # every such row but the last holds one character per field asked for, a separator before each of the
    # fields up to the last one asked for, and a line end
    return size // (len(positions) + max(positions) + 1) + 1


def thread_count(size: int) -> int:
    """How many threads parse a file of `size` bytes: one a core, no more than it has pieces."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores, -(-size // PIECE)))


def read_columns(path: Path, columns: dict[int, np.dtype], *, skip_rows: int, delimiter: str,
                 heard: Callable[[int], None] | None = None, threads: int | None = None,
                 piece_bytes: int | None = None, block_size: int = BLOCK) -> list[np.ndarray] | None:
    """The columns at these 0-based positions, each of its dtype (int64 or float64), from every row of the CSV at
    `path` past its first `skip_rows` lines; None when a row lacks one of them, where the file's rows are not
    its lines (a quoted line break, a lone carriage return), or when it has no rows. `heard` is told the bytes of
    each read; what it raises ends the read. The pieces are of about `piece_bytes` (PIECE unless said)."""
    size = os.path.getsize(path)
    start = _past_lines(path, skip_rows)
    if heard is not None:
        heard(start)  # the skipped lines are read too
    cuts = _cuts(path, start, size, piece_bytes or PIECE)
    pieces = list(zip(cuts, cuts[1:]))
    if not pieces:
        return None
    # the columns as rows of one block of 8-byte numbers, the decimal ones seen through a float view; pages of it
    # never written are never given memory
    block = np.empty((len(columns), most_rows(size, list(columns))), np.int64)
    out = [block[j].view(dtype) for j, dtype in enumerate(columns.values())]

    def piece(j: int) -> int | None:
        data = _read(path, *pieces[j], heard)
        at = sum(f.result() for f in lines[:j])  # right after the lines of the pieces before it, counted first
        # pyarrow parses the pieces taken while the loop is still being made ready (~0.3 s): no thread waits for it
        if loop.done() and (plain := loop.result()) is not None and (rows := plain(data, at)) >= 0:
            return rows
        return _parse(data[:-1], columns, out, at, delimiter, block_size)  # pyarrow reads what the loop would not

    # the pool takes its jobs in order: the loop is made ready (numba imported, its code loaded) beside the count
    # of every piece, which any piece waits for
    with ThreadPoolExecutor(thread_count(size) if threads is None else threads) as pool:
        loop = pool.submit(_plain_parser, path, start, size, columns, block, delimiter)
        lines: list[Future] = [pool.submit(_lines, path, *p) for p in pieces]
        parsed = [pool.submit(piece, j) for j in range(len(pieces))]
        try:
            rows = [job.result() for job in parsed]
        except BaseException:
            for job in [loop, *lines, *parsed]:
                job.cancel()  # those not started yet never start
            raise
    counts = [f.result() for f in lines]
    counts[-1] += _ends_without_line_break(path, size)  # a last line without its line break is a row still
    if rows != counts:
        return None  # a missing field, or a piece whose rows are not its lines (its neighbours' then misplaced)
    return [column[:sum(counts)] for column in out]


def _plain_parser(path: Path, start: int, size: int, columns: dict[int, np.dtype], block: np.ndarray,
                  delimiter: str) -> Callable[[memoryview, int], int] | None:
    """The compiled loop, ready to parse a piece's bytes (and the 0 byte after them) into `block` from a row on:
    how many rows, or -1 where the text is not plain numbers. None for a small file, a separator that is not one
    byte, or without numba."""
    if size < COMPILED_FROM or len(sep := delimiter.encode()) != 1:
        return None
    from collabsheet.engine.data import csv_numbers as plain

    if plain.parse is None:
        return None
    with open(path, "rb") as f:
        f.seek(start)
        fields = f.readline().count(sep) + 1  # the first line's fields: every line must have as many
    if max(columns) >= fields:
        return None
    kinds = np.full(fields, plain.SKIP, dtype=np.int64)
    slots = np.zeros(fields, dtype=np.int64)
    for slot, (position, dtype) in enumerate(columns.items()):
        kinds[position] = plain.DECIMAL if np.dtype(dtype).kind == "f" else plain.INTEGER
        slots[position] = slot
    reals = block.view(np.float64)

    def parse(data: memoryview, at: int) -> int:
        return plain.parse(np.frombuffer(data, np.uint8), sep[0], kinds, slots, block, reals, at)

    try:
        parse(memoryview(bytearray(1)), 0)  # numba's code loaded (or compiled, once) now, while pieces are counted
    except Exception:  # noqa: BLE001 - numba could not compile or cache it: no loss, pyarrow reads every piece
        return None
    return parse


def _past_lines(path: Path, n: int) -> int:
    """Where the line after the first n lines of a file begins."""
    with open(path, "rb") as f:
        for _ in range(n):
            f.readline()
        return f.tell()


def _ends_without_line_break(path: Path, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(max(0, size - 1))
        return f.read(1) not in (b"\n", b"")


def _cuts(path: Path, start: int, size: int, piece_bytes: int) -> list[int]:
    """Where the pieces begin (each just after a line break) and end: start, …, size."""
    cuts = [start]
    with open(path, "rb") as f:
        while cuts[-1] + piece_bytes < size:
            f.seek(cuts[-1] + piece_bytes)
            f.readline()  # to the end of the line the cut fell in
            if (at := f.tell()) >= size:
                break
            cuts.append(at)
    return cuts + [size] if start < size else cuts


_buffers = threading.local()  # each thread's own memory, the same for every piece it reads: no fresh pages a piece


def _read(path: Path, start: int, end: int, heard: Callable[[int], None] | None = None) -> memoryview:
    """Bytes start..end of a file and a 0 byte after them (where the compiled loop's scans stop), read into the
    calling thread's own buffer (valid until its next read)."""
    n = end - start
    if len(getattr(_buffers, "bytes", b"")) < n + 1:
        _buffers.bytes = bytearray(n + 1)  # a new one, never a resize: the last piece's parser may hold the old
    _buffers.bytes[n] = 0
    view = memoryview(_buffers.bytes)[:n]
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        got = 0
        while got < n:
            if not (more := f.readinto(view[got:])):
                raise ValueError(f"{path} changed while it was read")
            got += more
    if heard is not None:
        heard(n)
    return memoryview(_buffers.bytes)[:n + 1]


def _lines(path: Path, start: int, end: int) -> int:
    """Line breaks in bytes start..end of a file."""
    data = np.frombuffer(_read(path, start, end), np.uint8)
    if len(getattr(_buffers, "breaks", ())) < len(data):
        _buffers.breaks = np.empty(len(data), dtype=bool)
    # numpy's compare and count run ~4x faster than bytes.count (0.1 s of CPU against 0.3 at 25M), in two calls
    # a piece: between calls this thread waits for the interpreter, which importing numba holds at the same time
    return int(np.count_nonzero(np.equal(data, ord("\n"), out=_buffers.breaks[:len(data)])))


def _parse(data: memoryview, columns: dict[int, np.dtype], out: list[np.ndarray], at: int, delimiter: str,
           block_size: int) -> int | None:
    """A piece's rows, parsed by pyarrow, written into `out` from row `at` on: how many, or None at a missing field."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{c}" for c in columns]
    with pacsv.open_csv(
            pa.BufferReader(pa.py_buffer(data)),  # parsed where it was read: no copy
            read_options=pacsv.ReadOptions(autogenerate_column_names=True,
                                           block_size=block_size, use_threads=False),  # the pieces are the threads
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False),
            # the types asked for, not inferred: no second look at each block, and a field not of its type fails
            convert_options=pacsv.ConvertOptions(
                include_columns=names, strings_can_be_null=False,
                column_types={n: _TYPES[np.dtype(t)] for n, t in zip(names, columns.values())}),
            memory_pool=pa.system_memory_pool()) as reader:  # the system's allocator reuses the blocks' memory
        done = at
        for batch in reader:
            got = [batch.column(n) for n in names]
            if any(c.null_count for c in got):
                return None  # an empty field (or a blank line): not a whole table of these types
            rows = batch.num_rows
            for array, column in zip(out, got):
                # within the arrays while the piece's rows are its lines; past them, numpy's ValueError ends it
                array[done:done + rows] = column.to_numpy()
            done += rows
    return done - at
