"""The Sheet runner's commands on the run's history (Qt-free; worker thread): seek, resume a branch, take a fix.

The Timeline (engine.sheet.timeline) records every step and change; these commands move the sheet in it, and
say where it is (a TimelineInfo with every frame) and what the coach makes of the run up to there.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from collabsheet.engine.config import OptimizerSettings
from collabsheet.gui.sheet.frames import BranchInfo, TimelineInfo

if TYPE_CHECKING:
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.runner import SheetRunner

COACH_WINDOW = 1000  # the coach reads this many of the latest steps


class HistoryCommands:
    """Mixed into SheetRunner: `self` is the runner, with its sheet, timeline and curves."""

    titles = {"seek": "Timeline", "resume": "Timeline", "rewind": "Coach"}

    def seek(self: SheetRunner, step: int, branch: int | None = None) -> None:
        """Show the sheet exactly as it was at `step` (on the path to `branch`, the current one by default)."""
        if self.sheet is None:
            return
        self.pause()
        self.timeline.seek(int(step), branch)
        self.settings = self.sheet.settings
        self.publish()

    def resume(self: SheetRunner, branch: int) -> None:
        """Go to a branch's head, to go on from where it stopped."""
        if self.sheet is None:
            return
        self.pause()
        self.timeline.resume(branch)
        self.settings = self.sheet.settings
        self.publish()

    def rewind(self: SheetRunner, step: int, settings: OptimizerSettings) -> None:
        """The coach's fix: back to `step`, going on with `settings` from there (a new branch when in the past)."""
        if self.sheet is None:
            return
        self.pause()
        self.timeline.rewind(int(step), settings)
        self.settings = settings
        self.publish()
        self.emit("notice", f"Back at step {step:,} with {settings.label}, lr {settings.lr:g}: press Step or Play to "
                            "go on from there")

    def _timeline_info(self: SheetRunner) -> TimelineInfo:
        """Where the sheet is in its history, with the branches of this run (a Reset starts another tree)."""
        tl = self.timeline
        views = {v.id: v for v in tl.view()}

        def root(v) -> int:
            while v.parent is not None:
                v = views[v.parent]
            return v.id

        mine = root(views[tl.branch.id])
        branches = tuple(BranchInfo(v.id, v.parent, v.fork, v.end, v.label) for v in views.values() if root(v) == mine)
        return TimelineInfo(tl.branch.id, self.sheet.steps, views[mine].fork, tl.branch.end, branches,
                            dict(self.curves.series))

    def _coach(self: SheetRunner, snap: Snapshot) -> dict:
        """The coach's verdict on the run up to this step, whenever the run stands still (a diverging run stops)."""
        if self.playing:  # a verdict that changed twice a second would move the sheet up and down while it runs
            return {}
        from collabsheet.engine.sheet import coach

        curve = self.timeline.curve(start=max(snap.step - COACH_WINDOW, 0), stop=snap.step, path=True)
        start = int(curve.steps[0]) if len(curve.steps) else snap.step
        return {"diagnosis": coach.diagnose_snapshot(curve.losses, snap, start), "diagnosed": True}
