"""The Sheet tab's actions: their names, texts, keys and tips, made once for the tab, its menus and its buttons."""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

ACTIONS = {"open": "&Open ratings…", "import": "&Import from Excel…", "export": "&Export to Excel…",
           "step": "Step", "step_n": "Step ×N", "play": "Play", "solve": "Solve", "stop": "Stop", "reset": "Reset",
           "zoom_in": "Zoom &in", "zoom_out": "Zoom &out", "zoom_fit": "&Fit the sheet to the window",
           "race": "&Race optimizers…", "holdout": "&Hold out 20% of the ratings", "add_me": "Add &me",
           "fold_in": "&Fold me in", "use_model": "Use a &trained model…", "onehot": "One-hot × &embedding…"}
TIPS = {"race": "run several optimizers from the sheet's factors side by side, as one batched sheet",
        "holdout": "leave a seeded 20% of the ratings out of the loss (hatched) and show their own RMSE: training "
                   "RMSE falling while the held-out RMSE turns up is overfitting",
        "add_me": "add a row for you under the sheet's users: rate a few movies in its blue cells, then Fold me in",
        "fold_in": "fit only your row's factors (and bias) to your ratings, every movie frozen: least squares, "
                   "solved exactly",
        "use_model": "fold you into a model saved by the Training tab: recommendations from all its movies",
        "onehot": "the course's movielens_1hot and movielens_emb sheets, live: a selected rating's one-hot rows times "
                  "the factor matrices give the same rows as looking them up by index"}
SHORTCUTS = {"open": "Ctrl+O", "export": "Ctrl+E", "step": "S", "play": "Space", "solve": ("Ctrl+Return", "Ctrl+Enter"),
             "stop": "Esc", "reset": "Ctrl+R", "zoom_in": ("Ctrl++", "Ctrl+="), "zoom_out": "Ctrl+-", "zoom_fit": "Ctrl+0"}
LOCAL_KEYS = ("step", "step_n", "play", "solve", "stop", "reset", "undo", "redo", "zoom_in", "zoom_out", "zoom_fit")


def make_actions(parent, texts: dict[str, str], shortcuts: dict) -> dict[str, QAction]:
    """Named actions with their shortcuts shown in their tooltips."""
    actions = {}
    for name, text in texts.items():
        action = QAction(text, parent)
        keys = shortcuts.get(name)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in ((keys,) if isinstance(keys, str) else keys)])
            action.setToolTip(f"{text.replace('&', '').rstrip('…')} ({QKeySequence(action.shortcut()).toString()})")
        actions[name] = action
    return actions


def set_keys_active(actions: dict[str, QAction], names: tuple, set_aside: dict[str, list], on: bool) -> None:
    """Give the named actions their shortcuts back (on), or set them aside in `set_aside` while another tab shows."""
    for name in names:
        action = actions[name]
        if not on and name not in set_aside:
            set_aside[name] = action.shortcuts()
        if on and name in set_aside:
            action.setShortcuts(set_aside.pop(name))
        elif not on:
            action.setShortcuts([])
