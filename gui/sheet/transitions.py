"""What each transition of the Sheet tab clears or re-derives in every view: the one place that decides it.

A transition is a command after which what the views show of the run before it no longer holds: a new sheet (a
file opened, a new top-N, Reset, a workbook imported), a reshape (k, biases or the sigmoid), a racer taken, another
branch (picked, or the coach's rewind), a divergence. The runner names the transitions a frame follows
(`Frame.transitions`, Qt-free); `SheetTransitions.apply` does, in one order, the union of what `EFFECTS` lists for
them. The boxes over the cells are re-placed on every frame (QSheetTab._place_marks), after the table took the
frame's layout: a box kept from the layout before (a column more with biases, a row less in another dataset)
lands on the wrong cells. Qt-free: the runner imports the names.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.frames import Frame

NEW_SHEET = "new sheet"  # opened, rebuilt for a new top-N, Reset, imported: another run
RESHAPED = "reshaped"  # k, biases or squashing changed; the run goes on
TAKEN = "taken"  # a racer's factors and optimizer put into the sheet
BRANCHED = "branched"  # another branch picked, or the coach's rewind to a past step
DIVERGED = "diverged"  # a step was refused: the sheet kept its last good parameters

# What a transition does to each view, by name (applied in the order of ORDER):
#   loss_plot: the old run's curves, start dot and ranges go; controls: the boxes show the frame's settings;
#   top: the top-N box shows the sheet's; edits: undo and edit marks of the old run go; coach: a verdict not
#   measured on this run goes (a frame that brings a new one shows that); message: the status bar's passing
#   message of the old state goes; explain: the panel asks again for the selected cell, on the new layout.
EFFECTS: dict[str, frozenset[str]] = {
    NEW_SHEET: frozenset({"loss_plot", "controls", "top", "edits", "coach", "message", "explain"}),
    RESHAPED: frozenset({"controls", "coach", "message", "explain"}),
    TAKEN: frozenset({"controls", "coach", "message"}),
    BRANCHED: frozenset({"controls", "coach", "message"}),
    DIVERGED: frozenset({"controls"}),  # its message comes with the event, after the frame
}
ORDER = ("loss_plot", "controls", "top", "edits", "coach", "message", "explain")
Effect = Callable[["Frame", "Snapshot | None"], None]  # (the frame, the snapshot shown before it)


def effects(transitions: tuple[str, ...]) -> list[str]:
    """What the transitions ask, each once, in the order they are applied."""
    asked = frozenset().union(*(EFFECTS[t] for t in transitions))
    return [name for name in ORDER if name in asked]


class SheetTransitions:
    """Applies a frame's transitions: the tab supplies how each view is cleared, this table decides when."""

    def __init__(self, views: dict[str, Effect]) -> None:
        missing = set(ORDER) - set(views)
        if missing:  # a view the table names but nobody clears would go stale again
            raise ValueError(f"no effect for {sorted(missing)}")
        self.views = views

    def apply(self, frame: Frame, previous: Snapshot | None) -> list[str]:
        """Before the table shows the frame: clear or re-derive what its transitions make stale; what was done."""
        done = effects(tuple(frame.transitions))
        for name in done:
            self.views[name](frame, previous)
        return done
