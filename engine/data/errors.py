"""The one error of every ratings source: one line naming the file and what is wrong, and the setting at fault."""
from __future__ import annotations

from pathlib import Path


class RatingsError(ValueError):
    """A ratings source could not be used; str(error) is one line naming the file and what is wrong.

    role names the setting the message is about, so that each front end can point at its own field or
    option: 'user', 'item' or 'rating' (which column holds them), 'sep' (the separator) or 'top' (how many
    users and items the sheet takes); None when the file itself is at fault.
    """

    def __init__(self, message: str, role: str | None = None) -> None:
        super().__init__(message)
        self.role = role


def ratings_error(label: str | Path, what: str, role: str | None = None) -> RatingsError:
    return RatingsError(f"{label}: {what}".replace("\r", " ").replace("\n", " "), role)
