"""Typed columns of a large CSV, parsed by pyarrow a block at a time, in parts side by side, straight into numpy."""
from __future__ import annotations

import io
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Bytes parsed at a time. Small blocks keep the parser's working copy in the CPU's cache and let the allocator
# hand the same memory back block after block; only the columns themselves are fresh memory. The read alone of
# the 25M-rating synthetic file (bench/scale.py), on one thread, each in a fresh process, load average 1-2:
# 1 MiB blocks 1.8-2.4 s and 10-20k page faults, 8 MiB 2.7-3.5 s, the file as one block 3.2-3.4 s and 370k.
BLOCK = 1 << 20
MAX_PARTS = 4  # parts parsed side by side, one a core (measured on 2 cores only)
PART_BYTES = 16 << 20  # files smaller than this per part are not worth a thread more
_TYPES = {np.dtype(np.int64): "int64", np.dtype(np.float64): "float64"}


def most_rows(size: int, positions: list[int]) -> int:
    """An upper bound on the rows of `size` bytes in which the fields at `positions` are all non-empty."""
    # every such row but the last holds one character per field asked for, a separator before each of the
    # fields up to the last one asked for, and a line end
    return size // (len(positions) + max(positions) + 1) + 1


def part_count(size: int) -> int:
    """How many parts a file of `size` bytes is parsed in: one a core, none smaller than PART_BYTES."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_PARTS, cores, size // PART_BYTES))


def read_columns(path: Path, columns: dict[int, np.dtype], *, skip_rows: int, delimiter: str,
                 heard: Callable[[int], None] | None = None, parts: int | None = None,
                 block_size: int = BLOCK) -> list[np.ndarray] | None:
    """The columns at these 0-based positions, each of its dtype (int64 or float64), from every row of the CSV at
    `path` past its first `skip_rows` lines; None when a row lacks one of them, or where the file's rows are not
    its lines (a quoted line break). `heard` is told the bytes of each read; what it raises ends the read."""
    size = os.path.getsize(path)
    cuts = _cuts(path, size, part_count(size) if parts is None else parts)
    spans = list(zip(cuts, cuts[1:]))
    cap = most_rows(size, list(columns))
    # untouched pages of these arrays are never given memory, and the unused tail is handed back at the end
    out = [np.empty(cap, dtype) for dtype in columns.values()]
    # part j goes right after the rows before it: its own thread first counts the lines of part j - 1, while
    # part j - 1 is parsed, then parses at the sum of the counts before it (part 0 begins at once, at row 0)
    lines: list[Future] = [Future() for _ in spans[:-1]]

    def part(j: int) -> tuple[int, int | None]:
        at = 0
        if j:
            try:
                lines[j - 1].set_result(_lines(path, *spans[j - 1]))
            except BaseException as e:
                lines[j - 1].set_exception(e)
                raise
            at = sum(f.result() for f in lines[:j]) - skip_rows  # the skipped lines are no rows
        return at, _parse(_Part(path, *spans[j], heard), columns, out, at, skip_rows if j == 0 else 0, delimiter,
                          block_size)

    with ThreadPoolExecutor(len(spans)) as pool:  # one thread a part: each may wait for the counts before it
        jobs = [pool.submit(part, j) for j in range(len(spans))]
        starts, rows = zip(*(job.result() for job in jobs))
    if any(r is None for r in rows) or any(at + r != end for at, r, end in zip(starts, rows, starts[1:])):
        return None  # a missing field, or a part whose rows are not its lines (its neighbour's rows then misplaced)
    done = starts[-1] + rows[-1]
    for array in out:
        array.resize(done, refcheck=False)  # shrinks in place: nothing else refers to these fresh arrays
    return out


def _cuts(path: Path, size: int, parts: int) -> list[int]:
    """Where the parts begin (each just after a line break) and end: 0, …, size."""
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(cuts[-1], size * k // parts))
            f.readline()  # to the end of the line the cut fell in
            if (at := f.tell()) < size:
                cuts.append(at)
    return cuts + [size]


def _lines(path: Path, start: int, end: int) -> int:
    """Line breaks in bytes start..end of a file."""
    piece = bytearray(BLOCK)
    data, breaks = np.frombuffer(piece, np.uint8), np.empty(BLOCK, dtype=bool)  # reused: no memory a piece
    n = 0
    with _Part(path, start, end) as f:
        while got := f.readinto(piece):
            # numpy's compare and count run ~4x faster than bytes.count (0.08 s of CPU against 0.27 at 25M)
            n += int(np.count_nonzero(np.equal(data[:got], ord("\n"), out=breaks[:got])))
    return n


def _parse(part: _Part, columns: dict[int, np.dtype], out: list[np.ndarray], at: int, skip_rows: int,
           delimiter: str, block_size: int) -> int | None:
    """One part's rows written into `out` from row `at` on: how many, or None at a missing field."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{c}" for c in columns]
    with part, pacsv.open_csv(
            part,
            read_options=pacsv.ReadOptions(skip_rows=skip_rows, autogenerate_column_names=True,
                                           block_size=block_size, use_threads=False),  # the parts are the threads
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
                # within the arrays while the part's rows are its lines; past them, numpy's ValueError ends it
                array[done:done + rows] = column.to_numpy()
            done += rows
    return done - at


class _Part(io.RawIOBase):
    """Bytes start..end of a file, as a file of their own; `heard` is told the bytes of each read."""

    def __init__(self, path: Path, start: int, end: int, heard: Callable[[int], None] | None = None):
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with this part
        self._file.seek(start)
        self._left, self._heard = end - start, heard

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
        n = 0
        if self._left:
            with memoryview(buffer) as view:
                n = self._file.readinto(view[:self._left]) or 0
        self._left -= n
        if self._heard is not None:
            self._heard(n)
        return n

    def close(self) -> None:
        self._file.close()
        super().close()
