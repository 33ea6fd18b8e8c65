"""The sheet as an Excel workbook: live formulas and Solver's settings out, factors and ratings back in.

Export writes two sheets. "Sheet" is laid out like the lesson's workbook: ratings (user ids down, movie
ids and titles across), movie factors above the predictions, user factors to their left, each
prediction a formula and the loss cell under Solver's hidden names. "Engine" holds the engine's side
as values. Import reads such a workbook back, after Solver or the user changed it, and refuses
anything else with one line naming the file (and the cell, for a cell problem).
"""
from __future__ import annotations

import contextlib
import os
import uuid
import zipfile
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName

from engine.crosstab import Crosstab
from engine.optim import OptimizerSettings
from engine.sheet import Sheet, SheetConfig, y_range
from engine.snapshot import Snapshot

SHEET, ENGINE = "Sheet", "Engine"
MARKER, FORMAT = "collabsheet workbook", 1  # Engine!A1 and B1: what says a workbook is ours
FILLS = {"rating": "DDEBF7", "prediction": "E4DFEC", "movie": "E2EFDA", "user": "FCE4D6",
         "loss": "FFC7CE", "bias": "FFF2CC"}  # the app's block colours, as light fills
LABELS = {"ratings": "Ratings", "movies": "Movie factors", "users": "user id"}
PREDICTIONS_LABEL = "Engine predictions"
FIELDS_TOP = 3  # first row of the Engine sheet's label/value table
MAX_COLUMNS = 16_384  # a worksheet's columns in Excel

# Excel's Solver reads these hidden sheet-local names; the values are those Excel saves after a
# GRG Nonlinear run with default options, so its dialog opens filled in.
SOLVER_OPTIONS = {
    "solver_typ": "2", "solver_eng": "1", "solver_neg": "2", "solver_num": "0", "solver_ver": "3",
    "solver_cvg": "0.0001", "solver_drv": "2", "solver_est": "1", "solver_itr": "2147483647",
    "solver_mip": "2147483647", "solver_mni": "30", "solver_mrt": "0.075", "solver_msl": "2",
    "solver_nod": "2147483647", "solver_nwt": "1", "solver_pre": "0.000001", "solver_rbv": "2",
    "solver_rlx": "2", "solver_rsd": "0", "solver_scl": "2", "solver_sho": "2", "solver_ssz": "100",
    "solver_tim": "2147483647", "solver_tol": "0.01", "solver_val": "0",
}


class XlsxError(ValueError):
    """A workbook could not be imported or written; str(error) is one line naming the file and what is wrong."""


@dataclass(frozen=True)
class Layout:
    """Where each block sits on the Sheet, as 1-based rows and columns."""

    n: int
    m: int
    k: int
    biases: bool

    # Fixed rows at the top (frozen), and the columns of the loss cell and the squashing range beside it.
    loss_row, id_row, title_row, ratings_label_row = 2, 3, 4, 5
    loss_col, low_col, high_col = 2, 4, 5

    def user_col(self, f: int) -> int:
        return 2 + f

    @property
    def bias_col(self) -> int:
        return 2 + self.k

    def movie_col(self, j: int) -> int:
        return 2 + self.k + self.biases + j

    def rating_row(self, i: int) -> int:
        return 6 + i

    @property
    def movies_label_row(self) -> int:
        return self.n + 7

    def factor_row(self, f: int) -> int:
        return self.n + 8 + f

    @property
    def movie_bias_row(self) -> int:
        return self.n + 8 + self.k

    @property
    def users_label_row(self) -> int:
        return self.n + 9 + self.k + self.biases

    def prediction_row(self, i: int) -> int:
        return self.users_label_row + 1 + i

    @property
    def loss_cell(self) -> str:
        return f"{quote_sheetname(SHEET)}!{_a1(self.loss_row, self.loss_col, True)}"

    def area(self, top: int, left: int, bottom: int, right: int) -> str:
        """An absolute A1 range on the Sheet, with the sheet's name."""
        return f"{quote_sheetname(SHEET)}!{_a1(top, left, True)}:{_a1(bottom, right, True)}"


def _a1(row: int, col: int, absolute: bool = False) -> str:
    d = "$" if absolute else ""
    return f"{d}{get_column_letter(col)}{d}{row}"


# ------------------------------------------------------------------------------------- export

class _Cells:
    """Cells placed anywhere, then streamed row by row into a write-only worksheet (fast for big sheets)."""

    def __init__(self, ws, styles: dict) -> None:
        self.ws, self.styles, self.rows = ws, styles, {}

    def put(self, row: int, col: int, value, style: str | None = None, text: bool = False) -> None:
        """Place a number, a formula ('=…'), text (always text when text=True) or a blank."""
        cell = WriteOnlyCell(self.ws)
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if text:
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", str(value))
            cell.data_type = "s"  # a title like "=cmd|..." stays text, never a formula
        elif isinstance(value, float):
            if np.isfinite(value):
                # openpyxl writes floats as '%.16g', which can lose the last bit; Excel writes 17 digits, so do we.
                cell._value, cell.data_type = repr(value), "n"
        elif value is not None:
            cell.value = value
        if style:
            cell._style = self.styles[style]  # one shared style array: styling 100k cells one by one is slow
        self.rows.setdefault(row, {})[col] = cell

    def flush(self) -> None:
        for r in range(1, max(self.rows) + 1):
            row = self.rows.get(r, {})
            self.ws.append([row.get(c) for c in range(1, max(row, default=0) + 1)])


def _styles(ws) -> dict:
    """Named cell looks, each one shared style array."""
    def look(fill=None, bold=False, fmt=None, wrap=False, colour=None, align=None):
        cell = WriteOnlyCell(ws)
        if fill:
            cell.fill = PatternFill("solid", fgColor=fill)
        cell.font = Font(bold=bold, color=colour)
        if fmt:
            cell.number_format = fmt
        cell.alignment = Alignment(horizontal=align, vertical="top", wrap_text=wrap)
        return cell._style

    out = {"label": look(bold=True, align="left"), "title": look(bold=True, wrap=True, align="center"),
           "id": look(bold=True, align="center"),
           "note": look(colour="666666"), "value": look(), "loss": look(FILLS["loss"], True, "0.000000")}
    for block, fmt in (("rating", "0.0"), ("prediction", "0.000"), ("movie", "0.000"),
                       ("user", "0.000"), ("bias", "0.000")):
        out[block] = look(FILLS[block], fmt=fmt)
        out[block + " label"] = look(FILLS[block], bold=True)
    return out


def _id_kind(ids: tuple) -> str:
    """How ids go back from text: all ints, all floats, or text."""
    if all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
        return "int"
    if all(isinstance(i, (float, np.floating)) for i in ids):
        return "float"
    return "text"


def _prediction_template(lay: Layout, squash: bool) -> str:
    """The lesson's cell formula =IF(rating="",0,MMULT(user row, movie column)), plus biases and sigmoid when on;
    {c} is the movie's column, {r} the rating's row, {p} the prediction's row."""
    u0, u1 = get_column_letter(lay.user_col(0)), get_column_letter(lay.user_col(lay.k - 1))
    x = f"MMULT(${u0}{{p}}:${u1}{{p}},{{c}}${lay.factor_row(0)}:{{c}}${lay.factor_row(lay.k - 1)})"
    if lay.biases:
        x += f"+${get_column_letter(lay.bias_col)}{{p}}+{{c}}${lay.movie_bias_row}"
    if squash:
        lo, hi = _a1(lay.loss_row, lay.low_col, True), _a1(lay.loss_row, lay.high_col, True)
        x = f"{lo}+({hi}-{lo})/(1+EXP(-({x})))"
    return f'=IF({{c}}{{r}}="",0,{x})'


def _write_sheet(ws, cells: _Cells, snap: Snapshot, lay: Layout) -> None:
    n, m, k = lay.n, lay.m, lay.k
    p = snap.params
    cells.put(1, 1, f"collabsheet · {snap.dataset or 'ratings'} · {n} users × {m} movies · k = {k}"
              + (" · biases" if snap.biases else "") + (" · squashed" if snap.squash else ""), "label", text=True)
    first, last = lay.movie_col(0), lay.movie_col(m - 1)
    ratings = f"{_a1(lay.rating_row(0), first, True)}:{_a1(lay.rating_row(n - 1), last, True)}"
    preds = f"{_a1(lay.prediction_row(0), first, True)}:{_a1(lay.prediction_row(n - 1), last, True)}"
    cells.put(lay.loss_row, 1, "Loss (RMSE)", "loss", text=True)
    cells.put(lay.loss_row, lay.loss_col, f"=SQRT(SUMXMY2({ratings},{preds})/COUNT({ratings}))", "loss")
    if snap.squash:
        cells.put(lay.loss_row, lay.low_col - 1, "y range", "label", text=True)
        cells.put(lay.loss_row, lay.low_col, snap.y_range[0], "value")
        cells.put(lay.loss_row, lay.high_col, snap.y_range[1], "value")
    cells.put(lay.id_row, 1, "movie id", "label", text=True)
    cells.put(lay.title_row, 1, "title", "label", text=True)
    for j in range(m):
        cells.put(lay.id_row, lay.movie_col(j), snap.item_ids[j], "id", text=True)
        cells.put(lay.title_row, lay.movie_col(j), snap.titles[j], "title", text=True)
    cells.put(lay.ratings_label_row, 1, LABELS["ratings"], "rating label", text=True)
    cells.put(lay.movies_label_row, 1, LABELS["movies"], "movie label", text=True)
    cells.put(lay.users_label_row, 1, LABELS["users"], "user label", text=True)
    for f in range(k):
        cells.put(lay.factor_row(f), 1, f"factor {f + 1}", "movie label", text=True)
        cells.put(lay.users_label_row, lay.user_col(f), f"factor {f + 1}", "user label", text=True)
        for j in range(m):
            cells.put(lay.factor_row(f), lay.movie_col(j), p["item_factors"][f, j], "movie")
    if snap.biases:
        cells.put(lay.movie_bias_row, 1, "movie bias", "bias label", text=True)
        cells.put(lay.users_label_row, lay.bias_col, "user bias", "bias label", text=True)
        for j in range(m):
            cells.put(lay.movie_bias_row, lay.movie_col(j), p["item_bias"][j], "bias")
    cells.put(lay.users_label_row, first, "Predictions", "prediction label", text=True)
    formula, letters = _prediction_template(lay, snap.squash), [get_column_letter(lay.movie_col(j)) for j in range(m)]
    for i in range(n):
        r, pr = lay.rating_row(i), lay.prediction_row(i)
        cells.put(r, 1, snap.user_ids[i], "id", text=True)
        cells.put(pr, 1, f"=$A{r}", "id")  # one place to edit an id
        for f in range(k):
            cells.put(pr, lay.user_col(f), p["user_factors"][i, f], "user")
        if snap.biases:
            cells.put(pr, lay.bias_col, p["user_bias"][i], "bias")
        for j in range(m):
            col = lay.movie_col(j)
            cells.put(r, col, None if np.isnan(snap.ratings[i, j]) else snap.ratings[i, j], "rating")
            cells.put(pr, col, formula.format(c=letters[j], r=r, p=pr), "prediction")

    ws.column_dimensions["A"].width = 14
    for f in range(k + snap.biases):
        ws.column_dimensions[get_column_letter(2 + f)].width = 9
    for j in range(m):
        ws.column_dimensions[get_column_letter(lay.movie_col(j))].width = 13
    ws.row_dimensions[lay.title_row].height = 48
    # Freeze the id and title rows; freeze the user-factor columns too while they fit on a screen.
    ws.freeze_panes = _a1(lay.ratings_label_row, first if k + snap.biases <= 10 else 2)


def _engine_fields(snap: Snapshot, lay: Layout) -> list[tuple[str, object, str]]:
    """The Engine sheet's label, value, note rows (a value starting with '=' is a formula)."""
    rows: list[tuple[str, object, str]] = [
        ("Dataset", snap.dataset, ""),
        ("Exported", datetime.now().isoformat(timespec="seconds"), "when this workbook was written"),
        ("Device", snap.device, "where the engine computed"),
        ("Users", lay.n, ""), ("Movies", lay.m, ""), ("Factors k", lay.k, ""),
        ("Biases", snap.biases, "a bias per user and per movie"),
        ("Squash", snap.squash, "sigmoid into the y range"),
        ("Seed", snap.seed, "seed of the initial factors"),
        ("Step", snap.step, "updates applied since reset"),
    ]
    for f in fields(OptimizerSettings):
        rows.append((f"optimizer {f.name}", getattr(snap.settings, f.name), ""))
    rows += [
        ("User id type", _id_kind(snap.user_ids), "int, float or text"),
        ("Movie id type", _id_kind(snap.item_ids), "int, float or text"),
        ("Rated cells", snap.count, ""),
        ("Solver variables", (lay.k + snap.biases) * (lay.n + lay.m),
         "Excel's own Solver changes at most 200 cells"),
    ]
    engine = FIELDS_TOP + len(rows)  # the row "Engine loss" lands on
    rows += [
        ("Engine loss (RMSE)", snap.rmse, "the engine's loss when exported"),
        ("Workbook loss (RMSE)", f"={lay.loss_cell}",
         "the Sheet's loss cell, recalculated by the spreadsheet"),
        ("Workbook − engine", f"=B{engine + 1}-B{engine}", "negative when the spreadsheet found a lower loss"),
    ]
    return rows


def _write_engine(ws, cells: _Cells, snap: Snapshot, lay: Layout) -> None:
    cells.put(1, 1, MARKER, "label", text=True)
    cells.put(1, 2, FORMAT, "value")
    cells.put(1, 3, "The engine's side, as values; the Sheet's formulas recalculate in the spreadsheet.", "note",
              text=True)
    table = _engine_fields(snap, lay)
    for r, (label, value, note) in enumerate(table, start=FIELDS_TOP):
        is_formula = isinstance(value, str) and value.startswith("=")
        style = "loss" if "loss" in label else "value"
        cells.put(r, 1, label, "label", text=True)
        cells.put(r, 2, value, style, text=isinstance(value, str) and not is_formula)
        if note:
            cells.put(r, 3, note, "note", text=True)
    top = len(table) + 4
    cells.put(top, 1, PREDICTIONS_LABEL, "prediction label", text=True)
    cells.put(top, 2, "on the rated cells, as the engine computed them", "note", text=True)
    cells.put(top + 1, 1, "user id", "label", text=True)
    for j in range(lay.m):
        cells.put(top + 1, 2 + j, snap.item_ids[j], "id", text=True)
    for i in range(lay.n):
        cells.put(top + 2 + i, 1, snap.user_ids[i], "id", text=True)
        for j in np.flatnonzero(snap.mask[i]):  # rated cells only: a big sheet writes fast
            cells.put(top + 2 + i, 2 + j, snap.predictions[i, j], "prediction")
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 13
    ws.freeze_panes = "B3"


def _solver_names(ws, snap: Snapshot, lay: Layout) -> None:
    """Solver's hidden sheet-local names: minimise the loss cell by changing the factor (and bias) cells."""
    n, m, k = lay.n, lay.m, lay.k
    first, last = lay.movie_col(0), lay.movie_col(m - 1)
    areas = [lay.area(lay.factor_row(0), first, lay.factor_row(k - 1), last),
             lay.area(lay.prediction_row(0), lay.user_col(0), lay.prediction_row(n - 1), lay.user_col(k - 1))]
    if snap.biases:
        areas += [lay.area(lay.movie_bias_row, first, lay.movie_bias_row, last),
                  lay.area(lay.prediction_row(0), lay.bias_col, lay.prediction_row(n - 1), lay.bias_col)]
    values = {"solver_opt": lay.loss_cell, "solver_adj": ",".join(areas)} | SOLVER_OPTIONS
    for name, text in values.items():
        ws.defined_names[name] = DefinedName(name, attr_text=text, hidden=True)


def _workbook(snap: Snapshot) -> openpyxl.Workbook:
    """The two sheets, written; Solver's names on the first."""
    lay = Layout(len(snap.user_ids), len(snap.item_ids), snap.k, snap.biases)
    wb = openpyxl.Workbook(write_only=True)
    styles = None
    for name, write in ((SHEET, _write_sheet), (ENGINE, _write_engine)):
        ws = wb.create_sheet(name)
        styles = styles or _styles(ws)
        cells = _Cells(ws, styles)
        write(ws, cells, snap, lay)
        cells.flush()
        if name == SHEET:
            _solver_names(ws, snap, lay)
    return wb


def export_xlsx(snapshot: Snapshot, path: str | Path) -> None:
    """Write the sheet as an .xlsx workbook whose formulas and Solver settings reproduce the engine's model."""
    path = Path(path)
    part = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part"
    try:
        part.open("xb").close()  # find out before the work whether the folder can be written
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    try:
        _workbook(snapshot).save(part)
        os.replace(part, path)  # only a complete workbook replaces an earlier file
    except OSError as exc:
        raise XlsxError(f"{path.name}: cannot be written ({exc.strerror or exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(part)


# ------------------------------------------------------------------------------------- import

@dataclass(frozen=True)
class ImportedSheet:
    """A workbook read back: everything needed to rebuild the sheet, and the losses to compare."""

    path: str
    grid: Crosstab  # ratings, ids and titles as the workbook has them now
    config: SheetConfig
    settings: OptimizerSettings
    params: dict[str, np.ndarray]  # the factor (and bias) cells, float64, in Sheet.load_params' form
    step: int  # the engine's step count at export
    workbook_loss: float | None  # the loss cell as the spreadsheet last calculated it; None if never calculated
    engine_loss: float  # the engine's loss at export (Engine sheet)
    exported: str  # when it was exported
    device: str  # where the engine ran at export
    notes: tuple[str, ...] = field(default=())  # things the user should hear about, one line each

    def to_sheet(self, device: str | None = None) -> Sheet:
        """A new engine Sheet with the workbook's ratings, factors and settings."""
        sheet = Sheet(self.grid, self.config, self.settings, device)
        sheet.load_params(self.params)
        sheet.steps = self.step
        return sheet


class _Values:
    """One sheet's cached cell values, addressed like the spreadsheet, with errors that name the cell."""

    def __init__(self, book: str, name: str, rows: list[tuple]) -> None:
        self.book, self.name, self.rows = book, name, rows

    def get(self, row: int, col: int):
        line = self.rows[row - 1] if row <= len(self.rows) else ()
        return line[col - 1] if col <= len(line) else None

    def fail(self, row: int, col: int, what: str) -> XlsxError:
        return XlsxError(f"{self.book}: {self.name}!{_a1(row, col)} {what}")

    def number(self, row: int, col: int, blank_ok: bool = False) -> float:
        value = self.get(row, col)
        if blank_ok and (value is None or value == ""):
            return np.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise self.fail(row, col, f"should be a number, found {_show(value)}")
        return float(value)

    def text(self, row: int, col: int) -> str:
        value = self.get(row, col)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a spreadsheet turned an id typed as text back into a number
        return "" if value is None else str(value)

    def expect(self, row: int, col: int, label: str) -> None:
        if self.get(row, col) != label:
            raise self.fail(row, col, f"should read {label!r}, found {_show(self.get(row, col))}; "
                                      "were rows or columns inserted or deleted?")


def _show(value) -> str:
    return "a blank cell" if value is None or value == "" else repr(value)


def _check_package(path: Path) -> None:
    """Refuse what is not a plain .xlsx package: missing, damaged, macros, pivot tables."""
    book = path.name
    if not path.exists():
        raise XlsxError(f"{book}: no such file")
    if path.is_dir():
        raise XlsxError(f"{book}: is a folder, not a workbook")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
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
            names = [n.lower() for n in zf.namelist()]
            bad = zf.testzip()
    except Exception as exc:  # zipfile raises several kinds for truncated or garbled archives
        raise XlsxError(f"{book}: damaged or not an Excel workbook ({_reason(exc)})") from exc
    if bad:
        raise XlsxError(f"{book}: damaged (bad data in {bad})")
    if "xl/workbook.xml" not in names:
        raise XlsxError(f"{book}: not an Excel workbook (.xlsx)")
    if any("vbaproject" in n for n in names):
        raise XlsxError(f"{book}: contains macros; collabsheet imports only the .xlsx workbooks it exports")
    if any("pivottable" in n or "pivotcache" in n for n in names):
        raise XlsxError(f"{book}: contains pivot tables; collabsheet imports only the workbooks it exports")


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def _read(path: Path) -> dict[str, _Values]:
    """Every sheet's cached values; any failure to parse the package is a damaged file."""
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl and its XML parser raise many kinds on damaged parts
        raise XlsxError(f"{path.name}: damaged or not an Excel workbook ({_reason(exc)})") from exc
    try:
        if ENGINE not in wb.sheetnames:
            raise XlsxError(f"{path.name}: not a collabsheet workbook (it has no {ENGINE!r} sheet)")
        extra = [n for n in wb.sheetnames if n not in (SHEET, ENGINE)]
        if extra or SHEET not in wb.sheetnames:
            what = f"extra sheet {extra[0]!r}" if extra else f"no {SHEET!r} sheet"
            raise XlsxError(f"{path.name}: has {what}; a collabsheet workbook has just {SHEET!r} and {ENGINE!r} "
                            "(delete the others and save)")
        out = {}
        for name in (SHEET, ENGINE):
            ws = wb[name]
            ws.reset_dimensions()  # trust the cells, not the dimension a writer recorded
            out[name] = _Values(path.name, name, list(ws.iter_rows(values_only=True)))
        return out
    except XlsxError:
        raise
    except Exception as exc:
        raise XlsxError(f"{path.name}: damaged or not an Excel workbook ({_reason(exc)})") from exc
    finally:
        wb.close()


class _Fields:
    """The Engine sheet's label → value table."""

    def __init__(self, engine: _Values) -> None:
        self.engine, self.rows = engine, {}
        if engine.get(1, 1) != MARKER:
            raise XlsxError(f"{engine.book}: not a collabsheet workbook ({ENGINE}!A1 is not {MARKER!r})")
        version = engine.get(1, 2)
        if not isinstance(version, (int, float)) or version > FORMAT:
            raise XlsxError(f"{engine.book}: written by a newer collabsheet (format {version}); update collabsheet")
        for r in range(FIELDS_TOP, len(engine.rows) + 1):
            label = engine.get(r, 1)
            if label == PREDICTIONS_LABEL:
                break
            if isinstance(label, str):
                self.rows.setdefault(label, r)

    def row(self, label: str) -> int:
        if label not in self.rows:
            raise XlsxError(f"{self.engine.book}: the {ENGINE} sheet has no {label!r} row")
        return self.rows[label]

    def number(self, label: str) -> float:
        return self.engine.number(self.row(label), 2)

    def whole(self, label: str, low: int | None = None) -> int:
        r = self.row(label)
        value = self.engine.number(r, 2)
        if not value.is_integer() or (low is not None and value < low):
            least = "" if low is None else f" of at least {low}"
            raise self.engine.fail(r, 2, f"should be a whole number{least}, found {value:g}")
        return int(value)

    def flag(self, label: str) -> bool:
        r = self.row(label)
        value = self.engine.get(r, 2)
        if value not in (True, False, 0, 1):
            raise self.engine.fail(r, 2, f"should be TRUE or FALSE, found {_show(value)}")
        return bool(value)

    def text(self, label: str) -> str:
        return self.engine.text(self.row(label), 2)


def _settings(f: _Fields) -> OptimizerSettings:
    """Optimizer settings from the table; a setting the table lacks keeps its default."""
    values = {}
    for spec in fields(OptimizerSettings):
        label = f"optimizer {spec.name}"
        if label in f.rows:
            values[spec.name] = f.text(label) if isinstance(spec.default, str) else f.number(label)
    try:
        return OptimizerSettings(**values)
    except ValueError as exc:
        raise XlsxError(f"{f.engine.book}: {ENGINE} sheet: {exc}") from exc


def _ids(sheet: _Values, cells: list[tuple[int, int]], kind: str) -> tuple:
    out = []
    for row, col in cells:
        text = sheet.text(row, col)
        try:
            out.append(int(text) if kind == "int" else float(text) if kind == "float" else text)
        except ValueError:
            raise sheet.fail(row, col, f"should be a{'n integer' if kind == 'int' else ' number'} id, "
                                       f"found {_show(text)}") from None
    return tuple(out)


def _layout(f: _Fields, sheet: _Values) -> Layout:
    """The layout the Engine sheet describes, checked against the labels on the Sheet."""
    # Excel's limits bound the loops below even when the table was edited to absurd sizes.
    lay = Layout(f.whole("Users", 1), f.whole("Movies", 1), f.whole("Factors k", 1), f.flag("Biases"))
    if lay.movie_col(lay.m - 1) > MAX_COLUMNS:
        raise f.engine.fail(f.row("Movies"), 2, f"is more movies than a sheet has columns ({lay.m})")
    sheet.expect(lay.ratings_label_row, 1, LABELS["ratings"])
    sheet.expect(lay.movies_label_row, 1, LABELS["movies"])
    sheet.expect(lay.users_label_row, 1, LABELS["users"])
    return lay


def _params(sheet: _Values, lay: Layout) -> dict[str, np.ndarray]:
    """The factor and bias cells, in Sheet.load_params' shapes."""
    n, m, k = lay.n, lay.m, lay.k
    params = {
        "user_factors": np.array([[sheet.number(lay.prediction_row(i), lay.user_col(q)) for q in range(k)]
                                  for i in range(n)]).reshape(n, k),
        "item_factors": np.array([[sheet.number(lay.factor_row(q), lay.movie_col(j)) for j in range(m)]
                                  for q in range(k)]).reshape(k, m),
    }
    if lay.biases:
        params["user_bias"] = np.array([sheet.number(lay.prediction_row(i), lay.bias_col) for i in range(n)])
        params["item_bias"] = np.array([sheet.number(lay.movie_bias_row, lay.movie_col(j)) for j in range(m)])
    return params


def _grid(f: _Fields, sheet: _Values, lay: Layout) -> Crosstab:
    """Ratings, ids and titles as the Sheet has them now."""
    cols = [lay.movie_col(j) for j in range(lay.m)]
    ratings = np.array([[sheet.number(lay.rating_row(i), c, blank_ok=True) for c in cols] for i in range(lay.n)])
    if np.isnan(ratings).all():
        raise XlsxError(f"{sheet.book}: the {SHEET} sheet has no ratings left; the sheet needs at least one")
    user_ids = _ids(sheet, [(lay.rating_row(i), 1) for i in range(lay.n)], f.text("User id type"))
    item_ids = _ids(sheet, [(lay.id_row, c) for c in cols], f.text("Movie id type"))
    titles = tuple(sheet.text(lay.title_row, c) for c in cols)
    return Crosstab(ratings, user_ids, item_ids, titles, f.text("Dataset"))


def _notes(sheet: _Values, lay: Layout, ratings: np.ndarray, squash: bool) -> tuple[str, ...]:
    """What the user should hear: a loss cell showing an error, a squashing range the ratings outgrew."""
    notes = []
    loss = sheet.get(lay.loss_row, lay.loss_col)
    if isinstance(loss, str):
        notes.append(f"the workbook's loss cell {SHEET}!{_a1(lay.loss_row, lay.loss_col)} shows {loss}")
    if squash:
        cells = (sheet.number(lay.loss_row, lay.low_col), sheet.number(lay.loss_row, lay.high_col))
        rated = ratings[~np.isnan(ratings)]
        ours = y_range(float(rated.min()), float(rated.max()))
        if not np.allclose(cells, ours, rtol=0, atol=1e-12):
            notes.append(f"the workbook squashes into {cells[0]:g}..{cells[1]:g} but these ratings give "
                         f"{ours[0]:g}..{ours[1]:g}; the engine uses {ours[0]:g}..{ours[1]:g}")
    return tuple(notes)


def import_xlsx(path: str | Path) -> ImportedSheet:
    """Read a workbook written by export_xlsx (perhaps changed by Solver or by hand) back for the engine."""
    path = Path(path)
    _check_package(path)
    books = _read(path)
    f, sheet = _Fields(books[ENGINE]), books[SHEET]
    lay = _layout(f, sheet)
    grid, params, squash = _grid(f, sheet, lay), _params(sheet, lay), f.flag("Squash")
    try:
        config = SheetConfig(k=lay.k, biases=lay.biases, squash=squash, seed=f.whole("Seed"))
    except ValueError as exc:
        raise XlsxError(f"{path.name}: {exc}") from exc
    loss = sheet.get(lay.loss_row, lay.loss_col)
    return ImportedSheet(
        path=str(path), grid=grid, config=config, settings=_settings(f), params=params, step=f.whole("Step", 0),
        workbook_loss=float(loss) if isinstance(loss, (int, float)) and not isinstance(loss, bool) else None,
        engine_loss=f.number("Engine loss (RMSE)"), exported=f.text("Exported"), device=f.text("Device"),
        notes=_notes(sheet, lay, grid.ratings, squash),
    )
