"""An .xlsx file read within limits: the package checked before anything is parsed, sheets streamed cell by cell.

A workbook is a zip of XML parts, and a small file can declare enormous ones: a 3 MB zip can hold 1.5 GB of
sheet XML, a sheet can declare ten million cells, a shared string can be 400 MB long. So before parsing,
the zip's directory bounds the number of parts, each part's uncompressed size and its compression; while
parsing, expat streams each part in small pieces, and the declared range, the cells' places and every text's
length are checked as they arrive. Only the cells a caller asks for are kept; reading stops after its last row.
"""
from __future__ import annotations

import posixpath
import re
import stat
import struct
import xml.parsers.expat
import zipfile
import zlib
from pathlib import Path

from openpyxl.utils.cell import column_index_from_string, range_boundaries

from collabsheet.engine.xlsx.errors import XlsxError, a1
from collabsheet.engine.xlsx.values import Values

MAX_PARTS = 1_000  # parts in the zip (an exported workbook has 10)
MAX_PART_BYTES = 256 << 20  # uncompressed bytes of any one part (the largest export's sheet is about 120 MB)
MAX_TEXT = 32_767  # characters in a cell's text: Excel's own limit
MAX_FORMULA = 8_192  # characters in a formula: Excel's own limit
MAX_STRINGS = 1_000_000  # shared strings (an exported workbook has a few thousand)
MAX_CHARS = 32 << 20  # characters of text kept from one part: the shared strings, or one sheet's text cells
_PIECE = 1 << 16  # bytes of XML handed to the parser at a time


class _Done(Exception):
    """Raised from inside the parser once the rows a caller asked for have been read."""


def check_package(path: Path, *, macros: bool = False, pivot_tables: bool = False) -> None:
    """Refuse what is not a plain .xlsx package within the limits: missing, damaged, a special file, too many
    parts, a part too large or compressed in a way Excel never writes, and (unless allowed) macros or pivot
    tables. Allowed macros are never run, allowed pivot tables never read."""
    book = path.name
    try:
        info = path.stat()
    except FileNotFoundError:
        raise XlsxError(f"{book}: no such file") from None
    except OSError as exc:
        raise XlsxError(f"{book}: cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise XlsxError(f"{book}: is a folder, not a workbook")
    if not stat.S_ISREG(info.st_mode):
        raise XlsxError(f"{book}: is not a regular file (a FIFO or a device?); import reads an .xlsx file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            _check_part_count(book, fh, info.st_size)
    except OSError as exc:
        raise XlsxError(f"{book}: cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise XlsxError(f"{book}: is empty (0 bytes)")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise XlsxError(f"{book}: an old-style .xls or a password-protected workbook; save it as .xlsx")
    if not head.startswith(b"PK"):
        raise XlsxError(f"{book}: not an Excel workbook (.xlsx)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except Exception as exc:  # zipfile raises several kinds for truncated or garbled archives
        raise XlsxError(f"{book}: damaged or not an Excel workbook ({reason(exc)})") from exc
    names = [i.filename.lower() for i in infos]
    if "xl/workbook.xml" not in names:
        raise XlsxError(f"{book}: not an Excel workbook (.xlsx)")
    if not macros and any("vbaproject" in n for n in names):
        raise XlsxError(f"{book}: contains macros; collabsheet imports only the .xlsx workbooks it exports")
    if not pivot_tables and any("pivottable" in n or "pivotcache" in n for n in names):
        raise XlsxError(f"{book}: contains pivot tables; collabsheet imports only the workbooks it exports")
    for i in infos:
        if i.file_size > MAX_PART_BYTES:
            raise XlsxError(f"{book}: part {i.filename} unpacks to {i.file_size:,} bytes, over the limit of "
                            f"{MAX_PART_BYTES:,} bytes for one part")
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise XlsxError(f"{book}: part {i.filename} is compressed in a way Excel never writes "
                            f"(method {i.compress_type})")


def _check_part_count(book: str, fh, size: int) -> None:
    """Bound the parts from the zip's end record, before zipfile reads a directory entry for each of them."""
    tail = min(size, 22 + 65_535)  # the end record, and the longest comment that may follow it
    fh.seek(size - tail)
    data = fh.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(data):
        return  # no end record: zipfile says it is damaged
    parts = struct.unpack_from("<H", data, at + 10)[0]
    if parts > MAX_PARTS:  # 0xFFFF, the mark of a ZIP64 archive, is over the limit too
        raise XlsxError(f"{book}: has {parts:,} parts, over the limit of {MAX_PARTS:,}")


def reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


class Package:
    """An .xlsx file checked by check_package, its sheets by name, and their cells read within limits."""

    def __init__(self, path: Path, *, macros: bool = False, pivot_tables: bool = False) -> None:
        check_package(path, macros=macros, pivot_tables=pivot_tables)
        self.path, self.book = path, path.name
        self._zip = zipfile.ZipFile(path)
        self._names = {i.filename.lower(): i.filename for i in self._zip.infolist()}
        self._strings: list[str] | None = None
        self.sheets = self._sheets()

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- parts -------------------------------------------------------------------------------
    def _damaged(self, what: str) -> XlsxError:
        return XlsxError(f"{self.book}: damaged or not an Excel workbook ({what})")

    def _parse(self, part: str, parser) -> None:
        """Stream one part through an expat parser, refusing a DTD (no workbook part has one)."""
        name = self._names.get(part.lower())
        if name is None:
            raise self._damaged(f"it has no {part}")

        def no_dtd(*_) -> None:
            raise XlsxError(f"{self.book}: part {part} declares a DTD, which no workbook part has")

        parser.StartDoctypeDeclHandler = no_dtd
        parser.EntityDeclHandler = no_dtd
        parser.buffer_text = True
        try:
            with self._zip.open(name) as fh:
                while piece := fh.read(_PIECE):
                    parser.Parse(piece, False)
                parser.Parse(b"", True)
        except _Done:
            pass
        except (xml.parsers.expat.ExpatError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self._damaged(f"{part}: {reason(exc)}") from exc

    def _attributes(self, part: str, tag: str) -> list[dict[str, str]]:
        """The attributes of every element named tag (any prefix) in a small part."""
        found = []

        def start(name: str, attrs: dict) -> None:
            if _local(name) == tag:
                found.append({_local(k): v for k, v in attrs.items()})

        parser = xml.parsers.expat.ParserCreate()
        parser.StartElementHandler = start
        self._parse(part, parser)
        return found

    def _sheets(self) -> dict[str, str]:
        """Each sheet's name → its part, in the workbook's order."""
        targets = {r.get("Id"): r.get("Target", "") for r in self._attributes("xl/_rels/workbook.xml.rels",
                                                                                "Relationship")}
        out = {}
        for sheet in self._attributes("xl/workbook.xml", "sheet"):
            target = targets.get(sheet.get("id"))
            if target is None or "name" not in sheet:
                raise self._damaged(f"sheet {sheet.get('name')!r} has no part")
            out[sheet["name"]] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
        return out

    def strings(self) -> list[str]:
        """The shared strings, each checked against Excel's limit on a cell's text as it is read."""
        if self._strings is None:
            self._strings = []
            if "xl/sharedstrings.xml" in self._names:
                self._strings = _SharedStrings(self).read()
        return self._strings

    def values(self, sheet: str, rows: int, cols: int, most: tuple[int, int],
               skip: tuple[int, int, int, int] | None = None) -> Values:
        """The cached values of sheet's cells in rows 1..rows and columns 1..cols, less the block skip (top, left,
        bottom, right) when given; a sheet that declares or holds cells beyond most (rows, columns) is refused."""
        return _SheetReader(self, sheet, rows, cols, most, skip).read()


def _local(name: str) -> str:
    return name[name.rfind(":") + 1:]


_TAGS: dict[str, str] = {}  # element name as written (perhaps with a prefix) -> its local name
_COLUMNS: dict[str, int] = {}  # column letters -> column number
_DIGITS = "0123456789"
_LETTERS = re.compile(r"[A-Z]{1,3}$")


def _tag(name: str) -> str:
    _TAGS[name] = tag = _local(name)
    return tag


class _Text:
    """Collects an element's text, refusing it as soon as it grows past a limit."""

    def __init__(self, fail, limit: int) -> None:
        self.fail, self.limit, self.pieces, self.size = fail, limit, [], 0

    def add(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise self.fail(self.limit)
        self.pieces.append(piece)

    def take(self) -> str:
        text, self.pieces, self.size = "".join(self.pieces), [], 0
        return text


class _SharedStrings:
    """xl/sharedStrings.xml: <si> items of <t> text, directly or in rich-text runs; phonetic runs skipped."""

    def __init__(self, package: Package) -> None:
        self.package, self.out, self.depth_rph, self.in_t, self.chars = package, [], 0, False, 0
        self.text = _Text(self._too_long, MAX_TEXT)

    def _too_long(self, limit: int) -> XlsxError:
        return XlsxError(f"{self.package.book}: shared string {len(self.out) + 1:,} is longer than {limit:,} "
                         "characters, Excel's limit for a cell")

    def read(self) -> list[str]:
        parser = xml.parsers.expat.ParserCreate()
        parser.StartElementHandler, parser.EndElementHandler = self._start, self._end
        parser.CharacterDataHandler = self._chars
        self.package._parse("xl/sharedStrings.xml", parser)
        return self.out

    def _start(self, name: str, attrs: dict) -> None:
        tag = _local(name)
        if tag == "rPh":
            self.depth_rph += 1
        elif tag == "t":
            self.in_t = not self.depth_rph

    def _end(self, name: str) -> None:
        tag = _local(name)
        if tag == "rPh":
            self.depth_rph -= 1
        elif tag == "t":
            self.in_t = False
        elif tag == "si":
            if len(self.out) >= MAX_STRINGS:
                raise XlsxError(f"{self.package.book}: has more than {MAX_STRINGS:,} shared strings, the limit")
            self.out.append(self.text.take())
            self.chars += len(self.out[-1])
            if self.chars > MAX_CHARS:
                raise XlsxError(f"{self.package.book}: its shared strings hold more than {MAX_CHARS:,} characters, "
                                "the limit")

    def _chars(self, data: str) -> None:
        if self.in_t:
            self.text.add(data)


class _SheetReader:
    """One worksheet's cells, streamed: <dimension> checked first, each cell's place and text as it arrives.

    expat calls back for every element and piece of text, so these callbacks are written for speed.
    """

    def __init__(self, package: Package, sheet: str, rows: int, cols: int, most: tuple[int, int],
                 skip: tuple[int, int, int, int] | None) -> None:
        self.package, self.sheet, self.rows, self.cols, self.most = package, sheet, rows, cols, most
        self.skip = skip or (0, 0, -1, -1)  # top, left, bottom, right of cells not kept
        self.out: list[list] = []
        self.line: list = []  # the kept cells of the row being read
        self.row, self.row_text = 0, "0"  # the row being read (1-based), and as its reference writes it
        self.col = 0  # the column of the cell being read
        self.kind = ""  # the cell's t attribute
        self.value: object = None
        self.in_text = False  # inside <v>, or <t> of an inline string
        self.pieces: list[str] = []  # the text read so far
        self.size = 0  # its length
        self.formula = 0  # characters of the current <f> plus 1; 0 outside one (its text is only counted)
        self.chars = 0  # characters of text kept

    def read(self) -> Values:
        part = self.package.sheets.get(self.sheet)
        if part is None:
            raise XlsxError(f"{self.package.book}: has no {self.sheet!r} sheet")
        parser = xml.parsers.expat.ParserCreate()
        parser.StartElementHandler, parser.EndElementHandler = self._start, self._end
        parser.CharacterDataHandler = self._chars
        self.package._parse(part, parser)
        return Values(self.package.book, self.sheet, self.out)

    # --- limits ------------------------------------------------------------------------------
    def _where(self) -> str:
        return f"{self.sheet}!{a1(self.row, self.col)}" if self.col else f"{self.sheet} row {self.row}"

    def _too_long(self, what: str, limit: int) -> XlsxError:
        return XlsxError(f"{self.package.book}: {self._where()} holds {what} longer than {limit:,} characters, "
                         "Excel's limit")

    def _beyond(self, what: str) -> XlsxError:
        rows, cols = self.most
        return XlsxError(f"{self.package.book}: the {self.sheet} sheet {what}; a collabsheet workbook's "
                         f"{self.sheet} sheet has at most {rows:,} rows and {cols:,} columns ({a1(rows, cols)})")

    # --- expat's callbacks -------------------------------------------------------------------
    def _start(self, name: str, attrs: dict) -> None:
        tag = _TAGS.get(name) or _tag(name)
        if tag == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip(_DIGITS)
                if ref[len(letters):] != self.row_text:
                    raise self.package._damaged(f"{self.sheet}: cell {ref[:20]!r} in row {self.row}")
                col = _COLUMNS.get(letters) or self._column(letters)
            else:
                col = self.col + 1
            if col > self.most[1]:
                self.col = col
                raise self._beyond(f"has a cell at {a1(self.row, col)}")
            self.col, self.kind, self.value = col, attrs.get("t", "n"), None
        elif tag == "v":
            self.in_text = True
        elif tag == "f":
            self.formula = 1
        elif tag == "row":
            self._row(attrs.get("r"))
        elif tag == "t":
            self.in_text = self.kind == "inlineStr"
        elif tag == "dimension":
            self._dimension(attrs.get("ref", ""))

    def _column(self, letters: str) -> int:
        if not _LETTERS.match(letters):
            raise self.package._damaged(f"{self.sheet}: cell reference {letters[:20]!r}")
        _COLUMNS[letters] = col = column_index_from_string(letters)
        return col

    def _row(self, r: str | None) -> None:
        row = int(r) if r and r.isdigit() and len(r) < 9 else self.row + 1
        if row <= self.row:
            raise self.package._damaged(f"{self.sheet}: row {row} after row {self.row}")
        if row > self.rows:
            if row > self.most[0]:
                raise self._beyond(f"has a row {row:,}")
            raise _Done()  # past the last row asked for: the rest is never read
        self.out.extend([] for _ in range(row - 1 - len(self.out)))
        self.line = []
        self.out.append(self.line)
        self.row, self.row_text, self.col = row, str(row), 0

    def _dimension(self, ref: str) -> None:
        try:
            _, _, right, bottom = range_boundaries(ref.split()[0] if ref.strip() else "A1")
        except (ValueError, TypeError):
            raise self.package._damaged(f"{self.sheet}: range {ref[:30]!r}") from None
        right, bottom = right or 1, bottom or 1
        if bottom > self.most[0] or right > self.most[1]:
            raise self._beyond(f"declares {bottom:,} rows and {right:,} columns ({ref[:30]})")

    def _end(self, name: str) -> None:
        tag = _TAGS.get(name) or _tag(name)
        if tag == "c":
            col = self.col
            top, left, bottom, right = self.skip
            if col <= self.cols and not (left <= col <= right and top <= self.row <= bottom):
                self._keep(self._cast())
        elif tag == "v" or tag == "t":
            if self.in_text:
                text = "".join(self.pieces)
                self.value = text if self.value is None else self.value + text
                self.pieces, self.size, self.in_text = [], 0, False
        elif tag == "f":
            self.formula = 0
        elif tag == "sheetData":
            raise _Done()

    def _chars(self, data: str) -> None:
        if self.in_text:
            self.size += len(data)
            if self.size > MAX_TEXT:
                raise self._too_long("text", MAX_TEXT)
            self.pieces.append(data)
        elif self.formula:
            self.formula += len(data)
            if self.formula > MAX_FORMULA + 1:
                raise self._too_long("a formula", MAX_FORMULA)

    def _cast(self) -> object:
        """The cell's cached value as openpyxl's data_only mode gives it."""
        text, kind = self.value, self.kind
        if text is None or (text == "" and kind != "inlineStr"):
            return None  # a formula never calculated, or an empty cell
        if kind == "n":
            try:  # whole numbers as int, like openpyxl; long digit strings as float, so they stay a float's size
                return int(text) if len(text) < 16 and text.lstrip("+-").isdigit() else float(text)
            except ValueError:
                raise self.package._damaged(f"{self._where()} holds {text[:20]!r} where a number should be") from None
        if kind == "s":
            strings = self.package.strings()
            if not text.isdigit() or int(text) >= len(strings):
                raise self.package._damaged(f"{self._where()} refers to shared string {text[:20]!r}, which "
                                            "does not exist")
            text = strings[int(text)]
        elif kind == "b":
            return text.strip() in ("1", "true")
        self.chars += len(text)
        if self.chars > MAX_CHARS:
            raise XlsxError(f"{self.package.book}: the {self.sheet} sheet's cells hold more than {MAX_CHARS:,} "
                            "characters of text, the limit")
        return text  # a string: shared, inline, a formula's text result, an error such as #N/A, a date

    def _keep(self, value: object) -> None:
        line, gap = self.line, self.col - 1 - len(self.line)
        if gap < 0:
            raise self.package._damaged(f"{self._where()} appears twice or out of order")
        if gap:
            line.extend([None] * gap)
        line.append(value)
