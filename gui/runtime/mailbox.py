"""The hand-over from the worker thread to the GUI thread: the latest frame, merged, taken at most once a repaint.

Qt-free. A runner puts updates; what replaces (a snapshot) and what accumulates (curve points, events)
is the frame type's business (its `merge`). The GUI takes everything new at once, so a slow repaint
never backs the engine up.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

F = TypeVar("F")


class Mailbox(Generic[F]):
    """The latest frame of type F under a lock; `put` merges updates into it, `take` hands it over."""

    def __init__(self, new_frame: Callable[[], F]) -> None:
        self._new = new_frame
        self._lock = threading.Lock()
        self._frame = new_frame()
        self._fresh = False

    def put(self, **updates) -> None:
        """Merge updates (field=value) into the pending frame."""
        with self._lock:
            self._frame.merge(**updates)
            self._fresh = True

    def withdraw(self, **fields) -> None:
        """Set fields of the pending frame without marking it new (e.g. drop a preview nobody took)."""
        with self._lock:
            for name, value in fields.items():
                setattr(self._frame, name, value)

    def take(self) -> F | None:
        """Everything since the last take, or None when nothing happened."""
        with self._lock:
            if not self._fresh:
                return None
            frame, self._frame, self._fresh = self._frame, self._new(), False
            return frame
