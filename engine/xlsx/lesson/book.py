"""A workbook opened twice read-only (formulas, and cached values), with pivot parts set aside when openpyxl trips."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.worksheet.formula import ArrayFormula

from collabsheet.engine.xlsx.bounds import check_cells
from collabsheet.engine.xlsx.errors import XlsxError
from collabsheet.engine.xlsx.lesson.refs import Names
from collabsheet.engine.xlsx.package import reason
from collabsheet.engine.xlsx.values import Values

PIVOT_PART = re.compile(r"xl/pivot(Tables|Cache)/", re.IGNORECASE)
PIVOT_CACHES = re.compile(rb"<(\w+:)?pivotCaches\b[^>]*?(/>|>.*?</(\w+:)?pivotCaches>)", re.DOTALL)


class Book:
    """A workbook's sheets as formulas and as the values a spreadsheet last calculated; close() when done."""

    def __init__(self, path: Path) -> None:
        self.path, self.name = path, path.name
        check_cells(path)  # before openpyxl, which may read a whole sheet just to open it
        self._formulas = _load(path, data_only=False)
        try:
            self._values = _load(path, data_only=True)
        except Exception:
            self._formulas.close()
            raise
        self.sheets = list(self._formulas.sheetnames)
        self.names = Names(
            self.sheets,
            {name: d.attr_text for name, d in self._formulas.defined_names.items()},
            {ws.title: {name: d.attr_text for name, d in getattr(ws, "defined_names", {}).items()}
             for ws in self._formulas},
        )
        self._cache: dict[tuple[str, bool], Values] = {}
        self._arrays: dict[str, dict[tuple[int, int], str]] = {}  # per sheet: an array formula's corner → its range

    def formulas(self, sheet: str) -> Values:
        """The sheet's formulas as '=…' text; None in every cell that holds no formula."""
        return self._rows(sheet, formulas=True)

    def values(self, sheet: str) -> Values:
        """The sheet's cells as the spreadsheet last calculated them (None where a formula was never calculated)."""
        return self._rows(sheet, formulas=False)

    def array_range(self, sheet: str, row: int, col: int) -> str | None:
        """The range an array formula entered at (row, col) fills ('AJ5:AN5'), or None for any other cell."""
        self.formulas(sheet)
        return self._arrays.get(sheet, {}).get((row, col))

    def is_worksheet(self, sheet: str) -> bool:
        return hasattr(self._formulas[sheet], "reset_dimensions")  # a chart sheet has no cells

    def mentions(self, sheet: str, word: str) -> bool:
        """Whether the sheet's stored XML holds `word` (any case): a quick look before reading every cell.

        Formulas are stored in the sheet's own part, so a sheet of a hundred thousand rated pairs that
        mentions no SUMXMY2 is passed over in milliseconds instead of being read cell by cell.
        """
        part = getattr(self._formulas[sheet], "_worksheet_path", None)  # where openpyxl's read-only sheet reads
        try:
            with zipfile.ZipFile(self.path) as zf:
                data = zf.read(part)
        except (KeyError, TypeError, OSError, zipfile.BadZipFile):
            return True  # no quick answer: read the cells
        return word.upper().encode() in data.upper()

    def _rows(self, sheet: str, formulas: bool) -> Values:
        key = (sheet, formulas)
        if key not in self._cache:
            ws = (self._formulas if formulas else self._values)[sheet]
            if not self.is_worksheet(sheet):
                raise XlsxError(f"{self.name}: {sheet!r} is a chart sheet, not a worksheet")
            ws.reset_dimensions()  # trust the cells, not the dimension a writer recorded
            try:
                if formulas:
                    cells = list(ws.iter_rows())
                    rows = [tuple(map(_formula, row)) for row in cells]
                    self._arrays[sheet] = {(r, c): cell.value.ref for r, row in enumerate(cells, 1)
                                           for c, cell in enumerate(row, 1) if isinstance(cell.value, ArrayFormula)}
                else:
                    rows = list(ws.iter_rows(values_only=True))
            except Exception as exc:  # openpyxl and its XML parser raise many kinds on damaged parts
                raise XlsxError(f"{self.name}: sheet {sheet!r} is damaged ({reason(exc)})") from exc
            self._cache[key] = Values(self.name, sheet, rows)
        return self._cache[key]

    def close(self) -> None:
        self._formulas.close()
        self._values.close()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _formula(cell) -> str | None:
    """A cell's formula text, an array formula's ('=MMULT(…)' entered with Ctrl+Shift+Enter) like any other's."""
    if cell.data_type != "f":
        return None  # text that merely starts with "=" is not a formula
    text = getattr(cell.value, "text", cell.value)
    return text if isinstance(text, str) else None  # a data table's formula is nothing the import reads


def _load(path: Path, data_only: bool):
    """openpyxl's read-only workbook; when it cannot read the package, again without its pivot tables."""
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only, keep_links=False)
    except Exception as first:  # openpyxl and its XML parser raise many kinds on parts they cannot read
        with zipfile.ZipFile(path) as zf:
            pivots = any(PIVOT_PART.match(n) for n in zf.namelist())
            if pivots:
                try:
                    return openpyxl.load_workbook(without_pivots(zf), read_only=True, data_only=data_only,
                                                  keep_links=False)
                except Exception:
                    pass
        raise XlsxError(f"{path.name}: damaged or not an Excel workbook ({reason(first)})") from first


def without_pivots(zf: zipfile.ZipFile) -> io.BytesIO:
    """An in-memory copy of the package without its pivot tables and caches, which the import never reads."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in zf.infolist():
            if PIVOT_PART.match(info.filename):
                continue
            data = zf.read(info)
            if info.filename.lower() == "xl/workbook.xml":
                data = PIVOT_CACHES.sub(b"", data)
            copy.writestr(info, data)
    out.seek(0)
    return out
