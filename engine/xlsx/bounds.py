"""How much of a workbook the openpyxl-based readers (the course's collab_filter.xlsx and graddesc.xlsm) will take.

openpyxl opens a sheet whose writer recorded no size by reading every cell, in Python, before any check of ours
runs: a sheet of millions of small cells would hold the program for minutes. So the cells are counted first in
the stored XML, by zlib and bytes.count in C (a few hundred MB a second), and a sheet past the bound is refused
in one line. The course's workbooks hold a few thousand cells a sheet.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from collabsheet.engine.xlsx.errors import XlsxError

MAX_CELLS = 2_000_000  # cells in any one sheet of a workbook these readers open
SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
CELL_TAGS = (b"<c ", b"<c>", b":c r=")  # a cell, plain or with a namespace prefix


def check_cells(path: Path) -> None:
    """Refuse a workbook with a sheet of more than MAX_CELLS cells; a damaged zip is left to the reader to explain."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if SHEET_PART.match(info.filename):
                    _count(zf, info, path.name)
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile):
        return


def _count(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    cells, tail = 0, b""
    with zf.open(info) as part:
        while chunk := part.read(1 << 20):
            data = tail + chunk
            cells += sum(data.count(tag) for tag in CELL_TAGS)
            tail = data[-4:]  # shorter than every tag: nothing is counted twice, nothing across a seam missed
            if cells > MAX_CELLS:
                raise XlsxError(f"{name}: {info.filename} holds more than {MAX_CELLS:,} cells; the lesson's "
                                "workbooks hold a few thousand a sheet")
