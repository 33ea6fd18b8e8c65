"""Export: the sheet written as a workbook with live formulas and Solver's settings."""
from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Iterable

import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName

from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.models import factorization
from collabsheet.engine.sheet.snapshot import Snapshot
from collabsheet.engine.xlsx.cells import Cells, look
from collabsheet.engine.xlsx.save import check_target, save_workbook
from collabsheet.engine.xlsx.collab.layout import (
    ENGINE, FIELDS_TOP, FILLS, FORMAT, LABELS, MARKER, OPTIMIZER, PREDICTIONS_LABEL, SHEET, SOLVER_OPTIONS, STATE_BLOCKS,
    Layout, a1,
)


def _styles(ws) -> dict:
    """Named cell looks, each one shared style array."""
    out = {"label": look(ws, bold=True, align="left"), "title": look(ws, bold=True, wrap=True, align="center"),
           "id": look(ws, bold=True, align="center"),
           "note": look(ws, colour="666666"), "value": look(ws), "loss": look(ws, FILLS["loss"], True, "0.000000")}
    for block, fmt in (("rating", "0.0##"), ("prediction", "0.000"), ("movie", "0.000"),
                       ("user", "0.000"), ("bias", "0.000")):
        out[block] = look(ws, FILLS[block], fmt=fmt)
        out[block + " label"] = look(ws, FILLS[block], bold=True)
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
    dot = f"MMULT(${u0}{{p}}:${u1}{{p}},{{c}}${lay.factor_row(0)}:{{c}}${lay.factor_row(lay.k - 1)})"
    biases = (f"${get_column_letter(lay.bias_col)}{{p}}", f"{{c}}${lay.movie_bias_row}") if lay.biases else (None, None)
    squash_range = (a1(lay.loss_row, lay.low_col, True), a1(lay.loss_row, lay.high_col, True)) if squash else None
    x = factorization.spreadsheet_formula(dot, *biases, squash_range)
    return f'=IF({{c}}{{r}}="",0,{x})'


def _write_sheet(ws, cells: Cells, snap: Snapshot, lay: Layout) -> None:
    n, m, k = lay.n, lay.m, lay.k
    p = snap.params
    cells.put(1, 1, f"collabsheet · {snap.dataset or 'ratings'} · {n} users × {m} movies · k = {k}"
              + (" · biases" if snap.biases else "") + (" · squashed" if snap.squash else ""), "label", text=True)
    first, last = lay.movie_col(0), lay.movie_col(m - 1)
    ratings = f"{a1(lay.rating_row(0), first, True)}:{a1(lay.rating_row(n - 1), last, True)}"
    preds = f"{a1(lay.prediction_row(0), first, True)}:{a1(lay.prediction_row(n - 1), last, True)}"
    cells.put(lay.loss_row, 1, "Loss (RMSE)", "loss", text=True)
    cells.formula(lay.loss_row, lay.loss_col, f"=SQRT(SUMXMY2({ratings},{preds})/COUNT({ratings}))", "loss")
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
        cells.formula(pr, 1, f"=$A{r}", "id")  # one place to edit an id
        for f in range(k):
            cells.put(pr, lay.user_col(f), p["user_factors"][i, f], "user")
        if snap.biases:
            cells.put(pr, lay.bias_col, p["user_bias"][i], "bias")
        for j in range(m):
            col = lay.movie_col(j)
            cells.put(r, col, None if np.isnan(snap.ratings[i, j]) else snap.ratings[i, j], "rating")
            cells.formula(pr, col, formula.format(c=letters[j], r=r, p=pr), "prediction")

    ws.column_dimensions["A"].width = 14
    for f in range(k + snap.biases):
        ws.column_dimensions[get_column_letter(2 + f)].width = 9
    for j in range(m):
        ws.column_dimensions[get_column_letter(lay.movie_col(j))].width = 13
    ws.row_dimensions[lay.title_row].height = 48
    # Freeze the id and title rows; freeze the user-factor columns too while they fit on a screen.
    ws.freeze_panes = a1(lay.ratings_label_row, first if k + snap.biases <= 10 else 2)


class _Formula(str):
    """A formula this module wrote, as opposed to text (a dataset's name may start with '=' too)."""


def _engine_fields(snap: Snapshot, lay: Layout) -> list[tuple[str, object, str]]:
    """The Engine sheet's label, value, note rows (a _Formula value is written as a formula, all else as values)."""
    rows: list[tuple[str, object, str]] = [
        ("Dataset", snap.dataset, ""),
        ("Exported", datetime.now().isoformat(timespec="seconds"), "when this workbook was written"),
        ("Device", snap.device, "where the engine computed"),
        ("Users", lay.n, ""), ("Movies", lay.m, ""), ("Factors k", lay.k, ""),
        ("Biases", snap.biases, "a bias per user and per movie"),
        ("Squash", snap.squash, "sigmoid into the y range"),
        ("Seed", snap.seed, "seed of the initial factors"),
        ("Step", snap.step, "updates applied since reset"),
        ("Optimizer t", snap.optimizer_state.get("t", 0), "Adam's step count for its bias correction"),
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
        ("Workbook loss (RMSE)", _Formula(f"={lay.loss_cell}"),
         "the Sheet's loss cell, recalculated by the spreadsheet"),
        ("Workbook − engine", _Formula(f"=B{engine + 1}-B{engine}"),
         "negative when the spreadsheet found a lower loss"),
    ]
    return rows


def _write_engine(ws, cells: Cells, snap: Snapshot, lay: Layout) -> None:
    cells.put(1, 1, MARKER, "label", text=True)
    cells.put(1, 2, FORMAT, "value")
    cells.put(1, 3, "The engine's side, as values; the Sheet's formulas recalculate in the spreadsheet.", "note",
              text=True)
    table = _engine_fields(snap, lay)
    for r, (label, value, note) in enumerate(table, start=FIELDS_TOP):
        style = "loss" if "loss" in label else "value"
        cells.put(r, 1, label, "label", text=True)
        if isinstance(value, _Formula):
            cells.formula(r, 2, value, style)
        else:
            cells.put(r, 2, value, style)  # text, whatever it starts with; numbers and flags as values
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
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = SHEET
    styles = _styles(sheet)
    _write_sheet(sheet, Cells(sheet, styles), snap, lay)
    _solver_names(sheet, snap, lay)
    engine = wb.create_sheet(ENGINE)
    _write_engine(engine, Cells(engine, styles), snap, lay)
    averages = {key: value for key, value in snap.optimizer_state.items() if key != "t"}
    if averages:
        state = wb.create_sheet(OPTIMIZER)
        _write_optimizer(state, Cells(state, styles), snap, averages)
    return wb


def _write_optimizer(ws, cells: Cells, snap: Snapshot, averages: dict) -> None:
    """The optimizer's running averages, one row per parameter in θ's order, so an import continues exactly."""
    names = sorted(averages)
    for c, label in enumerate(["parameter", "index", *names], start=1):
        cells.put(1, c, label, "label", text=True)
    row = 2
    for block in STATE_BLOCKS:
        if snap.params.get(block) is None:
            continue
        for index in np.ndindex(snap.params[block].shape):
            cells.put(row, 1, block, "note", text=True)
            cells.put(row, 2, ",".join(map(str, index)), "note", text=True)
            for c, name in enumerate(names, start=3):
                cells.put(row, c, averages[name][block][index], "value")
            row += 1
    ws.column_dimensions["A"].width = 14
    ws.freeze_panes = "C2"


def export_xlsx(snapshot: Snapshot, path: str | Path, keep: Iterable[str | Path] = ()) -> None:
    """Write the sheet as an .xlsx workbook whose formulas and Solver settings reproduce the engine's model.

    path must be a new or regular .xlsx file and none of the files in keep (such as the ratings it was made from).
    """
    Layout(len(snapshot.user_ids), len(snapshot.item_ids), snapshot.k, snapshot.biases).check_size()
    check_target(path, keep)  # before the work of building the workbook
    save_workbook(_workbook(snapshot), path, keep)
