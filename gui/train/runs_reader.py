"""The runs database read and changed in a thread of its own, beside the worker (Qt-free).

The worker is busy for the whole of a training run, and a database another process writes to may keep a reader
waiting for its lock; neither may hold up the GUI thread or the experiments table. Every request here is a job
for one daemon thread, done in the order asked (a listing asked after a delete never shows the deleted run), and
its outcome goes to a callback in that thread: the widget turns it into a queued signal.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from collabsheet.engine.train.runs import Run


@dataclass(frozen=True)
class Listing:
    """Every recorded run, newest first, and where they are kept."""

    runs: tuple[Run, ...]
    database: str


@dataclass(frozen=True)
class Curves:
    """Validation RMSE per epoch of the runs asked for, in the order asked."""

    ids: tuple[int, ...]
    rmse: dict[int, list[float]]  # run id → RMSE after epochs 1, 2, … (NaN where an epoch has none)


@dataclass(frozen=True)
class Deleted:
    """Runs forgotten."""

    ids: tuple[int, ...]
    count: int


@dataclass(frozen=True)
class Exported:
    """A CSV file written."""

    path: str
    count: int


Done = Callable[[object, BaseException | None], None]  # the job's result, or the error it raised


class RunsReader:
    """One thread that reads and changes the runs database; `path` None means the usual one (COLLABSHEET_DATA)."""

    def __init__(self, done: Done, path: str | os.PathLike | None = None) -> None:
        self._done = done
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collabsheet-runs")
        self._closed = False

    def listing(self) -> Future:
        """Every run, newest first."""
        return self._submit(self._listing)

    def curves(self, ids: Sequence[int]) -> Future:
        """The validation curves of `ids`."""
        return self._submit(self._curves, tuple(ids))

    def delete(self, ids: Sequence[int]) -> Future:
        """Forget `ids` (and their epochs)."""
        return self._submit(self._delete, tuple(ids))

    def export(self, ids: Sequence[int], out: str | os.PathLike) -> Future:
        """Write the runs `ids`, in that order, as CSV to `out` (through engine.safe_write)."""
        return self._submit(self._export, tuple(ids), os.fspath(out))

    def close(self) -> None:
        """No more outcomes are reported; jobs not yet begun are dropped."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, job: Callable, *args) -> Future:
        future = self._pool.submit(job, *args)
        future.add_done_callback(self._report)
        return future

    def _report(self, future: Future) -> None:
        if self._closed or future.cancelled():
            return
        error = future.exception()
        self._done(None if error else future.result(), error)

    # --- the jobs, in the reader's thread (engine.train.runs is imported there, never on the GUI thread) --------
    def _listing(self) -> Listing:
        from collabsheet.engine.train import runs

        return Listing(tuple(runs.runs(self.path)), str(runs.database(self.path)))

    def _curves(self, ids: tuple[int, ...]) -> Curves:
        from collabsheet.engine.train import runs

        found = runs.curves(ids, self.path)
        nan = float("nan")
        return Curves(ids, {i: [nan if rmse is None else rmse for _, _, rmse in found[i]] for i in ids})

    def _delete(self, ids: tuple[int, ...]) -> Deleted:
        from collabsheet.engine.train import runs

        return Deleted(ids, runs.delete(ids, self.path))

    def _export(self, ids: tuple[int, ...], out: str) -> Exported:
        from collabsheet.engine.train import runs

        by_id = {r.id: r for r in runs.runs(self.path)}
        if missing := [i for i in ids if i not in by_id]:  # deleted meanwhile, by the command line
            raise ValueError(f"run {missing[0]} is no longer in {runs.database(self.path)}; refresh and export again")
        written = runs.export_csv([by_id[i] for i in ids], out, self.path)
        return Exported(str(written), len(ids))
