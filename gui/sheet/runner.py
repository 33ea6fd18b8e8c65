"""The Sheet tab's engine side, without Qt: it owns the Ratings, the Sheet and its Timeline, and answers commands.

Only the worker thread calls SheetRunner. It leaves what the screen needs in its Mailbox: the latest
snapshot (replaced, never queued), the losses since the GUI last looked, the selected cell explained,
where the sheet is in its history, the coach's verdict, and events. Play and Step ×N run in short chunks
through `tick`, as does a race; a solve checks `stop` between chunks.

Every step and change goes through the Timeline (engine.sheet.timeline), which records the run as a tree of
branches: seeking to a past step restores it exactly, a change there starts a branch, and Step or Play there
follows the recorded branch to its head before recording again.

Loading ratings and building the Sheet (torch imported on first use, after a first frame numpy computes) is
gui.sheet.load_commands; it and each further group of commands (history, race, new user, Excel) is an object the
runner holds as a field, seeing the runner only as the narrow gui.sheet.host.SheetHost. `commands` names what the
GUI may send.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from collabsheet.engine.config import DEFAULT_TOP, OptimizerSettings, RunState, SheetConfig
from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.task import Report
from collabsheet.gui.race.commands import RaceCommands
from collabsheet.gui.runtime.clock import FrameClock
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.runtime.pacing import Pacer
from collabsheet.gui.runtime.runner import Runner
from collabsheet.gui.runtime.series import DASHED, Points
from collabsheet.gui.sheet.curves import BranchCurves
from collabsheet.gui.sheet.frames import Frame
from collabsheet.gui.sheet.history_commands import HistoryCommands
from collabsheet.gui.sheet.load_commands import LoadCommands, new_timeline
from collabsheet.gui.sheet.newuser_commands import NewUserCommands
from collabsheet.gui.sheet.transitions import DIVERGED, NEW_SHEET, RESHAPED
from collabsheet.gui.sheet.xlsx_commands import XlsxCommands

if TYPE_CHECKING:  # these import torch or pandas: at run time only once they are needed
    from collabsheet.engine.sheet.sheet import Sheet, SolveResult, StepResult
    from collabsheet.engine.sheet.timeline import Timeline

FRAME_S = 1 / 60  # publish a snapshot at most this often while stepping
SOLVE_FRAME_S = 1 / 30  # a solve lets the GUI draw at most this often
MAX_CHUNK = 5000  # steps in one chunk at most
START_LABEL = ""  # the starting point of a run: on the curve, not in the legend
SOLVE_LABEL = "Solve"
SOLVE_AXIS = "solve"  # solver iterations are drawn on their own axis
MAX_RECOMMENDED = 200  # users whose recommendations come with each frame (a bigger sheet skips them)
RECOMMEND_EVERY_S = 0.5  # how often they are worked out again while Play runs
HOLDOUT_FRACTION, HOLDOUT_SEED = 0.2, 0  # the held-out cells: a seeded fifth of the ratings
NEW_USER_KINDS = ("rating", "prediction", "user_factors", "user_bias")  # the blocks a user's row has cells in


class SheetRunner(Runner):
    """Owns the Sheet and its Timeline, and its command groups as fields; every method runs in the worker thread."""

    titles = {"tick": "Play", "configure": "Sheet settings",
              "set_optimizer": "Optimizer", "set_rating": "Edit", "set_param": "Edit", "edit": "Edit",
              "set_holdout": "Hold out cells", **LoadCommands.titles, **XlsxCommands.titles,
              **HistoryCommands.titles, **RaceCommands.titles, **NewUserCommands.titles}

    def __init__(self, mailbox: Mailbox | None = None, device: str | None = None, top: int = DEFAULT_TOP,
                 config: SheetConfig | None = None, settings: OptimizerSettings | None = None,
                 clock: FrameClock | None = None) -> None:
        Runner.__init__(self, mailbox or Mailbox(Frame), clock)
        self.device = device
        self.top = top
        self.config, self.settings = config or SheetConfig(), settings or OptimizerSettings()
        self.sheet: Sheet | None = None
        self.timeline: Timeline | None = None  # records every step and change of the sheet
        self.pacer = Pacer(lambda: self.clock, MAX_CHUNK)  # Play's pace (steps per second) and chunks
        self.playing = False
        self.remaining: int | None = None  # steps left of a Step ×N
        self._selected: tuple[str, tuple] | None = None  # the cell the explain panel shows
        self._shown = None  # the last snapshot published
        self.show_blanks = False  # whether frames carry predictions for the blank cells
        self._recommended_at = 0.0
        self.curves = BranchCurves(lambda points: self.mailbox.put(losses=points))
        self._solves = 0
        # The command groups: each sees this runner only as a gui.sheet.host.SheetHost.
        self.loader = LoadCommands(self)
        self.history = HistoryCommands(self)
        self.race = RaceCommands(self, changed=self.history.fresh_evidence)
        self.newuser = NewUserCommands(self)
        self.xlsx = XlsxCommands(self)
        self.commands = {  # what the GUI may send, by name (gui.runtime.channel)
            **{name: getattr(self, name) for name in (
                "step", "step_n", "play", "pause", "set_rate", "solve", "reset", "set_optimizer", "set_holdout",
                "configure", "edit", "set_rating", "set_param", "select", "set_show_blanks")},
            "load": self.loader.load,
            "seek": self.history.seek, "resume": self.history.resume, "rewind": self.history.rewind,
            "start_race": self.race.start, "stop_race": self.race.stop, "take_racer": self.race.take,
            "add_me": self.newuser.add_me, "fold_in": self.newuser.fold_in, "use_model": self.newuser.use_model,
            "check_xlsx": self.xlsx.check_xlsx, "export_xlsx": self.xlsx.export_xlsx,
            "import_xlsx": self.xlsx.import_xlsx,
        }

    @property
    def rate(self) -> float | None:
        """Play's steps per second; None runs flat out."""
        return self.pacer.rate

    # --- running -----------------------------------------------------------------------------
    def step(self, n: int = 1) -> StepResult | None:
        """n updates at once; the snapshot is published after them."""
        if self.sheet is None or self.playing:
            return None
        result = self._steps(n)
        self.publish(DIVERGED if result.diverged else None)
        if result.diverged:
            self.emit("diverged")
        return result

    def step_n(self, n: int) -> None:
        """n updates in chunks like Play, so Stop and edits are answered meanwhile."""
        if self.sheet is None or self.playing:
            return
        self.remaining = n
        self._start()

    def play(self, on: bool) -> None:
        """Play (steps until paused) or pause."""
        if not on:
            self.pause()
            return
        if self.sheet is not None and not self.playing:
            self._start()

    def _start(self) -> None:
        self.pacer.start()
        self.playing = True
        self.mailbox.put(diagnosis=None, diagnosed=True)  # the coach speaks again when the run stops
        self.set_state(RunState.PLAYING)

    def pause(self) -> None:
        """Stop Play or a Step ×N between chunks."""
        self.remaining = None
        if self.playing:
            self.playing = False
            self.publish()
            self.set_state(RunState.IDLE)

    def halt(self) -> None:
        self.remaining, self.playing = None, False
        self.race.halt()

    def set_rate(self, rate: float | None) -> None:
        """Play's pace in steps per second (None: as fast as possible)."""
        self.pacer.set_rate(rate)

    def tick(self) -> float | None:
        """One chunk of Play or Step ×N, and of a race; how long to wait before the next."""
        waits = [wait for wait in (self._play_tick(), self.race.tick()) if wait is not None]
        return min(waits) if waits else None

    def _play_tick(self) -> float | None:
        if not self.playing:
            return None
        limit = MAX_CHUNK if self.remaining is None else min(self.remaining, MAX_CHUNK)
        paced = self.rate is not None and self.remaining is None
        if paced:
            n = self.pacer.due(limit)
            if not n:
                return self.pacer.ahead_wait()
            result = self._published(self.pacer.paced_chunk(self._steps, n))
        else:
            result = self.play_chunk(limit=limit)
        if self.remaining is not None:
            self.remaining -= result.steps
            if self.remaining <= 0:
                self.pause()
        if result.diverged:
            self.pause()
            self.publish(DIVERGED)
            self.emit("diverged")
        if not self.playing:
            return None
        return self.pacer.next_wait(paced)

    def failed(self, command: str, text: str) -> None:
        super().failed(command, text)
        if command == "tick":
            self.pause()
            self.race.halt()

    def play_chunk(self, budget_s: float | None = None, limit: int = MAX_CHUNK) -> StepResult:
        """A chunk of steps sized to take about budget_s (the pacer's by default); publishes at most FRAME_S apart."""
        return self._published(self.pacer.chunk_of(self._steps, limit, budget_s))

    def _published(self, result: StepResult) -> StepResult:
        """After a chunk: a frame when it diverged, or when one is due."""
        if result.diverged or self.clock.due(FRAME_S):
            self.publish()
        return result

    def _steps(self, n: int) -> StepResult:
        """n steps through the timeline; the curve gets the RMSE after each newly recorded one (a replay of a
        recorded stretch draws nothing: it is on the plot already), so it ends where the sheet is now."""
        branch = self.timeline.branch
        start, head = self.sheet.steps, branch.end
        result = self.timeline.step(n)
        if self.sheet.steps > head:
            cut = head - start  # states[cut] is the old head, where the new points join the branch's curve
            states = np.append(result.losses, self.sheet.rmse())[cut:]
            held = None
            if self.sheet.held is not None:
                held = np.append(result.holdout_losses, self.sheet.holdout_rmse())[cut:]
            self.curves.extend(branch.id, self.run_label(), head, states, held)
        return result

    def settings_label(self) -> str:
        s = self.sheet.settings
        return f"{s.label} · lr {s.lr:g}"

    def run_label(self) -> str:
        """The legend's name for what the run does now: its settings, and its branch past the first."""
        branch = self.timeline.branch
        return self.settings_label() + (f" · branch {self.history.number(branch.id)}" if branch.parent is not None
                                        else "")

    def solve(self) -> SolveResult | None:
        """The engine's solver, reporting progress; Stop (`stop`) cancels its task between chunks."""
        if self.sheet is None:
            return None
        self.pause()
        self.set_state(RunState.SOLVING)
        try:
            result = self._solve()
            self.emit("solved", result)
            return result
        finally:
            self.set_state(RunState.IDLE)

    def _solve(self) -> SolveResult:
        """Its iterations on their own axis (the solve inset); on the steps' axis, a marker where it landed."""
        self._solves += 1
        series, label = -self._solves, SOLVE_LABEL
        self.mailbox.put(losses=Points(series, label, 0, np.array([self.sheet.rmse()]), DASHED, SOLVE_AXIS))
        waited = [time.perf_counter()]

        def heard(report: Report) -> None:
            # Reports come every iteration; the GUI gets a chance to draw them once a frame, not each time.
            if time.perf_counter() - waited[0] > SOLVE_FRAME_S:
                self.clock.wait_for_gui()
                waited[0] = time.perf_counter()
            iterations, rmse = report.figures["iterations"], report.figures["rmse"]
            self.mailbox.put(losses=Points(series, label, iterations, np.array([rmse]), DASHED, SOLVE_AXIS),
                             solving=(iterations, rmse))

        result = self.timeline.solve(task=self.task(heard))
        self.curves.close(self.timeline.branch.id)  # the next steps go on from the solved factors, in a new series
        self.curves.mark(self.sheet.steps, result.rmse, SOLVE_LABEL)
        self.publish()
        return result

    def reset(self, seed: int) -> None:
        """New random factors from `seed`, a fresh optimizer, and new loss curves."""
        if self.sheet is None:
            return
        self.pause()
        self.timeline.reset(seed)  # a new root: the old tree stays in the timeline, its curves go
        self.config = replace(self.config, seed=seed)
        self.newuser.reshaped()
        self._new_run()

    def configure(self, config: SheetConfig, top: int) -> None:
        """A new k, biases or squashing keeps the run (Sheet.reconfigure); a new top-N rebuilds the sheet."""
        if self.sheet is None or (top != self.top and self.loader.ratings is None):  # nothing to rebuild from yet
            self.config, self.top = config, top
            return
        was_playing = self.playing
        self.pause()
        if top == self.top and self.sheet is not None:
            self.timeline.reconfigure(replace(config, seed=self.sheet.config.seed))
            self.config = self.sheet.config
            self.curves.close(self.timeline.branch.id)  # the curve goes on, in a new series, from here
            self.history.fresh_evidence()
            self.newuser.reshaped()
            self.publish(RESHAPED)
        else:
            sheet = self.loader.build(top_crosstab(self.loader.ratings, top), config)
            self.top, self.config = top, config
            self.install(sheet)
        if was_playing:
            self.play(True)

    def install(self, sheet: Sheet) -> None:
        """Run on this sheet from now (loaded, rebuilt or imported): its config and optimizer, a new timeline and run."""
        self.sheet = sheet
        self.config, self.settings = sheet.config, sheet.settings
        self.timeline = new_timeline(sheet)
        self.newuser.new_sheet(sheet)
        self._new_run()

    def _new_run(self) -> None:
        """Fresh curves, with an unlabelled point at the loss the run starts from (the first step lands on it)."""
        snap = self.sheet.snapshot()
        self.curves.clear()
        # One put brings the cleared curves and the new sheet together: a frame taken between the two would show
        # the old sheet's controls waiting for the engine.
        self._publish(snap, clear=True, top=self.top, transition=NEW_SHEET)
        self.curves.mark(snap.step, snap.rmse, START_LABEL)

    def set_optimizer(self, settings: OptimizerSettings) -> None:
        """Change rule or settings and keep the parameters (at a past step: a new branch from there)."""
        self.settings = settings
        if self.sheet is not None:
            self.timeline.set_optimizer(settings)
            self.history.fresh_evidence()
            self.publish()

    def set_holdout(self, on: bool) -> None:
        """Hold out a seeded fifth of the rated cells (left out of the loss, scored apart), or put them back."""
        if self.sheet is None or on == (self.sheet.held is not None):
            return
        if on:
            self.timeline.set_holdout(HOLDOUT_FRACTION, HOLDOUT_SEED)
        else:
            self.timeline.clear_holdout()
        self.curves.close(self.timeline.branch.id)  # the loss counts other cells from here: a new series
        self.publish()

    # --- edits and selection -----------------------------------------------------------------
    def edit(self, block: str, index: tuple, value) -> None:
        """Type into a cell: a rating (None blanks it) or a factor or bias."""
        if self.sheet is None:
            return
        if self.newuser.edit(block, tuple(index), value):
            pass
        elif block == "rating":
            self.timeline.set_rating(index[0], index[1], value)
        else:
            self.timeline.set_param(block, tuple(index), value)
        self.publish()

    def set_rating(self, i: int, j: int, value: float | None) -> None:
        self.edit("rating", (i, j), value)

    def set_param(self, block: str, index: tuple[int, ...], value: float) -> None:
        self.edit(block, index, value)

    def select(self, kind: str | None, index: tuple = ()) -> None:
        """Which cell the explain panel shows (None: none); its explanation comes with every frame."""
        self._selected = None if kind is None else (kind, tuple(index))
        if self._shown is not None:  # explained with the numbers on screen: no new snapshot for a click
            self.mailbox.put(explanation=self._explain(self._shown), explained=True)

    # --- frames ------------------------------------------------------------------------------
    def publish(self, transition: str | None = None) -> None:
        """Put the current snapshot, explained, in the mailbox (with the transition it follows, if any)."""
        with self.clock.publishing():
            self._publish(self.sheet.snapshot(), transition=transition)

    def _publish(self, snap, **more) -> None:
        self._shown = snap
        display = self.newuser.displayed(snap)
        self.mailbox.put(snapshot=snap, display=display, explanation=self._explain(snap), explained=True,
                         device=self.loader.device_label, timeline=self.history.info(), **self.newuser.frame(snap),
                         **self._extras(display), **self.history.coach(snap), **more)

    def _extras(self, snap) -> dict:
        """Predictions for the blank cells when they are shown, and each user's top unrated movies (for the
        row headers' tooltips; at most every RECOMMEND_EVERY_S while running, on sheets of MAX_RECOMMENDED users)."""
        from collabsheet.engine.sheet import recommend

        out = {}
        if self.show_blanks:
            out["blank_predictions"] = recommend.blank_predictions(snap)
        now = time.perf_counter()
        if len(snap.user_ids) <= MAX_RECOMMENDED and (not self.playing or now - self._recommended_at > RECOMMEND_EVERY_S):
            self._recommended_at = now
            top = recommend.top_unrated(snap)
            out["recommendations"] = {i: recommend.describe(snap, i, recs) for i, recs in top.items()}
        return out

    def set_show_blanks(self, on: bool) -> None:
        """Whether frames carry the predictions for the blank cells (the lesson's test data)."""
        self.show_blanks = bool(on)
        if self.sheet is not None:
            self.publish()

    def _explain(self, snap):
        if self._selected is None:
            return None
        from collabsheet.engine.sheet import explain
        from collabsheet.gui.sheet.holdout_notes import with_holdout

        kind, index = self._selected
        try:
            new_user = self.newuser.new_user
            if new_user is not None and kind in NEW_USER_KINDS and index[0] == snap.ratings.shape[0]:
                return new_user.explain(self.newuser.displayed(snap), kind, index)
            return with_holdout(explain.explain(snap, kind, index), snap, kind, index)
        except (ValueError, IndexError):  # the sheet changed shape under the selection
            return None
