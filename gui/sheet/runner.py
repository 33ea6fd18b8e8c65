"""The engine side of the GUI, without Qt: one object owns the Sheet and answers commands.

Only the worker thread calls SheetRunner. It leaves what the screen needs in a Mailbox: the latest
snapshot (replaced, never queued) and the losses since the GUI last looked, so a slow repaint never
backs the engine up. Long work runs in short chunks; `stop` is a threading.Event checked between them.

Importing the engine (torch) takes seconds, so this module imports it on first use, in the worker: the
first load publishes a Preview (the ratings, which need only pandas) before it builds the Sheet.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from engine.data.crosstab import Crosstab, top_crosstab
from engine.data.ratings import Ratings, load_ratings
from engine.data.movielens import default_ratings

if TYPE_CHECKING:  # these import torch: at run time only once the engine is needed
    from engine.config import OptimizerSettings
    from engine.config import SheetConfig
    from engine.sheet.sheet import Sheet, SolveResult, StepResult
    from engine.sheet.snapshot import Snapshot

FRAME_S = 1 / 60  # publish a snapshot at most this often while stepping
CHUNK_S = 0.004  # aim for chunks this long, so commands and Stop are answered within a few ms
MAX_CHUNK = 5000  # steps in one chunk at most
GUI_WAIT_S = 0.2  # the longest the engine waits for the GUI to finish a frame
FRAME_S = 1 / 30  # a solve lets the GUI draw at most this often
SNAPSHOT_SHARE_INV = 4  # while playing, snapshots take at most a quarter of the engine's time
COSTLY_FRAME_S = 0.02  # a frame that takes the GUI longer than this (a big sheet) …
ENGINE_SHARE = 1 / 3  # … is followed by engine time: at least this share of the whole while playing
SOLVE_LABEL = "Solve"
START_LABEL = ""  # the starting point of a run: on the curve, not in the legend
Progress = Callable[[str, "float | None"], None]
# engine.sheet.SheetConfig()'s k and biases, known here without importing torch: the shape a Preview takes
# before the engine exists (tests check they agree; if they did not, the sheet would re-lay out once).
PREVIEW_K, PREVIEW_BIASES = 5, False


def engine_sheet():
    """engine.sheet.sheet, imported on first use: it imports torch, ~2 s on a small machine."""
    from engine.sheet import sheet

    return sheet


@dataclass(frozen=True)
class Preview:
    """The first sheet before the engine has started: its ratings and shape, no factors, predictions or loss."""

    ratings: np.ndarray  # (users, items) float64, NaN = blank, as in a Snapshot
    mask: np.ndarray  # (users, items) bool, True where rated
    user_ids: tuple
    item_ids: tuple
    titles: tuple[str, ...]
    k: int  # the shape the sheet will have, so the ratings do not move when the engine arrives
    biases: bool
    dataset: str = ""

    @classmethod
    def of(cls, grid: Crosstab, k: int = PREVIEW_K, biases: bool = PREVIEW_BIASES) -> "Preview":
        return cls(grid.ratings, grid.mask, grid.user_ids, grid.item_ids, grid.titles, k, biases, grid.name)


@dataclass(frozen=True)
class LossChunk:
    """Consecutive losses of one run segment, the first at x = x0."""

    segment: int
    label: str
    x0: int
    values: np.ndarray


@dataclass
class Frame:
    """What the GUI takes from the mailbox: the newest snapshot (or None) and everything else since."""

    snapshot: Snapshot | None = None
    preview: Preview | None = None  # the first sheet's ratings, while the engine starts
    losses: list[LossChunk] = field(default_factory=list)
    clear_curves: bool = False  # a new run began: drop the old loss curves
    solving: tuple[int, float] | None = None  # (iterations, RMSE) of a solve in progress


class Mailbox:
    """Latest snapshot and pending losses, handed from the worker to the GUI under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame = Frame()
        self._fresh = False

    def put(self, snapshot: Snapshot | None = None, losses: LossChunk | None = None, clear: bool = False,
            solving: tuple[int, float] | None = None, preview: Preview | None = None) -> None:
        with self._lock:
            f = self._frame
            if preview is not None:
                f.preview = preview
            if clear:
                f.losses.clear()
                f.clear_curves = True
            if snapshot is not None:
                f.snapshot = snapshot
            if losses is not None and len(losses.values):
                f.losses.append(losses)
            if solving is not None:
                f.solving = solving
            self._fresh = True

    def withdraw_preview(self) -> None:
        """Drop a preview the GUI has not taken yet (its sheet could not be built after all)."""
        with self._lock:
            self._frame.preview = None

    def take(self) -> Frame | None:
        """Everything since the last take, or None when nothing happened."""
        with self._lock:
            if not self._fresh:
                return None
            frame, self._frame, self._fresh = self._frame, Frame(), False
            return frame


@dataclass(frozen=True)
class LoadRequest:
    """Which ratings to open: None path means the default MovieLens; columns as load_ratings takes them."""

    path: str | None = None
    columns: dict = field(default_factory=dict)  # user_col, item_col, rating_col, sep, titles_path
    ratings: Ratings | None = None  # already loaded (e.g. by the open dialog's preview)


class SheetRunner:
    """Owns the Ratings and the Sheet; every method runs in the worker thread."""

    def __init__(self, mailbox: Mailbox, device: str | None = None, top: int = 15,
                 config: SheetConfig | None = None, settings: OptimizerSettings | None = None) -> None:
        self.mailbox = mailbox
        self.device = device
        self.top = top
        self.config, self.settings = config, settings  # None: the engine's defaults, filled in by the first sheet
        self.ratings: Ratings | None = None
        self.sheet: Sheet | None = None
        self.stop = threading.Event()
        # Cleared while the GUI thread renders a frame. The engine waits for it between chunks, since a
        # busy worker makes every GIL hand-back of the painting thread wait its turn (the convoy effect).
        self.gui_idle = threading.Event()
        self.gui_idle.set()
        self.gui_done_at = 0.0  # when the GUI last finished a frame …
        self.gui_render_s = 0.0  # … and how long that frame took (both written by the GUI thread)
        self.gui_rendered = threading.Event()  # set by the GUI thread after each frame it renders
        # How long the first load waits for the GUI to show its preview before importing torch, whose C start-up
        # holds the GIL for a few hundred ms at a time (the GUI could not paint meanwhile). 0 without a GUI.
        self.preview_wait_s = 0.0
        self._x = 0  # position of the next loss on the curve: steps plus solver iterations
        self._segment, self._label = 0, ""
        self._chunk = 1
        self._published = 0.0
        self._snapshot_s = 0.0  # what the last snapshot cost: big sheets publish less often

    # --- data --------------------------------------------------------------------------------
    def load(self, request: LoadRequest, progress: Progress | None = None) -> Ratings:
        """Load ratings and build a sheet from them; on any error the current sheet stays as it was."""
        if request.ratings is not None:
            ratings = request.ratings
        elif request.path is None:
            ratings = default_ratings(progress=progress)
        else:
            ratings = load_ratings(request.path, **{k: v for k, v in request.columns.items() if v is not None})
        try:
            sheet = self._build(ratings, self.top, self.config)
        except BaseException:
            self.mailbox.withdraw_preview()
            raise
        self.ratings = ratings
        self.config = sheet.config
        self._install(sheet)
        return ratings

    def adopt(self, sheet: Sheet) -> None:
        """Use a sheet built elsewhere (e.g. imported from a workbook)."""
        self.config, self.settings = sheet.config, sheet.settings
        self._install(sheet)

    def configure(self, config: SheetConfig, top: int) -> None:
        """Rebuild the sheet with a new k, top-N, biases or squashing from the current ratings."""
        if self.ratings is None:
            raise ValueError("no ratings loaded yet")
        sheet = self._build(self.ratings, top, config)
        self.top, self.config = top, config
        self._install(sheet)

    def _build(self, ratings: Ratings, top: int, config: SheetConfig | None) -> Sheet:
        grid = top_crosstab(ratings, top)
        if self.sheet is None:  # the first sheet: its ratings can show while the engine is imported
            self.gui_rendered.clear()
            self.mailbox.put(preview=Preview.of(grid) if config is None else Preview.of(grid, config.k, config.biases))
            self.gui_rendered.wait(self.preview_wait_s)
        engine = engine_sheet()
        config = engine.SheetConfig() if config is None else config
        if self.settings is None:  # the engine's default optimizer
            return engine.Sheet(grid, config, device=self.device)
        return engine.Sheet(grid, config, self.settings, device=self.device)

    def _install(self, sheet: Sheet) -> None:
        self.sheet = sheet
        self.settings = sheet.settings
        self._new_run()

    def _new_run(self) -> None:
        """Fresh curves, with an unlabelled point at the loss the run starts from (the first step lands on it)."""
        snap = self.sheet.snapshot()
        self._segment, self._label = self._segment + 1, START_LABEL
        self.mailbox.put(snap, clear=True, losses=LossChunk(self._segment, START_LABEL, 0, np.array([snap.rmse])))
        self._x = 0

    # --- commands ----------------------------------------------------------------------------
    def step(self, n: int = 1) -> StepResult:
        """n updates; the snapshot is published at once."""
        result = self._steps(n)
        self.publish()
        return result

    def play_chunk(self, budget_s: float = CHUNK_S, limit: int = MAX_CHUNK) -> StepResult:
        """A chunk of steps sized to take about budget_s; publishes at most FRAME_S apart."""
        self.gui_idle.wait(GUI_WAIT_S)
        n = max(1, min(self._chunk, limit))
        start = time.perf_counter()
        result = self._steps(n)
        took = time.perf_counter() - start
        grow = budget_s / took if took > 0 else 2.0
        self._chunk = int(min(max(n * min(max(grow, 0.5), 2.0), 1), MAX_CHUNK))
        if result.diverged or self._frame_due():
            self.publish()
        return result

    def _frame_due(self) -> bool:
        """≤ 60 frames a second; after a costly frame the engine gets its ENGINE_SHARE before the next."""
        now = time.perf_counter()
        if now - self._published < max(FRAME_S, SNAPSHOT_SHARE_INV * self._snapshot_s):
            return False
        render = self.gui_render_s
        return render <= COSTLY_FRAME_S or now - self.gui_done_at >= render * ENGINE_SHARE / (1 - ENGINE_SHARE)

    def _steps(self, n: int) -> StepResult:
        result = self.sheet.step(n)
        self._emit_losses(self.settings_label(), result.losses)
        return result

    def settings_label(self) -> str:
        s = self.sheet.settings
        return f"{s.label} · lr {s.lr:g}"

    def _emit_losses(self, label: str, values: np.ndarray) -> None:
        if label != self._label:
            self._segment, self._label = self._segment + 1, label
        self.mailbox.put(losses=LossChunk(self._segment, label, self._x, np.asarray(values, dtype=float)))
        self._x += len(values)

    def solve(self) -> SolveResult:
        """The engine's solver, reporting progress; stops between chunks when `stop` is set."""
        start_x = self._x
        label = SOLVE_LABEL
        before = self.sheet.rmse()
        self._emit_losses(label, np.array([before]))

        waited = [time.perf_counter()]

        def progress(iterations: int, rmse: float) -> None:
            # Reports come every iteration; the GUI gets a chance to draw them once a frame, not each time.
            if time.perf_counter() - waited[0] > FRAME_S:
                self.gui_idle.wait(GUI_WAIT_S)
                waited[0] = time.perf_counter()
            self.mailbox.put(losses=LossChunk(self._segment, label, start_x + iterations, np.array([rmse])),
                             solving=(iterations, rmse))

        result = self.sheet.solve(progress=progress, should_stop=self.stop.is_set)
        self._x = start_x + result.iterations + 1
        self.publish()
        return result

    def reset(self, seed: int) -> None:
        """New random factors from `seed`, a fresh optimizer, and new loss curves."""
        self.sheet.reset(seed)
        self.config = replace(self.config, seed=seed)
        self._new_run()

    def set_optimizer(self, settings: OptimizerSettings) -> None:
        """Change rule or settings and keep the parameters."""
        self.settings = settings
        self.sheet.set_optimizer(settings)
        self.publish()

    def set_rating(self, i: int, j: int, value: float | None) -> None:
        self.sheet.set_rating(i, j, value)
        self.publish()

    def set_param(self, block: str, index: tuple[int, ...], value: float) -> None:
        self.sheet.set_param(block, tuple(index), value)
        self.publish()

    def publish(self) -> None:
        """Put the current snapshot in the mailbox."""
        start = time.perf_counter()
        self.mailbox.put(self.sheet.snapshot())
        self._published = time.perf_counter()
        self._snapshot_s = self._published - start
