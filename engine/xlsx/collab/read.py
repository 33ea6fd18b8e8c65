"""Import: a workbook checked as a file, then read back into the engine's sheet, factors and settings."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from collabsheet.engine.config import MAX_K, MAX_TOP, SQUASH_RANGES, OptimizerSettings, SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.models.factorization import y_range
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx.package import Package
from collabsheet.engine.xlsx.values import Values, show
from collabsheet.engine.xlsx.collab.layout import (
    EMB, ENGINE, FIELDS_TOP, FORMAT, LABELS, MARKER, MAX_CELLS, MAX_COLUMNS, ONEHOT, OPTIMIZER, PREDICTIONS_LABEL,
    SHEET, TABLE_ROWS, Layout,
    XlsxError,
    a1,
)


@dataclass(frozen=True)
class ImportedSheet:
    """A workbook read back: everything needed to rebuild the sheet, and the losses to compare."""

    path: str
    grid: Crosstab  # ratings, ids and titles as the workbook has them now
    config: SheetConfig
    settings: OptimizerSettings
    params: dict[str, np.ndarray]  # the factor (and bias) cells, float64, in SheetModel.flatten's form
    optimizer_state: dict  # the optimizer's running averages in θ's order ({"m": array, …, "t": int}), or {}
    step: int  # the engine's step count at export
    workbook_loss: float | None  # the loss cell as the spreadsheet last calculated it; None if never calculated
    engine_loss: float  # the engine's loss at export (Engine sheet)
    exported: str  # when it was exported
    device: str  # where the engine ran at export
    notes: tuple[str, ...] = field(default=())  # things the user should hear about, one line each

    def to_sheet(self, device: str | None = None) -> Sheet:
        """A new engine Sheet with the workbook's ratings, factors and settings."""
        sheet = Sheet(self.grid, self.config, self.settings, device)
        state = {k: (v if k == "t" else torch.tensor(v)) for k, v in self.optimizer_state.items()}
        sheet.load_state_dict(sheet.params_state(self.params, steps=self.step, optimizer=state))
        return sheet


# The most a collabsheet workbook's sheets hold: what export writes for the largest sheet the engine builds.
_LARGEST = Layout(MAX_TOP, MAX_TOP, MAX_K, True)
SHEET_MOST = (_LARGEST.prediction_row(MAX_TOP - 1), _LARGEST.movie_col(MAX_TOP - 1))
ENGINE_MOST = (TABLE_ROWS + MAX_TOP, 1 + MAX_TOP)
MARGIN = 20  # rows and columns past a Sheet's blocks a user may have typed into
OPTIMIZER_MOST = (1_048_576, 5)  # a row per parameter (Excel's most rows), parameter and index, at most three averages


def _check_sheets(package: Package) -> None:
    """A collabsheet workbook has an Engine sheet and a Sheet, and nothing else."""
    names = list(package.sheets)
    if ENGINE not in names:
        raise XlsxError(f"{package.book}: not a collabsheet workbook (it has no {ENGINE!r} sheet)")
    extra = [n for n in names if n not in (SHEET, ENGINE, OPTIMIZER, ONEHOT, EMB)]  # the long sheets only show
    if extra or SHEET not in names:
        what = f"extra sheet {extra[0]!r}" if extra else f"no {SHEET!r} sheet"
        raise XlsxError(f"{package.book}: has {what}; a collabsheet workbook has just {SHEET!r} and {ENGINE!r} "
                        "(delete the others and save)")


class _Fields:
    """The Engine sheet's label → value table."""

    def __init__(self, engine: Values) -> None:
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
            raise self.engine.fail(r, 2, f"should be TRUE or FALSE, found {show(value)}")
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


def _ids(sheet: Values, cells: list[tuple[int, int]], kind: str) -> tuple:
    out = []
    for row, col in cells:
        text = sheet.text(row, col)
        try:
            out.append(int(text) if kind == "int" else float(text) if kind == "float" else text)
        except ValueError:
            raise sheet.fail(row, col, f"should be a{'n integer' if kind == 'int' else ' number'} id, "
                                       f"found {show(text)}") from None
    return tuple(out)


def _layout(f: _Fields) -> Layout:
    """The layout the Engine sheet describes, each size checked against the engine's limits in its own cell."""
    k = f.whole("Factors k", 1)
    if k > MAX_K:
        raise f.engine.fail(f.row("Factors k"), 2, f"is more factors than a sheet has ({k:,}; at most {MAX_K:,})")
    lay = Layout(f.whole("Users", 1), f.whole("Movies", 1), k, f.flag("Biases"))
    if lay.movie_col(lay.m - 1) > MAX_COLUMNS:
        raise f.engine.fail(f.row("Movies"), 2, f"is more movies than a sheet has columns ({lay.m})")
    for label, size in (("Movies", lay.m), ("Users", lay.n)):
        if size > MAX_TOP:
            raise f.engine.fail(f.row(label), 2, f"is more {label.lower()} than a sheet has ({size:,}; at most "
                                                 f"{MAX_TOP:,})")
    if lay.cells > MAX_CELLS:
        raise f.engine.fail(f.row("Users"), 2, f"with {lay.m} movies and k = {lay.k} makes {lay.cells:,} cells of "
                                               f"ratings and factors, more than a workbook holds ({MAX_CELLS:,})")
    return lay


def _check_labels(sheet: Values, lay: Layout) -> None:
    """The Sheet's block labels sit where the layout puts them."""
    sheet.expect(lay.ratings_label_row, 1, LABELS["ratings"])
    sheet.expect(lay.movies_label_row, 1, LABELS["movies"])
    sheet.expect(lay.users_label_row, 1, LABELS["users"])


def _params(sheet: Values, lay: Layout) -> dict[str, np.ndarray]:
    """The factor and bias cells, in SheetModel.flatten's shapes."""
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


def _grid(f: _Fields, sheet: Values, lay: Layout) -> Crosstab:
    """Ratings, ids and titles as the Sheet has them now."""
    cols = [lay.movie_col(j) for j in range(lay.m)]
    ratings = np.array([[sheet.number(lay.rating_row(i), c, blank_ok=True) for c in cols] for i in range(lay.n)])
    if np.isnan(ratings).all():
        raise XlsxError(f"{sheet.book}: the {SHEET} sheet has no ratings left; the sheet needs at least one")
    user_ids = _ids(sheet, [(lay.rating_row(i), 1) for i in range(lay.n)], f.text("User id type"))
    item_ids = _ids(sheet, [(lay.id_row, c) for c in cols], f.text("Movie id type"))
    titles = tuple(sheet.text(lay.title_row, c) for c in cols)
    return Crosstab(ratings, user_ids, item_ids, titles, f.text("Dataset"))


def _optimizer_state(values: Values | None, f: _Fields, params: dict[str, np.ndarray]) -> dict:
    """The running averages the Optimizer sheet carries, checked against the parameters' count; {} without one."""
    if values is None:
        return {}
    size = sum(a.size for a in params.values())
    names = []
    for c in range(3, 6):
        name = values.text(1, c)
        if not name:
            break
        if name not in ("v", "m", "r"):
            raise values.fail(1, c, f"should name a running average (v, m or r), found {show(name)}")
        names.append(name)
    if values.text(size + 2, 1):
        raise values.fail(size + 2, 1, f"should be blank: the sheet has {size} parameters, one a row from row 2")
    state = {name: np.array([values.number(r, c) for r in range(2, size + 2)]) for c, name in enumerate(names, 3)}
    if "m" in state:
        state["t"] = f.whole("Optimizer t", 1)
    return state


def _squash_range(sheet: Values, lay: Layout, ratings: np.ndarray) -> tuple[str, str | None]:
    """Which sigmoid range the workbook's y range cells are for these ratings, and a note when they are neither."""
    cells = (sheet.number(lay.loss_row, lay.low_col), sheet.number(lay.loss_row, lay.high_col))
    rated = ratings[~np.isnan(ratings)]
    lo, hi = float(rated.min()), float(rated.max())
    for kind in SQUASH_RANGES:
        if np.allclose(cells, y_range(lo, hi, kind), rtol=0, atol=1e-12):
            return kind, None
    ours = y_range(lo, hi)
    return "data", (f"the workbook squashes into {cells[0]:g}..{cells[1]:g} but these ratings give "
                    f"{ours[0]:g}..{ours[1]:g} (their min and max); the engine uses {ours[0]:g}..{ours[1]:g}")


def _notes(sheet: Values, lay: Layout, range_note: str | None) -> tuple[str, ...]:
    """What the user should hear: a loss cell showing an error, a squashing range the ratings outgrew."""
    notes = []
    loss = sheet.get(lay.loss_row, lay.loss_col)
    if isinstance(loss, str):
        notes.append(f"the workbook's loss cell {SHEET}!{a1(lay.loss_row, lay.loss_col)} shows {loss}")
    if range_note:
        notes.append(range_note)
    return tuple(notes)


def import_xlsx(path: str | Path) -> ImportedSheet:
    """Read a workbook written by export_xlsx (perhaps changed by Solver or by hand) back for the engine.

    Only what the layout needs is read, within limits checked before and while parsing (engine.xlsx.package).
    """
    path = Path(path)
    with Package(path) as package:
        _check_sheets(package)
        f = _Fields(package.values(ENGINE, TABLE_ROWS, 2, ENGINE_MOST))
        lay = _layout(f)
        bottom, right = lay.prediction_row(lay.n - 1), lay.movie_col(lay.m - 1)
        predictions = (lay.prediction_row(0), lay.movie_col(0), bottom, right)  # formulas: never read back
        # Nothing is parsed beyond this layout's own blocks (and a margin for a note or two).
        most = (min(bottom + MARGIN, SHEET_MOST[0]), min(right + MARGIN, SHEET_MOST[1]))
        sheet = package.values(SHEET, bottom, right, most, skip=predictions)
        size = (lay.n + lay.m) * (lay.k + lay.biases)
        state = package.values(OPTIMIZER, size + 2, 5, OPTIMIZER_MOST) if OPTIMIZER in package.sheets else None
    _check_labels(sheet, lay)
    grid, params, squash = _grid(f, sheet, lay), _params(sheet, lay), f.flag("Squash")
    kind, range_note = _squash_range(sheet, lay, grid.ratings) if squash else ("data", None)
    try:
        config = SheetConfig(k=lay.k, biases=lay.biases, squash=squash, squash_range=kind, seed=f.whole("Seed"))
    except ValueError as exc:
        raise XlsxError(f"{path.name}: {exc}") from exc
    loss = sheet.get(lay.loss_row, lay.loss_col)
    return ImportedSheet(
        path=str(path), grid=grid, config=config, settings=_settings(f), params=params, step=f.whole("Step", 0),
        optimizer_state=_optimizer_state(state, f, params),
        workbook_loss=float(loss) if isinstance(loss, (int, float)) and not isinstance(loss, bool) else None,
        engine_loss=f.number("Engine loss (RMSE)"), exported=f.text("Exported"), device=f.text("Device"),
        notes=_notes(sheet, lay, range_note),
    )
