"""Help → How this sheet works (F1): one page for a student following the lesson, in the sheet's own terms."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QTextBrowser, QVBoxLayout, QWidget

from collabsheet.gui.sheet import colors
from collabsheet.gui.sheet import layout as L

TITLE = "How this sheet works"

BLOCKS = (  # (block, what it is), in the order a reader meets them on the sheet
    (L.RATING, "Ratings", "The data: the most active users (one row each) × the most rated movies (one column each), "
               "top-N of each (15 by default). A blank cell is a movie that user has not rated. You can type a "
               "rating into a cell, or delete one."),
    (L.USER_FACTORS, "User factors", "k numbers per user (5 by default), in the user's row. They start random, "
                     "like the workbook's =RAND(), and are what the sheet learns. You can type a value into any of them."),
    (L.ITEM_FACTORS, "Movie factors", "k numbers per movie, in the movie's column above the predictions; learned "
                     "the same way."),
    (L.PREDICTION, "Predictions", "What the factors predict each user would rate each movie (formula below). "
                   "“show errors” turns this block into prediction − rating."),
    (L.USER_BIAS, "Biases", "With “biases” ticked: one number per user (a column beside the user factors) and one "
                  "per movie (a row below the movie factors): how much a user rates everything high, or a movie "
                  "is liked by everyone."),
    (L.LOSS, "Loss", "The red corner cell: the RMSE, how far the predictions are from the ratings (formula below)."),
)

PREDICTION = (
    "<p>A prediction is the <b>dot product</b> of the user's factor row and the movie's factor column, as the "
    "workbook's <code>MMULT</code> does:</p>"
    "<p><code>prediction = u₁·m₁ + u₂·m₂ + … + uₖ·mₖ</code></p>"
    "<p>With <b>biases</b> ticked, the user's and the movie's bias are added:</p>"
    "<p><code>prediction = u·m + user bias + movie bias</code></p>"
    "<p>With <b>sigmoid into</b> ticked, that sum x goes through a sigmoid so every prediction lands "
    "inside the ratings' range, like fastai's <code>y_range</code>:</p>"
    "<p><code>prediction = lo + (hi − lo) · σ(x),&nbsp;&nbsp; σ(x) = 1 / (1 + e<sup>−x</sup>)</code></p>"
    "<p>where lo and hi are the lowest and the highest rating, as in the lesson's notebook: ratings from 1 to 5 give "
    "(1, 5). The box beside it offers the later course's range instead: lo is 0 (or the lowest rating, if that is "
    "below 0) and hi the highest rating plus a tenth of the range, so ratings from 1 to 5 give (0, 5.5) and the top "
    "and bottom ratings are reached at finite factors.</p>"
)

LOSS = (
    "<p>The loss cell is the <b>root mean squared error</b> over the rated cells only; blank cells do not count:</p>"
    "<p><code>RMSE = √( Σ (prediction − rating)² / number of ratings )</code></p>"
    "<p>Its square, the mean squared error, has its lowest point at the same factors; the steps follow the MSE's "
    "gradient. Click any cell to see its formula with the live numbers in the panel on the right.</p>"
)

RUN = (
    ("Step", "One step of gradient descent: the gradient of every factor (and bias) is computed over all the "
             "ratings at once, and the chosen optimizer updates each one by its rule (below) at the learning "
             "rate lr. Step ×N takes N steps."),
    ("Play", "Keeps stepping, at the speed chosen beside it, until you press Stop. Watch the loss cell and the "
             "curve fall."),
    ("Solve", "What Excel's Solver does: minimises the loss directly until it cannot get lower. It tries several "
              "starting points (the current factors, one read off the ratings, and random ones; on a large sheet "
              "only the current factors) and keeps the best."),
    ("Reset", "New random factors from the seed, biases 0, and a fresh optimizer: step 0 again."),
)
DIVERGE = ("If the learning rate is too high the numbers blow up: the sheet refuses that step and keeps the last "
           "good factors. Lower the learning rate and step again, or Reset.")

# The sheet's update rules (engine.optim.rules), p a factor, g its gradient. Adam's corrected averages are
# m′ and r′ rather than m̂ and r̂: a combining hat lands on the wrong letter in some fonts.
OPTIMIZERS = (
    ("SGD", "p ← p − lr·g"),
    ("Momentum", "v ← β·v + (1−β)·g ;  p ← p − lr·v"),
    ("RMSProp", "r ← β2·r + (1−β2)·g² ;  p ← p − lr·g / (√r + ε)"),
    ("Adam", "m ← β1·m + (1−β1)·g ;  r ← β2·r + (1−β2)·g² ;  p ← p − lr·m′ / (√r′ + ε),  "
             "with m′ = m/(1−β1ᵗ), r′ = r/(1−β2ᵗ) at step t: the averages corrected for starting at 0"),
    ("AdamW", "p ← p·(1 − lr·wd), then Adam's update with the plain gradient (decoupled weight decay)"),
)
WEIGHT_DECAY = ("Weight decay wd adds wd·p to every gradient (g ← g + wd·p) for SGD, Momentum, RMSProp and Adam; "
                "AdamW shrinks the factors instead. The loss cell shows the RMSE alone.")

SHORTCUTS = (
    ("Ctrl+O", "open a ratings file"), ("Ctrl+E", "export to Excel"), ("S", "step"), ("Space", "play / pause"),
    ("Ctrl+Enter", "solve"), ("Esc", "stop"), ("Ctrl+R", "reset"), ("Ctrl+Z / Ctrl+Y", "undo / redo an edit"),
    ("Ctrl++ / Ctrl+- (or Ctrl+wheel)", "zoom the sheet"), ("Ctrl+0", "fit the whole sheet in the window"),
    ("F1", "this page"), ("Ctrl+Q", "quit"),
)


def _swatch(kind: str) -> str:
    return (f"<span style='background-color:{colors.tint(colors.BASE[kind], 0.6).name()}'>"
            "&nbsp;&nbsp;&nbsp;&nbsp;</span>")


def _table(rows) -> str:
    cells = "".join(f"<tr><td style='padding-right:14px' valign='top'><b>{html.escape(a)}</b></td>"
                    f"<td>{html.escape(b)}</td></tr>" for a, b in rows)
    return f"<table cellspacing='0' cellpadding='3'>{cells}</table>"


def guide_html() -> str:
    """The page, as HTML."""
    blocks = "".join(f"<tr><td valign='top'>{_swatch(kind)}</td><td style='padding-right:10px' valign='top'>"
                     f"<b>{name}</b></td><td>{html.escape(text)}</td></tr>" for kind, name, text in BLOCKS)
    return (
        f"<h2>{TITLE}</h2>"
        "<p>This is the lesson's collaborative-filtering spreadsheet, computing live. Each user and each movie "
        "gets a few numbers, its <i>factors</i>; a user's predicted rating for a movie comes from their factors; "
        "learning means changing the factors until the predictions match the ratings people gave. The factors "
        "that result are the users' and movies' <i>embeddings</i>.</p>"
        "<h3>The blocks</h3>"
        f"<table cellspacing='0' cellpadding='3'>{blocks}</table>"
        "<p>Within a block, the shade shows how large a number is compared with the rest of that block.</p>"
        f"<h3>Predictions</h3>{PREDICTION}"
        f"<h3>The loss</h3>{LOSS}"
        f"<h3>Step, Play, Solve</h3>{_table(RUN)}<p>{html.escape(DIVERGE)}</p>"
        "<h3>The optimizers</h3>"
        "<p>p is one factor, g its gradient, lr the learning rate; β, β1, β2 and ε are the optimizer's settings. "
        "Switching optimizer mid-run keeps the factors.</p>"
        f"{_table(OPTIMIZERS)}<p>{html.escape(WEIGHT_DECAY)}</p>"
        f"<h3>Keyboard</h3>{_table(SHORTCUTS)}"
    )


class QGuideWindow(QDialog):
    """The page in a window of its own that stays open beside the sheet."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setWindowFlag(Qt.WindowContextHelpButtonHint, False)
        self.resize(680, 760)
        self.browser = QTextBrowser()
        self.browser.setHtml(guide_html())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)


def show_guide(parent: QWidget | None = None) -> QGuideWindow:
    """Open the page beside the sheet (non-modal), or bring its window forward if it is open."""
    window = getattr(parent, "_guide_window", None) if parent is not None else None
    if window is None:
        window = QGuideWindow(parent)
        if parent is not None:
            parent._guide_window = window
    window.show()
    window.raise_()
    window.activateWindow()
    return window


def guide_action(parent: QWidget) -> QAction:
    """Help → How this sheet works, on F1."""
    action = QAction("&How this sheet works", parent)
    action.setShortcut(QKeySequence("F1"))
    action.setShortcutContext(Qt.ApplicationShortcut)  # also from the guide itself and other dialogs
    action.triggered.connect(lambda: show_guide(parent))
    return action
