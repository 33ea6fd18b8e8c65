"""The Gradient descent tab's engine side, without Qt: it owns the data and the GradDesc and answers commands.

Only the worker thread calls GradDescRunner. Step row and Reset answer at once; Run epoch and Play step
rows through `tick`, Play at a set number of rows a second so a reader can watch them go by (or flat
out). What the screen needs goes into the Mailbox as increments: the rows stepped, the path's new
points, an "rmse" point per epoch; the loss surface and the comparison paths when they change.
Nothing here imports torch; its Excel commands (openpyxl, imported on first use) are gui.graddesc.xlsx_commands.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import contourpy  # imported here, in the GUI thread that imports the runner: see surface_over
import numpy as np

from collabsheet.engine.config import RunState
from collabsheet.engine.graddesc import (ROW, RULES, Data, GradDesc, Settings, least_squares, lesson_data, loss_surface,
                             paths, read_csv, rmse)
from collabsheet.gui.graddesc.frames import Compared, Frame, Progress, Surface
from collabsheet.gui.graddesc.xlsx_commands import XlsxCommands
from collabsheet.gui.runtime.clock import FrameClock
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.runtime.runner import Runner
from collabsheet.gui.runtime.series import LINE, MARKERS, Points

FRAME_S = 1 / 30  # publish at most this often while running flat out
CHUNK_S = 0.004  # a flat-out chunk of rows takes about this long, so Pause is answered within a few ms
FIRST_CHUNK, MAX_CHUNK = 64, 50_000  # rows in a chunk: to start with (an epoch of the lesson's 29), at most
PACED_TICK_S = 0.005  # a paced Play looks at the clock at least this often
BREATHER_S = 0.005  # running flat out, the engine rests this long after each frame so the GUI can paint it
GRID = 200  # points of the loss surface along a and along b
CONTOURS = 12  # lines at evenly spaced levels of log₁₀ MSE
MARGIN = 0.15  # of the box's span on each side, around what the surface must show
MAX_GROWTH = 50.0  # the surface follows a path out of its box up to this many times the first box's spans
COMPARE_EPOCHS = 5  # as the workbook's "run" macro
MAX_COMPARE_ROWS = 30_000  # rows stepped for one comparison, all optimizers together (~3 s at most)


def box_around(points: np.ndarray) -> tuple[float, float, float, float]:
    """(a0, a1, b0, b1) around the finite (a, b) points, with a margin and never empty."""
    points = points[np.isfinite(points).all(axis=1)]
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.maximum(hi - lo, 0.5 + 0.1 * np.abs(hi + lo) / 2)  # a lone point still gets a neighbourhood
    centre = (lo + hi) / 2
    lo, hi = centre - span * (0.5 + MARGIN), centre + span * (0.5 + MARGIN)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def surface_over(data: Data, box: tuple[float, float, float, float]) -> Surface:
    """The loss surface of the data over the box, GRID × GRID, with contour lines of its log₁₀.

    Drawn here, in the worker, by contourpy (milliseconds; pyqtgraph's isocurves took ~0.4 s of the GUI thread).
    contourpy is imported at the top of this module: imported first in the worker thread instead, the sheet's
    later `import torch` there hung in torch._C._autograd_init (PySide6 6.11, torch 2.13, contourpy 1.3.3).
    """
    a = np.linspace(box[0], box[1], GRID)
    b = np.linspace(box[2], box[3], GRID)
    loss = loss_surface(data, a, b)
    z = np.log10(np.maximum(loss, np.finfo(float).tiny))  # an exact fit's zero loss: the darkest colour, not -inf
    lo, hi = float(z.min()), float(z.max())
    levels = np.linspace(lo, hi, CONTOURS + 2)[1:-1] if hi > lo else np.zeros(0)
    lines = contourpy.contour_generator(a, b, z.T, line_type=contourpy.LineType.ChunkCombinedNan)
    chunks = [chunk for level in levels for chunk in lines.lines(float(level))[0] if chunk is not None]
    gaps = [np.full((1, 2), np.nan)] * len(chunks)
    contours = np.concatenate([part for pair in zip(chunks, gaps) for part in pair]) if chunks else np.zeros((0, 2))
    return Surface(a, b, loss, least_squares(data), z, levels, contours)


class GradDescRunner(XlsxCommands, Runner):
    """Owns the data and the GradDesc; every method runs in the worker thread."""

    titles = {**XlsxCommands.titles, "set_data": "Data",
              "open_csv": "Could not open the data", "configure": "Optimizer settings", "compare": "Compare",
              "tick": "Play", "step_row": "Step row", "run_epoch": "Run epoch"}

    def __init__(self, mailbox: Mailbox | None = None, settings: Settings | None = None, data: Data | None = None,
                 clock: FrameClock | None = None) -> None:
        super().__init__(mailbox or Mailbox(Frame), clock)
        self.data = data or lesson_data()
        self.run = GradDesc(self.data, settings or Settings.lesson("sgd"))
        self.rate: float | None = 10.0  # Play's rows per second; None runs flat out
        self.playing = False
        self.target: int | None = None  # Run epoch: play flat out until this many epochs are complete
        self.compare_rules: tuple[str, ...] = ()
        self.compare_epochs = COMPARE_EPOCHS
        self.compared: tuple[Compared, ...] = ()
        self.surface: Surface | None = None
        self._first_box = self._box = (0.0, 0.0, 0.0, 0.0)  # the surface's (a0, a1, b0, b1): first and now
        self._paced = (0.0, 0)  # (start time, rows done) of a paced Play
        self._chunk = FIRST_CHUNK
        self._rows: tuple[int, list] | None = None  # rows stepped since the last publish: (index of the first, rows)
        self._path: list[tuple[float, float]] = []  # and the (a, b) after each
        self._extent = np.array([[math.inf, math.inf], [-math.inf, -math.inf]])  # of the run's path so far
        self._origin = (1.0, 1.0)  # (b, a) the run started from: the comparisons start there too
        self._segment, self._label = 0, ""  # the rmse curve's segment: a new one when the settings change
        self._last_rmse: float | None = None  # of the last epoch completed
        self._steps = 0  # rows stepped since the run began

    # --- data and settings -------------------------------------------------------------------
    def start(self) -> None:
        """The first frame: the run at its start, its surface and its settings."""
        self._new_run()

    def set_data(self, rows: int, seed: int, noise: float) -> None:
        """The lesson's recipe with `rows` rows from `seed`, y = 30 + 2·x plus noise·N(0, 1); starts again."""
        self._use(lesson_data(rows=int(rows), seed=int(seed), noise=float(noise)))

    def open_csv(self, path: str) -> None:
        """x, y rows from a CSV with x and y columns; a bad file leaves everything as it was."""
        self._use(read_csv(path))
        self.emit("notice", f"Opened {Path(path).name}: {len(self.data):,} rows")

    def _use(self, data: Data, run: GradDesc | None = None) -> None:
        self.pause()
        self.data = data
        if run is None:
            self.run.set_data(data)
        else:
            self.run = run
        self._new_run()

    def configure(self, settings: Settings) -> None:
        """New settings: another rule, variant or start begins a new run; lr and β's apply from the next row."""
        self.run.configure(settings)
        if self.run.epoch == 0 and not len(self.run.rows()):  # at the start (the engine reset, or it was there)
            self.pause()
            self._new_run()
        else:
            self._compare()
            self.publish()

    def reset(self) -> None:
        """The reset macro: a = b = the start, the averages as the lesson sets them, new curves."""
        self.pause()
        self.run.reset()
        self._new_run()

    def _new_run(self) -> None:
        """Fresh rows, path and curves from where the run starts, and a surface sized for them."""
        b, a = (float(v) for v in self.run.carry.p)
        self._origin = (b, a)
        self._rows, self._path, self._steps = None, [], 0
        self._extent = np.array([[a, b], [a, b]])
        self._last_rmse, self._label = None, ""
        self._chunk = FIRST_CHUNK
        self.mailbox.put(clear=True, rows=(0, np.zeros(0, ROW)), path=np.array([[a, b]]))
        self._compare(fit=False)
        self._fit_surface(new=True)
        self.publish()

    # --- running -----------------------------------------------------------------------------
    def step_row(self) -> None:
        """One row: the table grows by one, the path by one step."""
        if self.playing:
            return
        self._step(1)
        self.publish()
        if self.run.diverged:
            self.emit("diverged")

    def run_epoch(self) -> None:
        """Finish the epoch in progress (or run a whole one), in chunks like Play."""
        if self.playing or self.run.diverged:
            if self.run.diverged:
                self.emit("diverged")
            return
        self.target = self.run.epoch + 1
        self._start()

    def play(self, on: bool) -> None:
        """Play (rows until paused, at the set pace) or pause."""
        if not on:
            self.pause()
        elif not self.playing and not self.run.diverged:
            self.target = None
            self._start()
        elif self.run.diverged:
            self.emit("diverged")
            self.set_state(RunState.IDLE)  # the Play button goes back up

    def _start(self) -> None:
        self._paced = (time.perf_counter(), 0)
        self.playing = True
        self.set_state(RunState.PLAYING)

    def pause(self) -> None:
        """Stop Play or Run epoch between chunks."""
        self.target = None
        if self.playing:
            self.playing = False
            self.publish()
            self.set_state(RunState.IDLE)

    def halt(self) -> None:
        self.playing, self.target = False, None

    def set_rate(self, rate: float | None) -> None:
        """Play's pace in rows per second (None: as fast as possible)."""
        self.rate = rate
        self._paced = (time.perf_counter(), 0)

    def tick(self) -> float | None:
        """One chunk of Play or Run epoch; how long to wait before the next."""
        if not self.playing:
            return None
        paced = self.rate is not None and self.target is None
        if paced:
            start, done = self._paced
            elapsed = time.perf_counter() - start
            limit = min(int(elapsed * self.rate) - done, MAX_CHUNK)
            if limit <= 0:
                return min(max((done + 1) / self.rate - elapsed, 0.0), PACED_TICK_S * 20)
            self._paced = (start, done + limit)
        else:
            self.clock.wait_for_gui()
            limit = self._chunk
            if self.target is not None:
                limit = min(limit, len(self.data) - self.run.row)
        began = time.perf_counter()
        self._step(limit)
        took = time.perf_counter() - began
        if not paced:
            grow = CHUNK_S / took if took > 0 else 2.0
            self._chunk = int(min(max(limit * min(max(grow, 0.5), 2.0), 1), MAX_CHUNK))
        if self.run.diverged:
            self.pause()
            self.emit("diverged")
        elif self.target is not None and self.run.epoch >= self.target:
            self.pause()
        elif paced or self.clock.due(FRAME_S):
            self.publish()
            if not paced:  # the plots paint in the GUI's event loop, outside the FrameClock's render: step aside
                return BREATHER_S
        if not self.playing:
            return None
        return min(PACED_TICK_S, 1 / self.rate) if paced else 0.0

    def failed(self, command: str, text: str) -> None:
        super().failed(command, text)
        if command == "tick":
            self.pause()

    def _step(self, n: int) -> int:
        """Up to n rows; what they add (rows, path points, "rmse" points) waits for the next publish."""
        run, done = self.run, 0
        for _ in range(n):
            i = run.row
            row = run.step_row()
            if row is None:
                break
            done += 1
            if i == 0 or self._rows is None:  # a new epoch starts the table again
                self._rows = (i, [row])
            else:
                self._rows[1].append(row)
            self._path.append((float(row["new_a"]), float(row["new_b"])))
            if run.row == 0:  # the row ended an epoch: its "rmse", exactly as the engine's history records it
                self._add_epoch(run.epoch, rmse(run.rows()))
        self._steps += done
        return done

    def _add_epoch(self, epoch: int, value: float) -> None:
        label = f"{self.run.settings.label} · lr {self.run.settings.lr:g}"
        if label != self._label:  # new settings: a new segment, joined to the last point when there is one
            self._segment, self._label = self._segment + 1, label
            if self._last_rmse is not None:
                self.mailbox.put(rmse=Points(self._segment, label, epoch - 1, np.array([self._last_rmse])))
            else:  # a lone first point would not show as a line
                self.mailbox.put(rmse=Points(-self._segment, "", epoch, np.array([value]), MARKERS))
        self.mailbox.put(rmse=Points(self._segment, label, epoch, np.array([value]), LINE))
        self._last_rmse = value

    # --- comparison and surface --------------------------------------------------------------
    def compare(self, rules: Sequence[str], epochs: int = COMPARE_EPOCHS) -> None:
        """Draw these optimizers' paths from the run's start over the same data, `epochs` epochs each."""
        unknown = [r for r in rules if r not in RULES]
        if unknown:
            raise ValueError(f"unknown optimizer {unknown[0]!r}; choose from {', '.join(RULES)}")
        if not 1 <= int(epochs) <= 10_000:
            raise ValueError(f"compare epochs must be between 1 and 10,000, got {epochs}")
        self.compare_rules, self.compare_epochs = tuple(dict.fromkeys(rules)), int(epochs)
        self._compare()
        self.publish()

    def compare_settings(self, rule: str) -> Settings:
        """What a compared rule runs with: the run's own settings for its rule, the lesson's sheet's for the others."""
        h = self.run.settings
        if rule == h.rule:
            return h
        return Settings.lesson(rule, h.variant, start_b=h.start_b, start_a=h.start_a, eps=h.eps, nudge=h.nudge)

    def _compare(self, fit: bool = True) -> None:
        settings = [self.compare_settings(rule) for rule in self.compare_rules]
        epochs = self.compare_epochs
        if settings:
            epochs = max(1, min(epochs, MAX_COMPARE_ROWS // (len(settings) * len(self.data))))
            if epochs < self.compare_epochs:
                self.emit("notice", f"Compare: {epochs} epochs each ({self.compare_epochs} would step more than "
                                    f"{MAX_COMPARE_ROWS:,} rows)")
        drawn = paths(self.data, settings, epochs, self._origin) if settings else []
        self.compared = tuple(
            Compared(h.rule, f"{h.label} · lr {h.lr:g}", p, len(p) < epochs * len(self.data) + 1)
            for h, p in zip(settings, drawn))
        if fit:  # the surface first: a frame that brings the paths always has a surface that holds them
            self._fit_surface()
        self.mailbox.put(compare=self.compared)

    def _fit_surface(self, new: bool = False) -> None:
        """Size the surface for the start, the bottom of the bowl, the path and the comparisons.

        A new run gets its own; later it only grows, when the path or a comparison leaves it, and follows a
        diverging path no further than MAX_GROWTH times its first size."""
        points = [self._extent, np.array([self._origin[::-1]]), np.array([least_squares(self.data)])]
        needed = box_around(np.concatenate(points + [c.path for c in self.compared]))
        if new or self.surface is None:
            self._first_box = box = needed
        else:
            if _inside(needed, self._box):
                return
            first, old = self._first_box, self._box
            cap_a, cap_b = MAX_GROWTH * (first[1] - first[0]), MAX_GROWTH * (first[3] - first[2])
            box = (max(min(needed[0], old[0]), first[0] - cap_a), min(max(needed[1], old[1]), first[1] + cap_a),
                   max(min(needed[2], old[2]), first[2] - cap_b), min(max(needed[3], old[3]), first[3] + cap_b))
            if box == old:
                return
        self._box = box
        self.surface = surface_over(self.data, box)
        self.mailbox.put(surface=self.surface)

    # --- frames ------------------------------------------------------------------------------
    def publish(self) -> None:
        """Put what changed since the last publish, and where the run stands, in the mailbox."""
        with self.clock.publishing():
            rows = path = None
            if self._rows is not None:
                rows = (self._rows[0], np.array(self._rows[1], dtype=ROW))
                self._rows = None
            if self._path:
                path = np.array(self._path)
                self._path = []
                self._extent = np.array([np.minimum(self._extent[0], path.min(axis=0)),
                                         np.maximum(self._extent[1], path.max(axis=0))])
            self.mailbox.put(rows=rows, path=path, settings=self.run.settings, progress=self.progress())
        (a0, b0), (a1, b1) = self._extent
        if not _inside((a0, a1, b0, b1), self._box):
            self._fit_surface()

    def progress(self) -> Progress:
        """Where the run stands now."""
        run, c, n = self.run, self.run.top, len(self.data)
        row = n if run.row == 0 and run.epoch > 0 else run.row  # row 0 after an epoch: that epoch is shown whole
        return Progress(run.epoch, row, n, float(run.carry.p[1]), float(run.carry.p[0]), float(run.carry.lr),
                        self._last_rmse, run.diverged, self.data.name,
                        (float(c.p[0]), float(c.p[1]), *map(float, c.m), *map(float, c.v)), self._steps)


def _inside(inner: tuple, outer: tuple) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1] and outer[2] <= inner[2] and inner[3] <= outer[3]
