"""The lesson's gradient-descent workbook (graddesc.xlsm): y = a·x + b learned row by row, Qt-free.

Entry points (all plain numpy out):
- Settings, Settings.lesson(rule, variant): rule (RULES), variant ("lesson" formulas or "library" =
  torch.optim's), lr, β1, β2, ε, weight decay, start b and a; LABELS, USES, AVERAGES for the controls.
- Data, lesson_data(rows=29, seed, a=2, b=30, noise), read_csv(path): the (x, y) rows; DataError.
- GradDesc(data, settings): step_row(), run_epoch(), run(epochs), reset(), configure(settings),
  rows() (structured array, fields FIELDS, the epoch shown; columns(rule) orders them for a table, each
  estimate beside its derivative, HEADINGS names them), path() ((a, b) after every row),
  history() (a, b, "rmse", lr per epoch), state_dict() / load_state_dict(), top (the epoch's top cells).
- loss_surface(data, a_grid, b_grid): the MEAN squared error over an (a, b) grid; least_squares(data).
- paths(data, [settings…], epochs, start): several optimizers' (a, b) paths from the same start.
- rmse(rows): the workbook's "rmse", √(Σ err²) over an epoch's rows (not divided by the count).
Excel (engine.xlsx.graddesc): export_graddesc([GradDesc…], path) writes one sheet of the lesson's formulas per
optimizer; read_graddesc(path, sheet) reads a sheet laid out like graddesc.xlsm, and .graddesc() on what it returns
is a GradDesc whose next epoch is that sheet's rows (.difference() compares them with the cached values).
"""
from collabsheet.engine.graddesc.data import Data, DataError, lesson_data, read_csv
from collabsheet.engine.graddesc.rows import FIELDS, HEADINGS, ROW, columns, rmse
from collabsheet.engine.graddesc.rules import Carry
from collabsheet.engine.graddesc.run import EPOCH, GradDesc
from collabsheet.engine.graddesc.settings import AVERAGES, LABELS, LESSON, RULES, USES, VARIANTS, Settings, SettingsError
from collabsheet.engine.graddesc.surface import least_squares, loss_surface, paths

__all__ = [
    "AVERAGES", "EPOCH", "FIELDS", "HEADINGS", "LABELS", "LESSON", "ROW", "RULES", "USES", "VARIANTS", "Carry",
    "Data", "DataError", "GradDesc", "Settings", "SettingsError", "columns", "least_squares", "lesson_data",
    "loss_surface", "paths", "read_csv", "rmse",
]
