"""The window: menus, the status bar, and one tab per workbook (sheet, gradient descent, training) over one engine
thread.

A new kind of workbook adds a tab and a runner: the channel runs every runner in the same worker thread. The
Sheet tab is built with the window; the others (their modules too) the first time they are shown or asked for,
so the window and its sheet come up sooner.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from collabsheet.engine.config import DEFAULT_TOP
from collabsheet.gui import recent
from collabsheet.gui.help.about import about_action
from collabsheet.gui.help.guide import guide_action
from collabsheet.gui.runtime.channel import QChannel
from collabsheet.gui.sheet.handle import QSheetHandle
from collabsheet.gui.sheet.runner import SheetRunner
from collabsheet.gui.sheet.tab import STATUS, QSheetTab

if TYPE_CHECKING:
    from collabsheet.gui.graddesc.tab import QGradDescTab
    from collabsheet.gui.train.tab import QTrainTab

SHEET_RUN = ("step", "step_n", "play", "solve", "stop", None, "race", None, "reset")
GRADDESC_RUN = ("step_row", "run_epoch", "play", "reset", None, "compare", None, "open_workbook", "open_csv", "export")
TRAIN_RUN = ("train", "resume", "stop", None, "ratings", "save", "load")
LATER_TABS = (("graddesc", "Gradient descent"), ("train", "Training"))  # built when first shown, in this order
FRAME_WAIT_MS = 200  # after the first show, when the window manager has drawn the frame whose size is then known
PREVIEW_WAIT_S = 0.5  # the most the worker waits for the first preview to be painted before it imports torch


class QMainSheetWindow(QMainWindow):
    """collabsheet's main window."""

    def __init__(self, path: str | None = None, top: int = DEFAULT_TOP, device: str | None = None,
                 channel: QChannel | None = None) -> None:
        super().__init__()
        self.setWindowTitle("collabsheet")
        self.channel = channel or QChannel()
        self.messages: list[tuple[str, str]] = []  # every problem shown, for tests and for the record
        self.notices: list[str] = []  # and every success reported in the status bar
        self._box: QMessageBox | None = None
        self._framed = False  # the frame was kept on the screen once, after the first show
        self._build_status()
        runner = SheetRunner(device=device, top=top)
        runner.loader.preview_wait_s = PREVIEW_WAIT_S
        self.sheet = QSheetTab(self.channel.add("sheet", runner, QSheetHandle), self.status_labels, top)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.sheet, "Sheet")
        self._device = device
        self._later: dict[str, QWidget] = {}  # the tabs built so far, besides the sheet's
        for _, title in LATER_TABS:
            self.tabs.addTab(QWidget(), title)  # a stand-in until the tab is first shown
        self.setCentralWidget(self.tabs)
        self.actions = dict(self.sheet.actions)
        self.actions["quit"] = QAction("&Quit", self)
        self.actions["quit"].setShortcut(QKeySequence("Ctrl+Q"))
        self.actions["quit"].triggered.connect(self.close)
        self.actions["movielens"] = QAction("&MovieLens (default)", self)
        self.actions["movielens"].setToolTip("open the default MovieLens ratings again")
        self.actions["movielens"].triggered.connect(self.sheet.open_default)
        self._build_menus()
        for signal, slot in ((self.sheet.message, self.show_message), (self.sheet.notice, self.show_notice),
                             (self.sheet.status_message, self.statusBar().showMessage),
                             (self.sheet.title_changed, self.setWindowTitle),
                             (self.sheet.engine.loaded,
                              lambda ratings: recent.remember(ratings.source, self.sheet.columns_read(ratings.source)))):
            signal.connect(slot)
        self._fit_to_screen()
        self.sheet.start(path)

    def _build_status(self) -> None:
        self.status_labels = {name: QLabel("") for name in STATUS}
        for label in self.status_labels.values():
            label.setStyleSheet("padding: 0 8px; border-left: 1px solid #bbb")
            label.setMinimumWidth(1)  # a narrow window clips them rather than growing
            self.statusBar().addPermanentWidget(label)

    def _build_menus(self) -> None:
        a = self.actions
        file = self.menuBar().addMenu("&File")
        file.addAction(a["open"])
        self.recent_menu = file.addMenu("Open &recent")
        recent.keep_filled(self.recent_menu, self.sheet.open_ratings, pick_columns=self.sheet.open_dialog)
        for name in ("movielens", None, "import", "export", None, "quit"):
            file.addSeparator() if name is None else file.addAction(a[name])
        file.insertAction(a["quit"], a["use_model"])
        file.insertSeparator(a["quit"])
        edit = self.menuBar().addMenu("&Edit")
        for name in ("undo", "redo", None, "holdout", "add_me", "fold_in"):
            edit.addSeparator() if name is None else edit.addAction(a[name])
        self.run_menu = self.menuBar().addMenu("&Run")  # the current tab's commands
        self.tabs.currentChanged.connect(self._follow_tab)
        self._follow_tab()
        view = self.menuBar().addMenu("&View")
        for name in ("zoom_in", "zoom_out", "zoom_fit"):
            view.addAction(a[name])
        view.addSeparator()
        view.addAction(a["onehot"])
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(guide_action(self))  # F1
        help_menu.addAction(about_action(self, lambda: self.sheet.ratings, lambda: self.status_labels["device"].text()))

    @property
    def graddesc(self) -> QGradDescTab:
        """The Gradient descent tab (built now if it has not been shown yet)."""
        return self._tab("graddesc")

    @property
    def train(self) -> QTrainTab:
        """The Training tab (built now if it has not been shown yet)."""
        return self._tab("train")

    def _tab(self, name: str) -> QWidget:
        """A later tab, built the first time it is asked for, in its stand-in's place."""
        if name in self._later:
            return self._later[name]
        tab = self._later[name] = getattr(self, f"_build_{name}")()
        index = 1 + [n for n, _ in LATER_TABS].index(name)
        current, stand_in = self.tabs.currentIndex(), self.tabs.widget(index)
        self.tabs.blockSignals(True)  # the swap is not a change of tab
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, tab, LATER_TABS[index - 1][1])
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        stand_in.deleteLater()
        return tab

    def _build_graddesc(self) -> QGradDescTab:
        from collabsheet.gui.graddesc.handle import QGradDescHandle
        from collabsheet.gui.graddesc.runner import GradDescRunner
        from collabsheet.gui.graddesc.tab import QGradDescTab

        tab = QGradDescTab(self.channel.add("graddesc", GradDescRunner(), QGradDescHandle), self.status_labels)
        for signal, slot in ((tab.message, self.show_message), (tab.notice, self.show_notice),
                             (tab.status_message, self.statusBar().showMessage)):
            signal.connect(slot)
        return tab

    def _build_train(self) -> QTrainTab:
        from collabsheet.gui.train.handle import QTrainHandle
        from collabsheet.gui.train.runner import TrainRunner
        from collabsheet.gui.train.tab import QTrainTab

        tab = QTrainTab(self.channel.add("train", TrainRunner(device=self._device), QTrainHandle), self.status_labels)
        for signal, slot in ((tab.message, self.show_message), (tab.notice, self.show_notice)):
            signal.connect(slot)
        return tab

    def _follow_tab(self, *_) -> None:
        """The Run menu lists the current tab's commands; each tab's keys act only while it is shown."""
        self.run_menu.clear()
        index = self.tabs.currentIndex()
        if index == 0:
            names, actions = SHEET_RUN, self.actions
        else:
            name = LATER_TABS[index - 1][0]
            names, actions = {"graddesc": GRADDESC_RUN, "train": TRAIN_RUN}[name], self._tab(name).actions
        for name in names:
            self.run_menu.addSeparator() if name is None else self.run_menu.addAction(actions[name])
        self.sheet.set_keys_active(self.tabs.currentWidget() is self.sheet)  # S, Space … must not reach a hidden sheet
        # a tab's keys act while the focus is in it: a click on its title moves the focus there
        page, focus = self.tabs.currentWidget(), QApplication.focusWidget()
        if page is not None and not (focus is not None and page.isAncestorOf(focus)):
            page.setFocus(Qt.TabFocusReason)

    def _fit_to_screen(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width, height = (1560, 940) if screen is None else (min(1600, screen.width()), min(1000, screen.height()))
        self.resize(width, height)
        self._fitted = QSize(width, height)  # the size chosen here, which the frame may yet push off the screen

    def showEvent(self, event) -> None:  # noqa: ANN001 - Qt's QShowEvent
        super().showEvent(event)
        if not self._framed:
            self._framed = True
            QTimer.singleShot(FRAME_WAIT_MS, self._keep_frame_on_screen)

    def _keep_frame_on_screen(self) -> None:
        """The window _fit_to_screen sized, with its title bar, within the screen: sized to the screen alone, the frame
        pushed the status bar below the bottom edge of an 800-pixel-high screen (the frame is known only once the
        window manager drew it)."""
        screen = self.screen()
        if screen is None or self.isMaximized() or self.isFullScreen() or self.size() != self._fitted:
            return  # sized since by the user (or a test): theirs to keep
        room, frame = screen.availableGeometry(), self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        if frame.width() > room.width() or frame.height() > room.height():
            self.resize(min(self.width(), room.width() - extra_w), min(self.height(), room.height() - extra_h))
        frame = self.frameGeometry()
        x = min(max(frame.x(), room.x()), room.right() + 1 - frame.width())
        y = min(max(frame.y(), room.y()), room.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def show_message(self, title: str, text: str) -> None:
        """Tell the user something in a non-modal box (never blocks the engine or a test); recorded in .messages."""
        self.messages.append((title, text))
        if self._box is None:
            self._box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
            self._box.setWindowModality(Qt.NonModal)
        self._box.setWindowTitle(title)
        self._box.setText(text)
        self._box.show()

    def show_notice(self, text: str) -> None:
        """Report a success in the status bar (recorded in .notices)."""
        self.notices.append(text)
        self.statusBar().showMessage(text, 8000)

    def closeEvent(self, event) -> None:
        self.hide()  # gone from the screen now; the engine thread is stopped after
        QApplication.processEvents()
        for tab in (self.sheet, *self._later.values()):
            tab.close_tab()
        if self._box is not None:
            self._box.close()
        self.channel.shutdown()
        super().closeEvent(event)
