"""collabsheet in a notebook or a script: the engine behind the app, with the lesson's data and names.

    import collabsheet
    ratings = collabsheet.load_ratings()            # MovieLens, as the app loads it (a path for your own file)
    grid = collabsheet.crosstab(ratings)            # the 15 most active users × the 15 most rated movies
    sheet = collabsheet.Sheet(grid)                 # random factors; shows itself as the lesson's coloured table
    sheet.step(500)                                 # gradient descent (Adam by default; see OptimizerSettings)
    sheet.solve()                                   # or converge as Excel's Solver does
    sheet.solve(task=collabsheet.Task(lambda r: print(dict(r.figures))))   # long calls take a Task: they report to
                                                    # it, and task.cancel() (from any thread) stops them
    run = collabsheet.train(ratings, "fast")       # the lesson's Python half: a recipe on every rating
    book = collabsheet.open_workbook("collab_filter.xlsx")   # ours or the course's own workbook

Nothing here imports Qt. The window is `collabsheet` on the command line, or `python -m collabsheet.gui`.
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

# In a source checkout engine/ and gui/ sit beside this folder (installed, they are inside it): let Python find
# collabsheet.engine there too, so `PYTHONPATH=. python …` works without an install.
_beside = Path(__file__).resolve().parent.parent
if not (Path(__file__).parent / "engine").is_dir() and (_beside / "engine" / "__init__.py").is_file():
    __path__.append(str(_beside))  # noqa: F821 (a package's own __path__)

from collabsheet.engine.config import OptimizerSettings, SheetConfig  # noqa: E402  (torch- and pandas-free)
from collabsheet.engine.task import Cancelled, Report, Task  # noqa: E402  (as light)

if TYPE_CHECKING:
    from collabsheet.engine.data.crosstab import Crosstab
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.sheet.sheet import Sheet as Sheet
    from collabsheet.engine.train.learn import Learned
    from collabsheet.engine.xlsx.collab.read import ImportedSheet

__all__ = ["OptimizerSettings", "SheetConfig", "Crosstab", "Ratings", "Sheet", "Task", "Report", "Cancelled",
           "load_ratings", "crosstab", "train", "open_workbook", "recipes"]


def load_ratings(path: str | PathLike | None = None, task: Task | None = None, **columns) -> Ratings:
    """Ratings from a file (MovieLens formats or any CSV/TSV; columns by name: user_col=, item_col=, rating_col=,
    sep=), or MovieLens as the app finds it (the prepared copy, GroupLens, or the PyPI wheel) when no path is given.
    A task hears what is read or downloaded; cancelled, the read raises Cancelled."""
    if path is None:
        from collabsheet.engine.data.movielens import default_ratings

        return default_ratings(task=task)
    from collabsheet.engine.data.ratings import load_ratings as load

    return load(path, task=task, **columns)


def crosstab(ratings: Ratings, top: int = 15, movies: int | None = None) -> Crosstab:
    """The `top` users with the most ratings × the `movies` (default `top`) most rated movies, as the lesson's sheet."""
    from collabsheet.engine.data.crosstab import top_crosstab

    return top_crosstab(ratings, top, movies)


def train(ratings: Ratings, recipe: str = "fast", task: Task | None = None, **settings) -> Learned:
    """Train one of the lesson's recipes (collabsheet.recipes()) on every rating, settings overriding the recipe's
    (epochs=, lr=, wd=, factors=, bs=, …); a seeded 80/20 split validates it (seed=, valid=, device= go to learn).
    A task hears each batch and epoch (Report.result is a BatchEvent or an EpochEvent); cancelled, the run ends
    after the batch under way, and the model as it stands is returned (`.history.stopped`)."""
    from collabsheet.engine.train.learn import learn
    from collabsheet.engine.train.recipes import recipe as named

    options = {k: settings.pop(k) for k in ("seed", "valid", "device") if k in settings}
    chosen = named(recipe)
    return learn(ratings, chosen.with_(**settings) if settings else chosen, task=task, **options)


def recipes() -> dict[str, str]:
    """The training recipes by name, each with what it is."""
    from collabsheet.engine.train.recipes import RECIPES

    return {name: r.about for name, r in RECIPES.items()}


def open_workbook(path: str | PathLike, sheet: str | None = None) -> ImportedSheet:
    """A workbook read back: collabsheet's own export or the course's collab_filter.xlsx (`sheet` picks its tab).
    `.grid`, `.params` and `.config` rebuild the sheet: collabsheet.Sheet(book.grid, book.config) and
    sheet.load_state_dict(sheet.params_state(book.params))."""
    from collabsheet.engine.xlsx.open import import_workbook

    return import_workbook(path, sheet)


# Imported on first use: the window imports this package before its first frame, which needs neither pandas (the
# ratings and crosstab types) nor torch (the Sheet).
_LATER = {"Sheet": "collabsheet.engine.sheet.sheet", "Crosstab": "collabsheet.engine.data.crosstab",
          "Ratings": "collabsheet.engine.data.ratings"}


def __getattr__(name: str):
    """Sheet, Crosstab and Ratings on first use."""
    if name in _LATER:
        import importlib

        return getattr(importlib.import_module(_LATER[name]), name)
    raise AttributeError(f"module 'collabsheet' has no attribute {name!r}")
