"""Reading a gradient-descent sheet back: our export as written, macros ignored, and every misfit named by its cell."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from numpy.lib.recfunctions import structured_to_unstructured as table

from collabsheet.engine.graddesc import AVERAGES, RULES, GradDesc, Settings, lesson_data
from collabsheet.engine.xlsx.errors import XlsxError
from collabsheet.engine.xlsx.graddesc import SHEETS, export_graddesc, read_graddesc, rule_of_sheet
from collabsheet.engine.xlsx.package import check_package


def lesson_runs(epochs: int = 3, rows: int = 29) -> list[GradDesc]:
    runs = []
    for rule in RULES:
        run = GradDesc(lesson_data(rows=rows, noise=2.0), Settings.lesson(rule))
        run.run(26 if rule == "adam_ann" else epochs)  # adam_ann: past its first annealing (after epoch 25)
        runs.append(run)
    return runs


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, list[GradDesc]]:
    runs = lesson_runs()
    path = tmp_path_factory.mktemp("graddesc") / "graddesc.xlsx"
    export_graddesc(runs, path)
    return path, runs


def as_xlsm(src: Path, dst: Path) -> Path:
    """src repackaged as a macro-enabled workbook with a VBA part (bytes no reader should ever run)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Override PartName="/xl/vbaProject.bin" '
                                    b'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVBA" Type="http://schemas.microsoft'
                                    b'.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                                    b"</Relationships>")
            zout.writestr(item, data)
        zout.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return dst


@pytest.mark.parametrize("rule", RULES)
def test_uncalculated_export_opens_back_exactly(exported, rule):
    path, runs = exported
    run = next(r for r in runs if r.settings.rule == rule)
    book = read_graddesc(path, SHEETS[rule])
    assert book.rule == rule and book.cached is None and book.difference() is None  # openpyxl caches no values
    assert book.settings == run.settings  # lr, β's and weight decay from their cells
    top = run.top
    assert book.carry.p.tolist() == top.p.tolist() and book.carry.lr == top.lr and book.carry.best == top.best
    for kind in AVERAGES[rule]:  # row 3's carried averages
        assert getattr(book.carry, kind).tolist() == getattr(top, kind).tolist()
    np.testing.assert_array_equal(book.data.x, run.data.x)
    again = book.graddesc()
    again.run_epoch()  # the sheet's epoch, from its top cells: the same rows to the bit
    np.testing.assert_array_equal(table(again.rows()), table(run.rows()))


def test_adam_ann_sheet_carries_the_annealed_lr_and_best(exported):
    path, runs = exported
    run = next(r for r in runs if r.settings.rule == "adam_ann")
    assert run.top.lr < 1.0 and np.isfinite(run.top.best)  # the export shows an epoch after annealing
    book = read_graddesc(path, "adam_ann")
    assert (book.carry.lr, book.carry.best) == (run.top.lr, run.top.best)


def test_macros_are_ignored_never_refused_nor_run(exported, tmp_path):
    path, runs = exported
    xlsm = as_xlsm(path, tmp_path / "graddesc.xlsm")
    with pytest.raises(XlsxError, match="contains macros"):
        check_package(xlsm)  # what the collab importer still says
    check_package(xlsm, macros=True)
    book = read_graddesc(xlsm, "momentum")
    assert book.settings == runs[1].settings


def test_sheet_names_say_the_rule():
    names = {"basic": "sgd", "basic SGD": "sgd", "Momentum": "momentum", "RMSProp": "rmsprop", "adam": "adam",
             "Adam annealing": "adam_ann", "adam_ann": "adam_ann", "AdamW": "adamw", "adam_l2": "adam_l2",
             "Adam + L2": "adam_l2", "data": None, "Sheet1": None}
    assert {name: rule_of_sheet(name) for name in names} == names


def broken(exported, tmp_path: Path, sheet: str, cells: dict, name: str = "bad.xlsx") -> Path:
    src, _ = exported
    wb = openpyxl.load_workbook(src)
    for ref, value in cells.items():
        wb[sheet][ref] = value
    out = tmp_path / name
    wb.save(out)
    return out


@pytest.mark.parametrize("sheet, cells, message", [
    ("basic", {"A3": "slope"},
     "basic!A3 should read 'x' (the header row), found 'slope'; is this a gradient-descent sheet?"),
    ("momentum", {"C1": "one"}, "momentum!C1 should be a number, found 'one'"),
    ("momentum", {"D2": 0}, "momentum!D2 should be a positive learning rate, found 0"),
    ("basic", {"F1": None}, "basic!F1 should be a number, found a blank cell"),
    ("momentum", {"K1": "=1-J2"}, "momentum!K1 should be 1 − J1 = 0.1, found '=1-J2'"),
    ("momentum", {"K1": 0.2}, "momentum!K1 should be 1 − J1 = 0.1, found 0.2"),
    ("adam", {"L1": 1.5}, "adam!L1 should be a β in [0, 1), found 1.5"),
    ("adam", {"L3": -4.0}, "adam!L3 should be a squared average (≥ 0), found -4"),
    ("adamw", {"N1": "big"}, "adamw!N1 should be a number, found 'big'"),
    ("adam_ann", {"N3": -1}, "adam_ann!N3 should be the best √L+√M so far (≥ 0) or blank, found -1"),
    ("rmsprop", {"A4": None}, "rmsprop!A4 should be the first row's x, found a blank cell"),
    ("rmsprop", {"B10": "y?"}, "rmsprop!B10 should be a number, found 'y?'"),
])
def test_a_sheet_that_does_not_fit_names_the_cell(exported, tmp_path, sheet, cells, message):
    path = broken(exported, tmp_path, sheet, cells)
    with pytest.raises(XlsxError) as info:
        read_graddesc(path, sheet)
    assert str(info.value) == f"bad.xlsx: {message}"


def test_inserted_rows_are_noticed(exported, tmp_path):
    src, _ = exported
    wb = openpyxl.load_workbook(src)
    wb["adam"].insert_rows(2)
    wb.save(tmp_path / "moved.xlsx")
    with pytest.raises(XlsxError, match=r"adam!A3 should read 'x' \(the header row\), found a blank cell"):
        read_graddesc(tmp_path / "moved.xlsx", "adam")


def test_sheet_and_file_problems(exported, tmp_path):
    path, _ = exported
    with pytest.raises(XlsxError, match="graddesc.xlsx: has no sheet 'Adam' \\(it has 'data', 'basic', "):
        read_graddesc(path, "Adam")
    renamed = tmp_path / "renamed.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["momentum"].title = "my sheet"
    wb.save(renamed)
    with pytest.raises(XlsxError, match="sheet 'my sheet' is not named for an optimizer .*--optimizer"):
        read_graddesc(renamed, "my sheet")
    assert read_graddesc(renamed, "my sheet", rule="momentum").rule == "momentum"
    with pytest.raises(XlsxError, match="unknown optimizer 'nag'"):
        read_graddesc(renamed, "my sheet", rule="nag")
    text = tmp_path / "notes.xlsx"
    text.write_text("x,y\n1,2\n")
    with pytest.raises(XlsxError, match="notes.xlsx: not an Excel workbook"):
        read_graddesc(text, "basic")
    with pytest.raises(XlsxError, match="missing.xlsm: no such file"):
        read_graddesc(tmp_path / "missing.xlsm", "basic")


def test_export_refuses_what_has_no_sheet(tmp_path):
    library = GradDesc(lesson_data(), Settings.lesson("adam", "library"))
    with pytest.raises(XlsxError, match="adam's library variant has no sheet"):
        export_graddesc([library], tmp_path / "out.xlsx")
    twice = [GradDesc(lesson_data(), Settings.lesson("sgd")) for _ in range(2)]
    with pytest.raises(XlsxError, match="two runs of sgd"):
        export_graddesc(twice, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()
