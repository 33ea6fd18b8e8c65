"""The course's bias sheet as collab_filter.xlsx lays it out: biases added after the IF, blanks skipped by the loss.

Built here (no LibreOffice needed): ratings H2:V16 with user ids in G and movie ids in row 1, movie biases in
row 19 over movie factors H20:V24, user biases in A26:A40 beside user factors B26:F40, predictions H26:V40 =
IF(H2="",0,MMULT($B26:$F26,H$20:H$24))+H$19+$A26, and the loss cached as a spreadsheet saves it.
"""
from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter as col

from collabsheet.engine.cli.main import main
from collabsheet.engine.xlsx.lesson import import_lesson, list_collab_sheets

LOSS_CELL = "X26"


def course_bias(wb: openpyxl.Workbook, title: str, seed: int, order: str = "movie+user", inside: bool = False) -> float:
    """Write the bias sheet; return its loss as the spreadsheet computes it (blank ratings skipped)."""
    rng = np.random.default_rng(seed)
    ws = wb.create_sheet(title)
    ratings = rng.integers(1, 11, (15, 15)) / 2.0
    ratings[rng.random((15, 15)) < 0.3] = np.nan
    users, movies = rng.choice(np.arange(1, 700), 15, replace=False), rng.choice(np.arange(1, 1700), 15, replace=False)
    uf, mf = rng.random((15, 5)), rng.random((5, 15))
    ub, mb = rng.random(15) - 0.5, rng.random(15) - 0.5
    for j in range(15):
        ws.cell(1, 8 + j).value = int(movies[j])
        ws.cell(19, 8 + j).value = float(mb[j])
        for f in range(5):
            ws.cell(20 + f, 8 + j).value = float(mf[f, j])
    for i in range(15):
        ws.cell(2 + i, 7).value = int(users[i])
        ws.cell(26 + i, 1).value = float(ub[i])
        for f in range(5):
            ws.cell(26 + i, 2 + f).value = float(uf[i, f])
        for j in range(15):
            if not np.isnan(ratings[i, j]):
                ws.cell(2 + i, 8 + j).value = float(ratings[i, j])
            c = col(8 + j)
            terms = {"movie": f"+{c}$19", "user": f"+$A{26 + i}"}
            extra = "".join(terms[t] for t in order.split("+"))
            product = f"MMULT($B{26 + i}:$F{26 + i},{c}$20:{c}$24)"
            ws.cell(26 + i, 8 + j).value = (f'=IF({c}{2 + i}="",0,{product}{extra})' if inside
                                            else f'=IF({c}{2 + i}="",0,{product}){extra}')
    ws[LOSS_CELL] = "=SQRT(SUMXMY2(H2:V16,H26:V40)/COUNT(H2:V16))"
    pred = uf @ mf + ub[:, None] + mb[None, :]
    rated = ~np.isnan(ratings)
    return math.sqrt(float(np.sum((ratings[rated] - pred[rated]) ** 2)) / rated.sum())


def with_cached(path: Path, sheet_index: int, cell: str, value: float) -> None:
    """Give one formula cell the value a spreadsheet would have saved with it."""
    part = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    xml = items[part].decode()
    xml, n = re.subn(rf'(<c r="{cell}"[^>]*>\s*<f>[^<]*</f>)\s*(<v\s*/>|<v>\s*</v>)?', rf"\1<v>{value!r}</v>", xml)
    assert n == 1
    items[part] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items.items():
            z.writestr(name, data)


@pytest.fixture
def course(tmp_path) -> tuple[Path, dict[str, float]]:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    losses = {"dotprod": course_bias(wb, "inside", 1, inside=True), "bias": course_bias(wb, "bias", 2)}
    path = tmp_path / "collab_filter.xlsx"
    wb.save(path)
    with_cached(path, 1, LOSS_CELL, losses["dotprod"])
    with_cached(path, 2, LOSS_CELL, losses["bias"])
    return path, losses


def test_biases_after_the_if_import_and_the_engines_loss_equals_the_cached_one(course):
    path, losses = course
    book = import_lesson(path, "bias")
    assert book.config.biases and book.notes == ()
    assert book.workbook_loss == losses["bias"]
    assert abs(book.engine_loss - book.workbook_loss) <= 1e-12
    assert abs(book.to_sheet("cpu").rmse() - losses["bias"]) <= 1e-12
    assert list_collab_sheets(path) == ["inside", "bias"]  # what the window's chooser offers


@pytest.mark.parametrize("order", ["movie+user", "user+movie"])
def test_either_order_outside_the_if(tmp_path, order):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    loss = course_bias(wb, "bias", 3, order=order)
    path = tmp_path / "b.xlsx"
    wb.save(path)
    with_cached(path, 1, LOSS_CELL, loss)
    book = import_lesson(path)
    assert abs(book.engine_loss - loss) <= 1e-12 and book.workbook_loss == loss


def test_import_solve_prints_the_three_losses(course, capsys):
    path, losses = course
    assert main(["import", str(path), "--sheet", "bias", "--solve"]) == 0
    out = capsys.readouterr().out
    assert f"workbook loss (RMSE): {losses['bias']:.9f}" in out
    assert f"engine loss (RMSE):   {losses['bias']:.9f}" in out
    solved = float(re.search(r"solved loss \(RMSE\):\s+([0-9.]+)", out).group(1))
    assert solved < losses["bias"] / 2  # 15×15 with k = 5 and biases fits far closer than random factors
