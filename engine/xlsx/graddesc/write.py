"""Export: each optimizer's epoch as a sheet of the lesson's formulas, every row computed by the spreadsheet."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter as col

from collabsheet.engine.graddesc.run import GradDesc
from collabsheet.engine.xlsx.cells import Cells, look
from collabsheet.engine.xlsx.errors import XlsxError, a1
from collabsheet.engine.xlsx.graddesc.layout import A_CELL, B_CELL, DATA_SHEET, FIRST, HEADER_ROW, SHEETS, Layout
from collabsheet.engine.xlsx.save import save_workbook

FILLS = {"data": "DDEBF7", "param": "FCE4D6", "grad": "E2EFDA", "new": "E4DFEC", "average": "FFF2CC",
         "setting": "EDEDED"}


def _styles(ws) -> dict:
    out = {"label": look(ws, bold=True), "title": look(ws, bold=True, align="left")}
    for block, fill in FILLS.items():
        out[block] = look(ws, fill)
        out[block + " label"] = look(ws, fill, bold=True, align="center")
    return out


def _abs(cell: tuple[int, int]) -> str:
    return a1(*cell, absolute=True)


def row_formulas(lay: Layout, r: int, nudge: float = 0.01) -> dict[int, str]:
    """Row r's formulas by column, written as the lesson's workbook writes them."""
    lr, p = _abs(lay.lr_cell), r - 1
    if lay.basic:
        b, a = ("=$C$1", "=$C$2") if r == FIRST else (f"=N{p}", f"=M{p}")
        d = f"{nudge!r}"
        return {3: b, 4: a, 5: f"=C{r}+D{r}*A{r}", 6: f"=(B{r}-E{r})^2",
                7: f"=(B{r}-(C{r}+{d}+D{r}*A{r}))^2", 8: f"=(G{r}-F{r})/{d}",
                9: f"=(B{r}-(C{r}+(D{r}+{d})*A{r}))^2", 10: f"=(I{r}-F{r})/{d}",
                11: f"=2*(E{r}-B{r})", 12: f"=K{r}*A{r}", 13: f"=D{r}-{lr}*L{r}", 14: f"=C{r}-{lr}*K{r}"}
    out = {3: "=$C$1" if r == FIRST else f"=H{p}", 4: "=$C$2" if r == FIRST else f"=I{p}",
           5: f"=C{r}+D{r}*A{r}"}
    if lay.rule == "adam_l2":  # L2 in the loss: its gradient carries wd·b and wd·a
        out[6] = f"=2*(D{r}*A{r}+C{r}-B{r})+$N$1*C{r}"
        out[7] = f"=2*(D{r}*A{r}+C{r}-B{r})*A{r}+$N$1*D{r}"
    else:
        out[6], out[7] = f"=2*(D{r}*A{r}+C{r}-B{r})", f"=F{r}*A{r}"
    if lay.rule == "momentum":
        out[10], out[11] = f"=$J$1*J{p}+$K$1*F{r}", f"=$J$1*K{p}+$K$1*G{r}"
        out[8], out[9] = f"=C{r}-{lr}*J{r}", f"=D{r}-{lr}*K{r}"
    elif lay.rule == "rmsprop":  # divides by the previous row's average
        out[10], out[11] = f"=$J$1*J{p}+$K$1*F{r}^2", f"=$J$1*K{p}+$K$1*G{r}^2"
        out[8], out[9] = f"=C{r}-{lr}*F{r}/SQRT(J{p})", f"=D{r}-{lr}*G{r}/SQRT(K{p})"
    else:  # the Adams: momentum's averages in J, K, the squared ones in L, M, divided by this row's
        out[10], out[11] = f"=$J$1*J{p}+$K$1*F{r}", f"=$J$1*K{p}+$K$1*G{r}"
        out[12], out[13] = f"=$L$1*L{p}+$M$1*F{r}^2", f"=$L$1*M{p}+$M$1*G{r}^2"
        shrink = f"*(1-{lr}*$N$1)" if lay.rule == "adamw" else ""
        out[8], out[9] = f"=C{r}{shrink}-{lr}*J{r}/SQRT(L{r})", f"=D{r}{shrink}-{lr}*K{r}/SQRT(M{r})"
    return out


def _write_sheet(ws, run: GradDesc) -> None:
    h, top, data = run.settings, run.top, run.data
    lay = Layout(h.rule, len(data))
    cells = Cells(ws, _styles(ws))
    cells.put(1, 1, f"{h.label} · lesson formulas", "title", text=True)
    cells.put(B_CELL[0], 2, "b", "param label", text=True)
    cells.put(A_CELL[0], 2, "a", "param label", text=True)
    cells.put(*B_CELL, float(top.p[0]), "param")
    cells.put(*A_CELL, float(top.p[1]), "param")
    lr_row, lr_col = lay.lr_cell
    cells.put(lr_row if lay.basic else lr_row - 1, lr_col - 1 if lay.basic else lr_col, "lr", "setting label",
              text=True)
    cells.put(lr_row, lr_col, float(top.lr), "setting")
    for field, (r, c) in lay.betas.items():
        name = {"beta1": "β1", "beta2": "β2"}[field] if len(lay.betas) == 2 else "β"
        cells.put(r, c, float(getattr(h, field)), "setting")
        cells.formula(r, c + 1, f"=1-{a1(r, c)}", "setting")
        cells.put(r + 1, c, name, "setting label", text=True)
        cells.put(r + 1, c + 1, f"1-{name}", "setting label", text=True)
    if lay.wd_cell:
        cells.put(*lay.wd_cell, float(h.weight_decay), "setting")
        cells.put(lay.wd_cell[0] + 1, lay.wd_cell[1], "wd", "setting label", text=True)
    if lay.best_cell:
        cells.put(lay.best_cell[0] - 1, lay.best_cell[1], "best √L+√M", "setting label", text=True)
        if np.isfinite(top.best):  # blank until an epoch has set it
            cells.put(*lay.best_cell, float(top.best), "setting")
    for c, label in enumerate(lay.header, start=1):
        block = "data" if c <= 2 else "param" if c <= 4 else "new" if label.startswith("new") else "grad"
        cells.put(HEADER_ROW, c, label, block + " label", text=True)
    carried = {"m_b": top.m[0], "m_a": top.m[1], "v_b": top.v[0], "v_a": top.v[1]}
    for field, c in lay.averages.items():
        cells.put(HEADER_ROW, c, float(carried[field]), "average")
    styles = {c: ("param" if c in (3, 4) else "new" if lay.header[c - 1].startswith("new") else "grad")
              for c in range(3, len(lay.header) + 1)}
    styles.update({c: "average" for c in lay.averages.values()})
    for i in range(lay.n):
        r = FIRST + i
        cells.put(r, 1, float(data.x[i]), "data")
        cells.put(r, 2, float(data.y[i]), "data")
        for c, formula in row_formulas(lay, r, h.nudge).items():
            cells.formula(r, c, formula, styles[c])
    rr, rc = lay.rmse_cell
    cells.put(rr, rc - 1, "rmse", "label", text=True)
    total = f"SUM(F{FIRST}:F{lay.last})" if lay.basic else f"SUMXMY2(B{FIRST}:B{lay.last},E{FIRST}:E{lay.last})"
    cells.formula(rr, rc, f"=SQRT({total})", "label")
    ws.freeze_panes = ws.cell(FIRST, 1)
    for c in range(1, 15):
        ws.column_dimensions[col(c)].width = 13


def _write_data(ws, run: GradDesc) -> None:
    cells = Cells(ws, _styles(ws))
    cells.put(1, 1, "x", "data label", text=True)
    cells.put(1, 2, "y", "data label", text=True)
    cells.put(1, 4, run.data.name, "title", text=True)
    for i, (x, y) in enumerate(zip(run.data.x, run.data.y)):
        cells.put(2 + i, 1, float(x), "data")
        cells.put(2 + i, 2, float(y), "data")


def export_graddesc(runs: Sequence[GradDesc], path: str | Path) -> None:
    """Write each run's epoch shown (from its top cells) as its optimizer's sheet, after a data sheet."""
    path = Path(path)
    if not runs:
        raise XlsxError(f"{path.name}: nothing to write (no optimizer runs given)")
    seen = set()
    for run in runs:
        h = run.settings
        if h.variant != "lesson":
            raise XlsxError(f"{path.name}: {h.rule}'s library variant has no sheet; the workbook holds the "
                            "lesson's formulas (use --variant lesson)")
        if h.rule in seen:
            raise XlsxError(f"{path.name}: two runs of {h.rule}; a workbook holds one sheet per optimizer")
        seen.add(h.rule)
    wb = openpyxl.Workbook()
    _write_data(wb.active, runs[0])
    wb.active.title = DATA_SHEET
    for run in runs:
        _write_sheet(wb.create_sheet(SHEETS[run.settings.rule]), run)
    save_workbook(wb, path)
