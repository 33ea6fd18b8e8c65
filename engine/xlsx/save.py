"""Saving a workbook so that only a complete file ever replaces an earlier one."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import openpyxl

from engine.xlsx.errors import XlsxError


def save_workbook(wb: openpyxl.Workbook, path: str | Path) -> None:
    """Write wb to path through a temporary file beside it, renamed over the target when complete."""
    path = Path(path)
    part = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        part.open("xb").close()  # find out before the work whether the folder can be written
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    try:
        wb.save(part)
        os.replace(part, path)  # only a complete workbook replaces an earlier file
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(part)
