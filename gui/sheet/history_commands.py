"""The Sheet runner's commands on the run's history (Qt-free; worker thread): seek, resume a branch, take a fix.

The Timeline (engine.sheet.timeline) records every step and change; these commands move the sheet in it, and
say where it is (a TimelineInfo with every frame) and what the coach makes of the run up to there.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collabsheet.engine.config import OptimizerSettings
from collabsheet.gui.sheet.frames import BranchInfo, TimelineInfo
from collabsheet.gui.sheet.transitions import BRANCHED

if TYPE_CHECKING:
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.host import SheetHost

COACH_WINDOW = 1000  # the coach reads this many of the latest steps


class HistoryCommands:
    """Seek, resume and rewind the host's sheet in its timeline; where it is, and the coach's verdict, for its frames."""

    titles = {"seek": "Timeline", "resume": "Timeline", "rewind": "Coach"}

    def __init__(self, host: SheetHost) -> None:
        self.host = host
        self._evidence_from: tuple[int, int] | None = None  # (branch, step) of the last change the coach must not read past

    def seek(self, step: int, branch: int | None = None) -> None:
        """Show the sheet exactly as it was at `step` (on the path to `branch`, the current one by default)."""
        if self.host.sheet is None:
            return
        self.host.pause()
        before = self.host.timeline.branch.id
        self.host.timeline.seek(int(step), branch)
        self.host.settings = self.host.sheet.settings
        self.host.publish(BRANCHED if self.host.timeline.branch.id != before else None)

    def resume(self, branch: int) -> None:
        """Go to a branch's head, to go on from where it stopped."""
        if self.host.sheet is None:
            return
        self.host.pause()
        self.host.timeline.resume(branch)
        self.host.settings = self.host.sheet.settings
        self.host.publish(BRANCHED)

    def rewind(self, step: int, settings: OptimizerSettings) -> None:
        """The coach's fix: back to `step`, going on with `settings` from there (a new branch when in the past)."""
        if self.host.sheet is None:
            return
        self.host.pause()
        self.host.timeline.rewind(int(step), settings)
        self.host.settings = settings
        self.host.publish(BRANCHED)
        self.host.emit("notice", f"Back at step {step:,} with {settings.label}, lr {settings.lr:g}: press Step or Play to "
                            "go on from there")

    def _run_ids(self) -> list[int]:
        """The ids of the branches of the run the sheet is on, ascending (a Reset starts another tree). Read from the
        branches' parents only: the loss plot's legend asks at every chunk a branch records."""
        parent = {b.id: b.parent for b in self.host.timeline.branches}

        def root(i: int) -> int:
            while parent[i] is not None:
                i = parent[i]
            return i

        mine = root(self.host.timeline.branch.id)
        return sorted(i for i in parent if root(i) == mine)

    def number(self, branch: int) -> int:
        """The number a branch is shown with: the timeline's ids go on across Resets, a run's branches count from 1.
        One numbering for the picker and the loss plot's legend."""
        return 1 + self._run_ids().index(branch)

    def info(self) -> TimelineInfo:
        """Where the sheet is in its history, with the branches of this run (a Reset starts another tree)."""
        tl = self.host.timeline
        ids = self._run_ids()
        run = [v for v in tl.view() if v.id in ids]
        branches = tuple(BranchInfo(v.id, v.parent, v.fork, v.end, branch_label(v), 1 + ids.index(v.id)) for v in run)
        fork = next(v.fork for v in run if v.id == ids[0])  # the run's root: the smallest id of its tree
        return TimelineInfo(tl.branch.id, self.host.sheet.steps, fork, tl.branch.end, branches,
                            dict(self.host.curves.series))

    def fresh_evidence(self) -> None:
        """A change of settings, model or factors at this step: the coach reads only the steps after it."""
        self._evidence_from = (self.host.timeline.branch.id, self.host.sheet.steps)

    def coach(self, snap: Snapshot) -> dict:
        """The coach's verdict on the run up to this step, whenever the run stands still (a diverging run stops)."""
        if self.host.playing:  # a verdict that changed twice a second would move the sheet up and down while it runs
            return {}
        from collabsheet.engine.sheet import coach

        first = max(snap.step - COACH_WINDOW, 0)
        since = self._evidence_from
        if since is not None and since[0] == self.host.timeline.branch.id and snap.step >= since[1]:
            first = max(first, since[1] + 1)  # the steps before the change were measured under other settings
        curve = self.host.timeline.curve(start=first, stop=snap.step, path=True) if first <= snap.step else None
        if curve is None or not len(curve.steps):
            return {"diagnosis": coach.diagnose_snapshot(np.zeros(0), snap, snap.step), "diagnosed": True}
        start = int(curve.steps[0])
        return {"diagnosis": coach.diagnose_snapshot(curve.losses, snap, start), "diagnosed": True}


def branch_label(view) -> str:
    """A branch as the picker names it: its first settings, and its settings now when they changed along it (a racer
    taken, another lr), so a branch that took Momentum does not go on being called Adam."""
    first, last = view.segments[0][1], view.segments[-1][1]
    name = f"{first.label} · lr {first.lr:g}"
    if len(view.segments) == 1:
        return name
    return f"{name} …" if last == first else f"{name} → {last.label} · lr {last.lr:g}"
