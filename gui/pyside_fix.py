"""A guard for PySide6 6.12's abi3 wheels on CPython 3.11: each call of a void Qt method drops a reference to None.

The wheels are built against headers where None is immortal (3.12+), so `return None` skips the
increment. On 3.11 None starts with a few thousand references, and a window that paints from Python
runs out in seconds ("Fatal Python error: none_dealloc"). Giving None a vast reference count makes it
as good as immortal, which is what CPython 3.12 does itself. Nothing to do on 3.12 and later.
"""
from __future__ import annotations

import ctypes
import sys

ALLOWANCE = 1 << 40  # a trillion void calls


def keep_none_alive() -> None:
    """Make None effectively immortal on interpreters older than 3.12 (idempotent)."""
    if sys.version_info >= (3, 12) or sys.getrefcount(None) > ALLOWANCE // 2:
        return
    ctypes.c_ssize_t.from_address(id(None)).value += ALLOWANCE  # ob_refcnt is PyObject's first field
