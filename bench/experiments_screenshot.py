"""README's picture of the experiments table: two short runs trained in the Training tab, their curves overlaid.

Run under a display: xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python bench/experiments_screenshot.py [OUT.png [WxH]]
The runs go to a database of their own in a temporary folder (COLLABSHEET_DATA), never the user's; the window is
1280×800 (or WxH) and is grabbed from the screen (QScreen.grabWindow), as the X server shows it.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from screenshots import settle, wait  # bench/screenshots.py: run the event loop until, and for a moment

OUT = Path(__file__).resolve().parent.parent / "resources" / "experiments.png"
RUNS = (("fast", {"epochs": 4}), ("lesson-dotbias", {"epochs": 3}))  # recipe, fields changed in the form


def main(out: Path, size: tuple[int, int] = (1280, 800)) -> int:
    folder = tempfile.mkdtemp(prefix="collabsheet-runs-")
    os.environ["COLLABSHEET_DATA"] = folder
    from collabsheet.gui.app import open_window, parser

    app, w = open_window(parser().parse_args([]))
    w.resize(*size)
    wait(app, lambda: w.sheet.snapshot is not None)
    w.tabs.setCurrentWidget(w.train)
    tab = w.train
    wait(app, lambda: "ratings" in tab.controls.ratings.text() and tab.state == "idle")
    for recipe, fields in RUNS:
        tab.controls.recipe.setCurrentIndex(tab.controls.recipe.findData(recipe))
        for name, value in fields.items():
            getattr(tab.controls, name).setValue(value)
        tab.train()
        wait(app, lambda: tab.results is not None and tab.state == "idle", timeout=120.0)
    table = tab.experiments
    tab.pages.setCurrentWidget(table)
    wait(app, lambda: len(table.shown_ids()) == len(RUNS))
    table.select(table.shown_ids())
    wait(app, lambda: len(table.plotted) == len(RUNS))
    settle(app, 1.0)
    shot = app.primaryScreen().grabWindow(w.winId())
    shot.save(str(out))
    print(f"{out}: {shot.width()}×{shot.height()}; runs kept in {folder}")
    w.close()
    settle(app, 0.3)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT,
                  tuple(int(n) for n in sys.argv[2].split("x")) if len(sys.argv) > 2 else (1280, 800)))
