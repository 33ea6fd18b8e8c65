"""The Gradient descent runner's Excel commands (Qt-free; worker thread): open the lesson's workbook, export one.

openpyxl is slow to import, so engine.xlsx.graddesc is imported on first use, in the worker. A workbook's macros
are never read, let alone run.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from collabsheet.engine.graddesc import LABELS, RULES, GradDesc, Settings

if TYPE_CHECKING:
    from collabsheet.gui.graddesc.runner import GradDescRunner


def xlsx_graddesc():
    """collabsheet.engine.xlsx.graddesc, imported on first use in the worker (openpyxl is slow to import)."""
    from collabsheet.engine.xlsx import graddesc

    return graddesc


def optimizer_sheets(path: str | Path) -> list[str]:
    """The sheets of a workbook named for an optimizer (basic, momentum, adam …), in the workbook's order."""
    import openpyxl

    from collabsheet.engine.xlsx.errors import XlsxError
    from collabsheet.engine.xlsx.graddesc import rule_of_sheet
    from collabsheet.engine.xlsx.package import check_package, reason

    path = Path(path)
    check_package(path, macros=True)  # a .xlsm's macros are never read, let alone run
    try:
        wb = openpyxl.load_workbook(path, read_only=True, keep_vba=False)
        names = list(wb.sheetnames)
        wb.close()
    except Exception as exc:  # openpyxl and its XML parser raise many kinds on damaged parts
        raise XlsxError(f"{path.name}: damaged or not an Excel workbook ({reason(exc)})") from exc
    found = [name for name in names if rule_of_sheet(name) is not None]
    if not found:
        raise XlsxError(f"{path.name}: no sheet is named for an optimizer (basic, momentum, rmsprop, adam …); "
                        f"it has {', '.join(map(repr, names))}")
    return found


class XlsxCommands:
    """Mixed into GradDescRunner: `self` is the runner, with its run, data and start."""

    titles = {"open_workbook": "Could not open the workbook", "export": "Export to Excel"}

    def open_workbook(self: GradDescRunner, path: str, sheet: str | None = None) -> None:
        """A sheet of a workbook laid out like graddesc.xlsm; its epoch fills the table. Macros never run.

        With no sheet named: the only optimizer sheet, or a choose_sheet event (path, names, default) to ask which.
        """
        module = xlsx_graddesc()
        if sheet is None:
            names = optimizer_sheets(path)
            if len(names) > 1:  # ask which, the current optimizer's sheet proposed
                mine = [name for name in names if module.rule_of_sheet(name) == self.run.settings.rule]
                self.emit("choose_sheet", path, names, (mine or names)[0])
                return
            sheet = names[0]
        book = module.read_graddesc(path, sheet)
        gap = book.difference()
        self._use(book.data, book.graddesc())
        self.run_epoch()  # the workbook's rows, as the engine computes them
        text = f"Opened {book.book} · {book.sheet} ({LABELS[book.rule]}, {len(book.data)} rows)"
        if gap is None:
            text += ": never calculated, so nothing to compare with"
        else:
            text += f": one epoch matches its cached rows to {gap[0]:.1e} (largest at {gap[1]})"
        self.emit("notice", text)

    def export(self: GradDescRunner, path: str) -> None:
        """One sheet of the lesson's formulas per optimizer: this run's epoch, the others' from the same start."""
        h = self.run.settings
        if h.variant != "lesson":
            raise ValueError("the workbook holds the lesson's formulas: the library variant has no sheet; "
                             "choose the lesson variant to export")
        module = xlsx_graddesc()
        shown = self.run.epoch + (0 < len(self.run.rows()) < len(self.data))  # the epoch the table shows
        runs = []
        for rule in RULES:
            if rule == h.rule:
                runs.append(self.run)
                continue
            other = GradDesc(self.data, Settings.lesson(rule, start_b=self._origin[0], start_a=self._origin[1]))
            other.run(shown)
            runs.append(other)
        module.export_graddesc(runs, path)
        self.emit("notice", f"Saved {path}: a sheet per optimizer, each showing epoch {max(shown, 1)}")
