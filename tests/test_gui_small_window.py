"""An 800 × 600 window (issue 20, item 13): every tab fits it, the legends wrap rather than clip, the Training form
scrolls rather than squeezing its fields onto each other."""
from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

SHORT = 520  # a 600-pixel screen less a title bar and a panel


def _inside(widget: QWidget, box: QWidget) -> bool:
    """Whether `widget` is shown whole inside `box` at its preferred width (not clipped, not squeezed)."""
    top_left = widget.mapTo(box, widget.rect().topLeft())
    return (widget.isVisibleTo(box) and box.rect().contains(QRect(top_left, widget.size()))
            and widget.width() >= widget.sizeHint().width())


def test_every_tab_fits_an_800_pixel_window(small_window, qtbot):
    w = small_window
    for name in ("graddesc", "train"):
        w._tab(name)
    for index in range(w.tabs.count()):
        w.tabs.setCurrentIndex(index)
        QApplication.processEvents()
        assert w.minimumSizeHint().width() <= 800, w.tabs.tabText(index)
        assert w.width() == 800, w.tabs.tabText(index)


def test_the_legends_wrap_rather_than_clip(small_window, qtbot):
    w = small_window
    legend = w.sheet.legend
    qtbot.waitUntil(lambda: legend.isVisible() and legend.width() > 1)
    QApplication.processEvents()
    for kind, label in legend.names.items():
        assert _inside(label, legend), kind
    assert _inside(legend.sign_bar, legend)
    w.tabs.setCurrentIndex(1)
    rows = w._tab("graddesc").legend
    qtbot.waitUntil(lambda: rows.isVisible() and rows.width() > 1)
    QApplication.processEvents()
    for group in rows.groups:
        assert _inside(group, rows)


def test_a_short_window_scrolls_the_training_form(small_window, qtbot):
    w = small_window
    tab = w._tab("train")
    w.tabs.setCurrentIndex(2)
    assert w.minimumSizeHint().height() <= SHORT
    w.resize(800, SHORT)
    qtbot.waitUntil(lambda: w.height() == SHORT)
    QApplication.processEvents()
    c = tab.controls
    fields = [c.recipe, c.model, c.factors, c.epochs, c.lr, c.wd, c.optimizer, c.schedule, c.bs, c.seed]
    places = [QRect(f.mapTo(w, f.rect().topLeft()), f.size()) for f in fields]
    for field, place, below in zip(fields, places, places[1:]):
        assert field.height() >= field.minimumSizeHint().height()
        assert place.bottom() < below.top(), field.toolTip()
