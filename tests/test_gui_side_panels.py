"""The side panels at a large window's usual width (issue 20, item 15): the You tab's buttons keep their names,
the race shows every card whole and its legend sits above the curves, not on them."""
from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

NAMES = ["SGD with momentum · lr 0.05", "Adam · lr 0.05 · wd 0.01", "RMSProp · lr 0.01"]


def _whole(widget: QWidget, box: QWidget) -> bool:
    """Whether `widget` shows whole inside `box` at no less than its preferred width."""
    place = QRect(widget.mapTo(box, widget.rect().topLeft()), widget.size())
    return widget.isVisibleTo(box) and box.rect().contains(place) and widget.width() >= widget.sizeHint().width()


def test_the_you_tabs_buttons_keep_their_names_in_a_wide_window(qtbot, started_window):
    w = started_window
    w.resize(1600, 900)
    tab = w.sheet
    tab.side_tabs.addTab(tab.new_user.panel, "You")
    tab.side_tabs.setCurrentWidget(tab.new_user.panel)
    qtbot.waitUntil(lambda: tab.new_user.panel.isVisible() and tab.new_user.panel.width() > 1)
    QApplication.processEvents()
    for button in tab.new_user.panel.buttons.groups:
        if not button.isHidden():
            assert _whole(button, tab.new_user.panel), button.text()


def test_the_race_shows_every_card_whole_and_its_legend_off_the_curves(qtbot):
    from collabsheet.gui.race.panel import QRacePanel

    panel = QRacePanel()
    qtbot.addWidget(panel)
    panel.resize(330, 600)
    panel.show()
    panel._rebuild(NAMES)
    for card, name in zip(panel.cards, NAMES):  # as the race's first frame names them
        card.title.setText(name)
    qtbot.waitUntil(lambda: all(card.isVisible() for card in panel.cards))
    QApplication.processEvents()
    viewport = panel.cards[0].parentWidget().parentWidget()  # the cards' scroll area scrolls down, never across
    for card in panel.cards:
        left = card.mapTo(viewport, card.rect().topLeft()).x()
        assert left >= 0 and left + card.width() <= viewport.width(), card.title.text()
        assert card.width() >= card.minimumSizeHint().width(), card.title.text()
    assert panel.plot.getPlotItem().legend is None  # nothing drawn over the curves
    assert all(name in panel.legend.text() for name in NAMES)
    assert panel.legend.geometry().bottom() < panel.plot.geometry().top()
    panel.resize(1200, 600)
    qtbot.waitUntil(lambda: panel.columns == 3)
