"""Saving a workbook: only ever to a .xlsx file, through engine.safe_write, and only a complete file replaces one."""
from __future__ import annotations

import gc
import io
import sys
from os import PathLike
from pathlib import Path

import openpyxl

from collabsheet.engine.safe_write import Inputs, WriteError, check_target as check_file, write_bytes
from collabsheet.engine.xlsx.errors import XlsxError


def _inputs(keep: Inputs | None) -> Inputs:
    """A bare list of paths is the ratings the workbook is made from (what export passes)."""
    if keep is None or isinstance(keep, dict):
        return keep or {}
    return {p: "the ratings file" for p in keep}


def check_target(path: str | PathLike, keep: Inputs | None = None) -> Path:
    """Refuse, in one line, a path a workbook must not be written to: not named .xlsx, or anything
    engine.safe_write refuses (a symlink, FIFO, device, folder, read-only file, one of keep, a missing folder)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise XlsxError(f"{path.name}: a workbook is written as .xlsx; end the file name with .xlsx")
    try:
        return check_file(path, _inputs(keep), "workbook")
    except WriteError as exc:
        raise XlsxError(str(exc)) from None


def _serialise(wb: openpyxl.Workbook, path: Path) -> io.BytesIO:
    """The workbook's bytes, built in memory, so nothing is beside the target until the whole workbook exists."""
    buffer, failure = io.BytesIO(), None
    try:
        wb.save(buffer)
    except OSError as exc:  # openpyxl writes each sheet through a temporary file, which a full disk stops
        failure = exc.strerror or str(exc)
        # Its half-closed writer fails again when it is collected, as this block ends, and Python would print
        # that second failure as a traceback: nothing more can be done about it, so keep it quiet.
        hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    if failure is None:
        return buffer
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook
    raise XlsxError(f"{path.name}: cannot be written ({failure})")


def save_workbook(wb: openpyxl.Workbook, path: str | PathLike, keep: Inputs | None = None) -> None:
    """Write wb to path: built in memory, then written by engine.safe_write (a temporary file of its own, fsynced,
    renamed over the target once complete, removed whatever stops the write)."""
    path = check_target(path, keep)
    buffer = _serialise(wb, path)
    try:
        write_bytes(path, buffer.getbuffer(), _inputs(keep), "workbook")
    except WriteError as exc:
        raise XlsxError(str(exc)) from None
