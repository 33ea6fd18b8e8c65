"""GradDesc: the workbook run row by row, keeping what the tab shows (rows, path, rmse per epoch), restorably."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from collabsheet.engine.graddesc.data import Data
from collabsheet.engine.graddesc.rows import ROW, rmse, step
from collabsheet.engine.graddesc.macros import onestep, reset_macro, somesteps_check
from collabsheet.engine.graddesc.rules import Carry, anneal
from collabsheet.engine.graddesc.settings import Settings
from collabsheet.engine.task import Task

FORMAT = 1  # of state_dict()
EPOCH = np.dtype([("epoch", np.int64), ("a", np.float64), ("b", np.float64), ("rmse", np.float64),
                  ("lr", np.float64)])


class GradDesc:
    """The gradient-descent workbook: step a row, run an epoch, reset; one row is one step of online SGD.

    The lesson variant runs epochs as the workbook's macros do (engine.graddesc.macros): each next epoch is
    onestep's (from the b and a the last row used, with the averages it ended with), adam_ann checks its lr as
    somesteps does after each of them, and reset() is the sheet's reset macro (warm averages). The library
    variant keeps torch.optim's semantics instead: one long run, each epoch from the last row's new b and a,
    the averages starting cold (0), adam_ann annealing after every epoch.
    """

    def __init__(self, data: Data, settings: Settings, carry: Carry | None = None) -> None:
        self.data, self.settings = data, settings
        self.reset(carry)

    def reset(self, carry: Carry | None = None) -> None:
        """Back to the start: the reset macro's state, or the given top cells (a workbook's rows 1–3)."""
        self.carry = (carry or reset_macro(self.data, self.settings)).copy()  # what the next row reads
        # somesteps checks adam_ann's lr after each onestep: not after the epoch Reset itself shows
        self.from_reset = carry is None
        self.top = self.carry.copy()  # the top cells of the epoch shown: where its first row started
        self.epoch = 0  # epochs completed
        self.diverged = False  # a row came out inf/NaN: it was refused and the run stops there
        self._rows = np.zeros(len(self.data), ROW)  # the epoch shown, self._n rows of it computed
        self._n = 0
        self._path = [(float(self.carry.p[1]), float(self.carry.p[0]))]
        self._history: list[tuple] = []

    def configure(self, settings: Settings) -> None:
        """New settings; another rule, variant or start resets, a new lr or β applies from the next row."""
        old, self.settings = self.settings, settings
        if (old.rule, old.variant, old.start_b, old.start_a) != (settings.rule, settings.variant,
                                                                 settings.start_b, settings.start_a):
            self.reset()
        elif settings.lr != old.lr:
            self.carry.lr = settings.lr

    def set_data(self, data: Data) -> None:
        """Other (x, y) pairs; starts again from reset."""
        self.data = data
        self.reset()

    @property
    def row(self) -> int:
        """Index of the next row within its epoch (0 when an epoch has just finished)."""
        return self._n % len(self.data)

    def step_row(self) -> np.void | None:
        """Compute the next row and carry b, a and the averages on; None (and diverged) if it came out inf/NaN."""
        if self.diverged:
            return None
        if self._n == len(self.data):  # the epoch shown is complete: this row starts the next one
            self._n, self.top = 0, self.carry.copy()
        i, trial = self._n, self.carry.copy()
        with np.errstate(all="ignore"):
            fields = step(float(self.data.x[i]), float(self.data.y[i]), trial, self.settings)
        if not (trial.finite() and np.isfinite(fields[:12]).all()):
            self.diverged = True
            return None
        self.carry = trial
        self._rows[i] = fields
        self._n += 1
        self._path.append((float(trial.p[1]), float(trial.p[0])))
        if self._n == len(self.data):
            self._end_epoch()
        return self._rows[i].copy()

    def _end_epoch(self) -> None:
        self.epoch += 1
        lr = self.carry.lr
        if self.settings.variant == "lesson":
            last = self._rows[len(self.data) - 1]
            self.carry = onestep(self.carry, np.array([last["b"], last["a"]]))
            if self.settings.rule == "adam_ann" and not (self.from_reset and self.epoch == 1):
                somesteps_check(self.carry)
        elif self.settings.rule == "adam_ann":
            anneal(self.carry)  # the library variant: after every epoch, from no best
        self._history.append((self.epoch, self.carry.p[1], self.carry.p[0], rmse(self._rows), lr))

    def run_epoch(self) -> float | None:
        """Finish the epoch in progress (or run a whole one); its "rmse", or None if it diverged."""
        while True:
            if self.step_row() is None:
                return None
            if self._n == len(self.data):
                return self._history[-1][3]

    def run(self, epochs: int, task: Task | None = None) -> list[float]:
        """Run whole epochs; their "rmse"s (fewer if it diverged or the task was cancelled, read between epochs).

        The task hears the figures `epoch` and `rmse` and the share of the epochs done after each epoch."""
        task = task or Task()
        out = []
        for done in range(1, epochs + 1):
            if task.cancelled:
                break
            value = self.run_epoch()
            if value is None:
                break
            out.append(value)
            task.report(fraction=done / epochs, epoch=self.epoch, rmse=value)
        return out

    def rows(self) -> np.ndarray:
        """The rows of the epoch shown so far, a structured array with the fields of engine.graddesc.FIELDS."""
        return self._rows[: self._n].copy()

    def path(self) -> np.ndarray:
        """(a, b) from the start and after every row so far, shape (rows + 1, 2), column 0 the slope a."""
        return np.array(self._path, dtype=np.float64).reshape(-1, 2)

    def history(self) -> np.ndarray:
        """One record per completed epoch: epoch, a, b the next epoch starts from, its "rmse", and its lr.

        In the lesson variant the "rmse" column is basic's rmse list as onestep fills it, for every sheet."""
        return np.array(self._history, dtype=EPOCH)

    def state_dict(self) -> dict:
        """Everything needed to restore this run exactly, as plain Python values."""
        return {"format": FORMAT, "settings": asdict(self.settings),
                "data": {"x": self.data.x.tolist(), "y": self.data.y.tolist(), "name": self.data.name},
                "carry": _carry_dict(self.carry), "top": _carry_dict(self.top), "epoch": self.epoch,
                "from_reset": self.from_reset,
                "diverged": self.diverged, "rows": [tuple(map(float, r)) for r in self._rows[: self._n]],
                "path": [tuple(p) for p in self._path], "history": [tuple(h) for h in self._history]}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict() exactly (data, settings, rows, path, history)."""
        if state.get("format") != FORMAT:
            raise ValueError(f"gradient-descent state of format {state.get('format')!r}; "
                             f"this collabsheet reads format {FORMAT}")
        self.data = Data(state["data"]["x"], state["data"]["y"], state["data"]["name"])
        self.settings = Settings(**state["settings"])
        self.reset(_carry_of(state["carry"]))
        self.top = _carry_of(state["top"])
        self.epoch, self.diverged = int(state["epoch"]), bool(state["diverged"])
        self.from_reset = bool(state.get("from_reset", True))
        self._n = len(state["rows"])
        self._rows[: self._n] = np.array([tuple(r) for r in state["rows"]], dtype=ROW)
        self._path = [(float(a), float(b)) for a, b in state["path"]]
        self._history = [(int(e), float(a), float(b), float(r), float(lr)) for e, a, b, r, lr in state["history"]]


def _carry_dict(c: Carry) -> dict:
    return {"p": c.p.tolist(), "m": c.m.tolist(), "v": c.v.tolist(), "lr": c.lr, "t": c.t, "best": c.best}


def _carry_of(d: dict) -> Carry:
    return Carry(np.array(d["p"], dtype=np.float64), np.array(d["m"], dtype=np.float64),
                 np.array(d["v"], dtype=np.float64), float(d["lr"]), int(d["t"]), float(d["best"]))
