"""The Sheet runner's commands for a new user's row (Qt-free; worker thread): add it, type into it, fold it in."""
from __future__ import annotations

from typing import TYPE_CHECKING

from collabsheet.gui.sheet.newuser import USER_BLOCKS, NewUser, load_movies

if TYPE_CHECKING:
    from collabsheet.engine.sheet.sheet import Sheet
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.newuser import ModelMovies
    from collabsheet.gui.sheet.runner import SheetRunner


class NewUserCommands:
    """Mixed into SheetRunner: `self` is the runner, with its sheet and mailbox."""

    titles = {"add_me": "Add me", "fold_in": "Fold in", "use_model": "Use a trained model"}

    def __init__(self) -> None:
        self.me: NewUser | None = None
        self.trained: ModelMovies | None = None  # a trained model's movies to fold the new user into

    def add_me(self: SheetRunner, on: bool = True) -> None:
        """Add a row for the person using the app under the sheet's users (or take it away)."""
        if self.sheet is None or on == (self.me is not None):
            return
        self.me = NewUser(self.sheet.grid.item_ids) if on else None
        if self.me is not None:
            self.me.use(self.trained)
        self.publish()

    def fold_in(self: SheetRunner) -> None:
        """Fit the new row's factors (and bias) to its ratings with every movie frozen."""
        if self.sheet is None or self.me is None:
            raise ValueError("Add me first: your row is where you rate the movies to fold in")
        self.me.fold_in(self.sheet.snapshot())
        self.publish()
        where = f"the movies of {self.trained.name}" if self.trained is not None else "the sheet's movies"
        self.emit("notice", f"Folded you in at step {self.sheet.steps:,}, with {where} frozen")

    def use_model(self: SheetRunner, path: str) -> None:
        """Fold the new user into a trained model's movies (a file the Training tab saved); "" for the sheet's."""
        self.trained = load_movies(path) if path else None
        if self.me is not None:
            self.me.use(self.trained)
        self.emit("model_used", self.trained.name if self.trained is not None else "")
        if self.sheet is not None:
            self.publish()

    def edit_me(self: SheetRunner, block: str, index: tuple, value) -> bool:
        """Apply an edit to the new row if it is in that row; whether it was."""
        if self.me is None or block not in ("rating",) + USER_BLOCKS or index[0] != self.sheet.n_users:
            return False
        if block == "rating":
            self.me.set_rating(index[1], value)
        else:
            self.me.set_param(block, index, value)
        return True

    def me_frame(self, snap: Snapshot) -> dict:
        return {"me": self.me.row(snap) if self.me is not None else None, "me_sent": True}

    def displayed(self, snap: Snapshot) -> Snapshot:
        """What the table shows: the snapshot, with the new row under the others when there is one."""
        return self.me.extend(snap) if self.me is not None else snap

    def new_sheet(self, sheet: Sheet) -> None:
        """Another sheet: the new row keeps the ratings of the movies it still has."""
        if self.me is None:
            return
        old = dict(zip(self.me.item_ids, self.me.ratings))
        self.me = NewUser(sheet.grid.item_ids)
        self.me.use(self.trained)
        for j, item in enumerate(sheet.grid.item_ids):
            rating = old.get(item)
            if rating is not None and rating == rating:  # rated on the old sheet too
                self.me.set_rating(j, float(rating))

    def reshaped(self) -> None:
        """k, biases or the factors changed: a fit on the sheet's movies no longer holds."""
        if self.me is not None and self.me.model is None:
            self.me.forget_fit()
