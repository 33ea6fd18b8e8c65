"""The Sheet runner's commands for a new user's row (Qt-free; worker thread): add it, type into it, fold it in."""
from __future__ import annotations

from typing import TYPE_CHECKING

from collabsheet.gui.sheet.newuser import USER_BLOCKS, NewUser, load_movies

if TYPE_CHECKING:
    from collabsheet.engine.sheet.sheet import Sheet
    from collabsheet.engine.sheet.snapshot import Snapshot
    from collabsheet.gui.sheet.host import SheetHost
    from collabsheet.gui.sheet.newuser import ModelMovies


class NewUserCommands:
    """The row of the person using the app, under the host's sheet's users, and the movies it folds into."""

    titles = {"add_me": "Add me", "fold_in": "Fold in", "use_model": "Use a trained model"}

    def __init__(self, host: SheetHost) -> None:
        self.host = host
        self.new_user: NewUser | None = None
        self.trained: ModelMovies | None = None  # a trained model's movies to fold the new user into

    def add_me(self, on: bool = True) -> None:
        """Add a row for the person using the app under the sheet's users (or take it away)."""
        sheet = self.host.sheet
        if sheet is None or on == (self.new_user is not None):
            return
        self.new_user = NewUser(sheet.grid.item_ids) if on else None
        if self.new_user is not None:
            self.new_user.use(self.trained)
        self.host.publish()

    def fold_in(self) -> None:
        """Fit the new row's factors (and bias) to its ratings with every movie frozen."""
        sheet = self.host.sheet
        if sheet is None or self.new_user is None:
            raise ValueError("Add me first: your row is where you rate the movies to fold in")
        self.new_user.fold_in(sheet.snapshot())
        self.host.publish()
        where = f"the movies of {self.trained.name}" if self.trained is not None else "the sheet's movies"
        self.host.emit("notice", f"Folded you in at step {sheet.steps:,}, with {where} frozen")

    def use_model(self, path: str) -> None:
        """Fold the new user into a trained model's movies (a file the Training tab saved); "" for the sheet's."""
        self.trained = load_movies(path) if path else None
        if self.new_user is not None:
            self.new_user.use(self.trained)
        self.host.emit("model_used", self.trained.name if self.trained is not None else "")
        if self.host.sheet is not None:
            self.host.publish()

    def edit(self, block: str, index: tuple, value) -> bool:
        """Apply an edit to the new row if it is in that row; whether it was."""
        if self.new_user is None or block not in ("rating",) + USER_BLOCKS or index[0] != self.host.sheet.n_users:
            return False
        if block == "rating":
            self.new_user.set_rating(index[1], value)
        else:
            self.new_user.set_param(block, index, value)
        return True

    def frame(self, snap: Snapshot) -> dict:
        """The frame's fields for the new row (None when there is none)."""
        return {"new_user": self.new_user.row(snap) if self.new_user is not None else None, "new_user_sent": True}

    def displayed(self, snap: Snapshot) -> Snapshot:
        """What the table shows: the snapshot, with the new row under the others when there is one."""
        return self.new_user.extend(snap) if self.new_user is not None else snap

    def new_sheet(self, sheet: Sheet) -> None:
        """Another sheet: the new row keeps the ratings of the movies it still has."""
        if self.new_user is None:
            return
        old = dict(zip(self.new_user.item_ids, self.new_user.ratings))
        self.new_user = NewUser(sheet.grid.item_ids)
        self.new_user.use(self.trained)
        for j, item in enumerate(sheet.grid.item_ids):
            rating = old.get(item)
            if rating is not None and rating == rating:  # rated on the old sheet too
                self.new_user.set_rating(j, float(rating))

    def reshaped(self) -> None:
        """k, biases or the factors changed: a fit on the sheet's movies no longer holds."""
        if self.new_user is not None and self.new_user.model is None:
            self.new_user.forget_fit()
