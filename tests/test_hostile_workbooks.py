"""Workbooks built to make the openpyxl-based readers (the course's collab sheets, graddesc.xlsm) read for minutes or
gigabytes: each is answered in one line, before openpyxl reads a sheet cell by cell."""
import zipfile
from pathlib import Path

import pytest

from collabsheet.engine.cli import main as cli
from collabsheet.engine.xlsx import bounds

PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet'
    '+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="adam" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def workbook(path: Path, rows: str) -> Path:
    """A one-sheet workbook ("adam") of these <row> elements, with no recorded dimension (openpyxl would scan it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in PARTS.items():
            zf.writestr(name, text)
        zf.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                    'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + rows + "</sheetData></worksheet>")
    return path


def run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    return code, err


@pytest.mark.parametrize("command", [("import",), ("graddesc", "--sheet", "adam", "--workbook")],
                         ids=["lesson", "graddesc"])
def test_a_sheet_of_too_many_cells_is_refused_before_it_is_read(capsys, tmp_path, monkeypatch, command) -> None:
    monkeypatch.setattr(bounds, "MAX_CELLS", 5_000)  # the mechanism, at a size a test builds in milliseconds
    rows = "".join(f'<row r="{i}">' + "".join(f'<c r="{c}{i}"><v>1</v></c>' for c in "ABCDEFGH") + "</row>"
                   for i in range(1, 1_001))
    path = workbook(tmp_path / "many.xlsx", rows)
    code, err = run(capsys, *command, str(path))
    assert code == 2 and err == ("collabsheet: many.xlsx: xl/worksheets/sheet1.xml holds more than 5,000 cells; "
                                 "the lesson's workbooks hold a few thousand a sheet\n")


@pytest.mark.parametrize("command", [("import",), ("graddesc", "--sheet", "adam", "--workbook")],
                         ids=["lesson", "graddesc"])
def test_sixty_thousand_rows_of_one_cell_in_column_xfd_is_one_line(capsys, tmp_path, command) -> None:
    rows = "".join(f'<row r="{i}"><c r="XFD{i}"><v>1</v></c></row>' for i in range(1, 60_001))
    path = workbook(tmp_path / "xfd.xlsx", rows)
    code, err = run(capsys, *command, str(path))
    assert code == 2 and err.startswith("collabsheet: xfd.xlsx: ")


def test_cells_are_counted_across_the_reads_seams(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(bounds, "MAX_CELLS", 100_000)
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 100_002))  # > 1 MiB of XML
    with pytest.raises(bounds.XlsxError, match="more than 100,000 cells"):
        bounds.check_cells(workbook(tmp_path / "edge.xlsx", rows))
    monkeypatch.setattr(bounds, "MAX_CELLS", 100_001)
    bounds.check_cells(workbook(tmp_path / "edge.xlsx", rows))  # exactly at the bound: taken
