"""Where each block sits in the workbook, and the names, colours and Solver options both directions share."""
from __future__ import annotations

from dataclasses import dataclass

from openpyxl.utils import quote_sheetname

from collabsheet.engine.xlsx.errors import XlsxError, a1  # noqa: F401 - the collab modules take them from here

SHEET, ENGINE = "Sheet", "Engine"
OPTIMIZER = "Optimizer"  # the optimizer's running averages, one row per parameter, when it has any
STATE_BLOCKS = ("user_factors", "item_factors", "user_bias", "item_bias")  # θ's order
MARKER, FORMAT = "collabsheet workbook", 1  # Engine!A1 and B1: what says a workbook is ours
FILLS = {"rating": "DDEBF7", "prediction": "E4DFEC", "movie": "E2EFDA", "user": "FCE4D6",
         "loss": "FFC7CE", "bias": "FFF2CC"}  # the app's block colours, as light fills
LABELS = {"ratings": "Ratings", "movies": "Movie factors", "users": "user id"}
PREDICTIONS_LABEL = "Engine predictions"
FIELDS_TOP, TABLE_ROWS = 3, 100  # the Engine sheet's label/value table starts on row 3 and ends well before 100
MAX_COLUMNS = 16_384  # a worksheet's columns in Excel
# Ratings and factor cells a workbook may hold: a 500 × 500 sheet with k = 5 and biases. Import reads cells
# at some 70,000 a second on a small machine, so the largest workbook, however crafted, is answered in ~5 s.
MAX_CELLS = 300_000

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

    @property
    def cells(self) -> int:
        """The ratings and factor (and bias) cells import reads: what bounds its work."""
        return self.n * self.m + (self.n + self.m) * (self.k + self.biases)

    def check_size(self) -> None:
        """Refuse a sheet with more cells than a workbook of collabsheet's may hold."""
        if self.cells > MAX_CELLS:
            raise XlsxError(f"a {self.n}×{self.m} sheet with k = {self.k} has {self.cells:,} ratings and factor "
                            f"cells; an Excel workbook of collabsheet holds at most {MAX_CELLS:,} (a 500×500 sheet, "
                            "k = 5): lower top-N or k")

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
        return f"{quote_sheetname(SHEET)}!{a1(self.loss_row, self.loss_col, True)}"

    def area(self, top: int, left: int, bottom: int, right: int) -> str:
        """An absolute A1 range on the Sheet, with the sheet's name."""
        return f"{quote_sheetname(SHEET)}!{a1(top, left, True)}:{a1(bottom, right, True)}"
