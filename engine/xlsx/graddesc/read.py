"""Reading a sheet laid out like the lesson's graddesc.xlsm (or our export): its rows, top cells and cached values.

Macros are never run: the reader reads the values the spreadsheet saved, and formulas only where a
value was never calculated (an export not yet opened in a spreadsheet).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl

from collabsheet.engine.graddesc.data import Data, DataError
from collabsheet.engine.graddesc.rows import ROW
from collabsheet.engine.graddesc.rules import Carry
from collabsheet.engine.graddesc.run import GradDesc
from collabsheet.engine.graddesc.settings import MAX_ROWS, RULES, Settings
from collabsheet.engine.xlsx.errors import XlsxError, a1
from collabsheet.engine.xlsx.graddesc.layout import A_CELL, B_CELL, FIRST, HEADER_ROW, Layout, rule_of_sheet
from collabsheet.engine.xlsx.package import check_package, reason
from collabsheet.engine.xlsx.values import Values, show


@dataclass(frozen=True, eq=False)
class WorkbookSheet:
    """One optimizer sheet of a workbook: what its epoch starts from, and what the spreadsheet computed."""

    book: str  # the file's name
    sheet: str
    rule: str
    data: Data  # the x, y rows
    settings: Settings  # the lesson's formulas with the sheet's lr, β's and weight decay
    carry: Carry  # the top cells: b, a (C1:C2), lr, the averages of row 3, adam_ann's best (N3)
    cached: np.ndarray | None  # the rows as last calculated (ROW fields; NaN where no column/an error); None if never
    cached_rmse: float | None  # the "rmse" cell as last calculated, if the sheet has one

    def graddesc(self) -> GradDesc:
        """A GradDesc whose next epoch is this sheet's rows ("reset" goes back to the lesson's a = b = 1)."""
        return GradDesc(self.data, self.settings, self.carry)

    def difference(self) -> tuple[float, str] | None:
        """The largest gap between one engine epoch and the cached rows, relative where a value exceeds 1,
        with the cell it is in; None if the workbook was never calculated."""
        if self.cached is None:
            return None
        run = self.graddesc()
        run.run_epoch()
        ours = np.full(len(self.data), np.nan, dtype=ROW)
        ours[: len(run.rows())] = run.rows()
        lay = Layout(self.rule, len(self.data))
        worst, where = 0.0, ""
        for field, c in lay.columns.items():
            if field in ("x", "y"):
                continue
            gap = _gap(ours[field], self.cached[field])
            i = int(np.argmax(gap))
            if gap[i] > worst or not where:
                worst, where = float(gap[i]), a1(FIRST + i, c)
        if self.cached_rmse is not None and not run.diverged:
            gap = float(_gap(np.array([run.history()["rmse"][-1]]), np.array([self.cached_rmse]))[0])
            if gap > worst:
                worst, where = gap, a1(*lay.rmse_cell)
        return worst, f"{self.sheet}!{where}"


def _gap(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        gap = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
    both_nan = np.isnan(ours) & np.isnan(theirs)
    return np.where(both_nan, 0.0, np.where(np.isnan(gap), np.inf, gap))


def read_graddesc(path: str | Path, sheet: str, rule: str | None = None) -> WorkbookSheet:
    """Read sheet `sheet` of a workbook laid out like the lesson's; its rule from `rule` or the sheet's name."""
    path = Path(path)
    check_package(path, macros=True)  # .xlsm: the macros stay unread and unrun
    values = _values(path, sheet)
    if rule is None:
        rule = rule_of_sheet(sheet)
        if rule is None:
            raise XlsxError(f"{path.name}: sheet {sheet!r} is not named for an optimizer ({', '.join(RULES)}, "
                            "basic); say which it is (--optimizer)")
    elif rule not in RULES:
        raise XlsxError(f"{path.name}: unknown optimizer {rule!r}; choose one of {', '.join(RULES)}")
    for c, label in ((1, "x"), (2, "y")):
        if str(values.get(HEADER_ROW, c) or "").strip().lower() != label:
            raise values.fail(HEADER_ROW, c, f"should read {label!r} (the header row), found "
                                             f"{show(values.get(HEADER_ROW, c))}; is this a gradient-descent sheet?")
    n = 0
    while _is_number(values.get(FIRST + n, 1)):
        n += 1
    if n == 0:
        raise values.fail(FIRST, 1, f"should be the first row's x, found {show(values.get(FIRST, 1))}")
    lay = Layout(rule, n)
    formulas = _Formulas(path, sheet)
    try:
        data = Data([values.number(r, 1) for r in range(FIRST, lay.last + 1)],
                    [values.number(r, 2) for r in range(FIRST, lay.last + 1)], f"{path.name}!{sheet}")
    except DataError as exc:
        raise XlsxError(str(exc)) from None
    lr = values.number(*lay.lr_cell)
    if not lr > 0:
        raise values.fail(*lay.lr_cell, f"should be a positive learning rate, found {lr:g}")
    # adam_ann's lr cell is the annealed lr in use; its reset value stays the lesson's (the macro restores it)
    changes = {} if rule == "adam_ann" else {"lr": lr}
    for field, (r, c) in lay.betas.items():
        beta = values.number(r, c)
        if not 0 <= beta < 1:
            raise values.fail(r, c, f"should be a β in [0, 1), found {beta:g}")
        _complement(values, formulas, r, c, beta)
        changes[field] = beta
    if lay.wd_cell:
        wd = values.number(*lay.wd_cell)
        if not wd >= 0:
            raise values.fail(*lay.wd_cell, f"should be a weight decay ≥ 0, found {wd:g}")
        changes["weight_decay"] = wd
    settings = Settings.lesson(rule, **changes)
    top = {field: values.number(HEADER_ROW, c) for field, c in lay.averages.items()}
    for field, c in lay.averages.items():
        if field.startswith("v") and not top[field] >= 0:
            raise values.fail(HEADER_ROW, c, f"should be a squared average (≥ 0), found {top[field]:g}")
    best = math.inf
    if lay.best_cell:
        best = values.number(*lay.best_cell, blank_ok=True)
        best = math.inf if math.isnan(best) else best
        if not best >= 0:
            raise values.fail(*lay.best_cell, f"should be the best √L+√M so far (≥ 0) or blank, found {best:g}")
    carry = Carry(np.array([values.number(*B_CELL), values.number(*A_CELL)]),
                  np.array([top.get("m_b", 0.0), top.get("m_a", 0.0)]),
                  np.array([top.get("v_b", 0.0), top.get("v_a", 0.0)]), lr, 0, best)
    cached, cached_rmse = _cached(values, lay)
    return WorkbookSheet(path.name, sheet, rule, data, settings, carry, cached, cached_rmse)


def _values(path: Path, sheet: str) -> Values:
    """The sheet's cached values (what the spreadsheet last calculated; None where it never did)."""
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_vba=False)
    except Exception as exc:  # openpyxl and its XML parser raise many kinds on damaged parts
        raise XlsxError(f"{path.name}: damaged or not an Excel workbook ({reason(exc)})") from exc
    try:
        if sheet not in wb.sheetnames:
            raise XlsxError(f"{path.name}: has no sheet {sheet!r} (it has {', '.join(map(repr, wb.sheetnames))})")
        ws = wb[sheet]
        ws.reset_dimensions()  # trust the cells, not the dimension a writer recorded
        rows = list(ws.iter_rows(max_row=MAX_ROWS + FIRST + 1, max_col=14, values_only=True))
        return Values(path.name, sheet, rows)
    except XlsxError:
        raise
    except Exception as exc:
        raise XlsxError(f"{path.name}: damaged or not an Excel workbook ({reason(exc)})") from exc
    finally:
        wb.close()


class _Formulas:
    """The top rows' formulas, read only if some top cell was never calculated."""

    def __init__(self, path: Path, sheet: str) -> None:
        self.path, self.sheet, self.rows = path, sheet, None

    def get(self, row: int, col: int):
        if self.rows is None:
            wb = openpyxl.load_workbook(self.path, read_only=True, keep_vba=False)
            try:
                ws = wb[self.sheet]
                ws.reset_dimensions()
                self.rows = list(ws.iter_rows(max_row=HEADER_ROW, max_col=14, values_only=True))
            finally:
                wb.close()
        line = self.rows[row - 1] if row <= len(self.rows) else ()
        return line[col - 1] if col <= len(line) else None


def _complement(values: Values, formulas: _Formulas, r: int, c: int, beta: float) -> None:
    """1 − β right of β: as a number (calculated) or as the formula =1-β (not yet calculated)."""
    cached, want = values.get(r, c + 1), f"1 − {a1(r, c)} = {1 - beta:.15g}"
    if cached is None:
        formula = formulas.get(r, c + 1)
        if isinstance(formula, str) and re.sub(r"[\s$]", "", formula).upper() == f"=1-{a1(r, c)}":
            return
        raise values.fail(r, c + 1, f"should be {want}, found {show(formula)}")
    if not _is_number(cached) or abs(cached - (1 - beta)) > 1e-12:
        raise values.fail(r, c + 1, f"should be {want}, found {show(cached)}")


def _cached(values: Values, lay: Layout) -> tuple[np.ndarray | None, float | None]:
    """The rows' formula cells as last calculated, and the "rmse" cell; (None, None) if never calculated."""
    rows = np.full(lay.n, np.nan, dtype=ROW)
    seen = False
    for field, c in lay.columns.items():
        for i in range(lay.n):
            value = values.get(FIRST + i, c)
            if _is_number(value):
                rows[field][i] = value
                seen = seen or field not in ("x", "y")
    if not seen:
        return None, None
    rmse = None
    r, c = lay.rmse_cell
    if str(values.get(r, c - 1) or "").strip().lower() == "rmse" and _is_number(values.get(r, c)):
        rmse = float(values.get(r, c))
    return rows, rmse


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
