"""Saving a workbook: only ever to a regular .xlsx file, and only a complete file ever replaces an earlier one."""
from __future__ import annotations

import contextlib
import gc
import io
import os
import stat
import sys
import tempfile
import uuid
from os import PathLike
from pathlib import Path
from typing import Iterable

import openpyxl

from collabsheet.engine.xlsx.errors import XlsxError

_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a folder"}


def check_target(path: str | PathLike, keep: Iterable[str | PathLike] = ()) -> Path:
    """Refuse, in one line, a path a workbook must not be written to: not named .xlsx, anything but a regular file
    or a new name, one of the files in keep (however named), or a folder that does not exist or cannot be written."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise XlsxError(f"{path.name}: a workbook is written as .xlsx; end the file name with .xlsx")
    try:
        target = path.lstat()
    except FileNotFoundError:
        target = None
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    if target is not None:
        if not stat.S_ISREG(target.st_mode):
            kind = _KINDS.get(stat.S_IFMT(target.st_mode), "not a regular file")
            raise XlsxError(f"{path.name}: is {kind}; collabsheet writes a workbook only as a new or regular file")
        for other in keep:
            with contextlib.suppress(OSError):
                if os.path.samestat(target, os.stat(other)):
                    raise XlsxError(f"{path.name}: is the ratings file this workbook is made from; choose another name")
        if not os.access(path, os.W_OK):
            raise XlsxError(f"{path.name}: is read-only; choose another name or make it writable")
    _check_folder(path)
    return path


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise XlsxError(f"{path.name}: cannot be written (the folder {folder} does not exist)")
    try:  # the only sure test of a folder's permissions (root, read-only mounts, ACLs): write there
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written (the folder {folder}: {exc.strerror or exc})") from exc


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


def save_workbook(wb: openpyxl.Workbook, path: str | PathLike, keep: Iterable[str | PathLike] = ()) -> None:
    """Write wb to path: the workbook is built in memory, written beside the target as a .part file and renamed
    over it once complete; the .part file is removed whatever stops the write (a full disk, Ctrl-C, SIGTERM)."""
    keep = tuple(keep)
    path = check_target(path, keep)
    buffer = _serialise(wb, path)
    part = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    try:
        with open(fd, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        check_target(path, keep)  # again: the path may have changed while the workbook was being built
        os.replace(part, path)  # only a complete workbook replaces an earlier file
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(part)
