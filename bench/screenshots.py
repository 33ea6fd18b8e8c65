"""README's window pictures: the real app at 800×600, 1280×800 and 1920×1080, each tab, into resources/.

Run under a display (xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python bench/screenshots.py). Each size is a
fresh window, as `collabsheet` opens it, resized; the sheet has run 300 steps with a cell selected, the Gradient
descent tab one epoch, the Training tab the `fast` recipe for one epoch. Ctrl+0 (fit) is pressed on the sheet.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

SIZES = ((800, 600), (1280, 800), (1920, 1080))
OUT = Path(__file__).resolve().parent.parent / "resources"


def wait(app, until, timeout: float = 60.0) -> None:
    """Run the event loop until `until()` holds."""
    end = time.monotonic() + timeout
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def settle(app, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    from collabsheet.gui.app import open_window, parser
    from collabsheet.gui.sheet.layout import Cell

    app = None
    for width, height in SIZES:
        app, w = open_window(parser().parse_args([]))
        w.resize(width, height)
        sheet = w.sheet
        wait(app, lambda: sheet.losses.plot is not None and w.actions["step"].isEnabled())
        sheet.engine.step(300)
        wait(app, lambda: sheet.snapshot.step == 300 and sheet.state == "idle")
        sheet.view.select_cell(Cell("prediction", (2, 3)))
        w.actions["zoom_fit"].trigger()
        settle(app)
        w.grab().save(str(OUT / f"window-{width}x{height}-sheet.png"))
        w.tabs.setCurrentWidget(w.graddesc)
        wait(app, lambda: w.graddesc.contour is not None and w.graddesc.progress is not None)
        w.graddesc.engine.run_epoch()
        wait(app, lambda: w.graddesc.progress.epoch >= 1 and w.graddesc.state == "idle")
        settle(app)
        w.grab().save(str(OUT / f"window-{width}x{height}-graddesc.png"))
        w.tabs.setCurrentWidget(w.train)
        train = w.train
        wait(app, lambda: "ratings" in train.controls.ratings.text())
        train.controls.recipe.setCurrentIndex(train.controls.recipe.findData("fast"))
        train.controls.epochs.setValue(1)
        train.train()
        wait(app, lambda: train.results is not None and train.state == "idle", timeout=120)
        settle(app, 1.0)
        w.grab().save(str(OUT / f"window-{width}x{height}-training.png"))
        w.close()
        settle(app, 0.3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
