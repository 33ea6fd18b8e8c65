"""The full ratings behind a sheet opened from its kept copy, read in a thread of their own (Qt-free).

A window that starts from the kept sheet (engine.data.cache) still wants the whole table: for a new top-N,
the title, the status bar and Help → About. Reading it (pandas and the parquet copy, about half a second on
a small machine) in the worker would hold up the first Step; here it runs beside the worker instead.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from collabsheet.engine.data.ratings import Ratings


class LaterRatings:
    """Ratings being read in a daemon thread; `done` hears the outcome unless `drop` came first."""

    def __init__(self, read: Callable[[], Ratings], done: Callable[[Ratings | None, BaseException | None], None]):
        self._future: Future = Future()
        self._dropped = threading.Event()
        self._done = done
        threading.Thread(target=self._run, args=(read,), name="collabsheet-ratings", daemon=True).start()

    def _run(self, read: Callable[[], Ratings]) -> None:
        try:
            ratings, error = read(), None
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            ratings, error = None, exc
        if error is None:
            self._future.set_result(ratings)
        else:
            self._future.set_exception(error)
        if not self._dropped.is_set():
            self._done(ratings, error)

    def result(self, timeout: float | None = None) -> Ratings:
        """The ratings, waiting for the read if it is not done yet; raises what the read raised."""
        return self._future.result(timeout)

    def drop(self) -> None:
        """Another load replaced the sheet: its outcome is no longer news."""
        self._dropped.set()
