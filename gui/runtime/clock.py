"""Pacing between the engine and the screen: when the GUI is painting, and when the next frame is due.

Qt-free. The GUI thread marks each frame it renders; runners wait for it between chunks (a busy worker
makes every GIL hand-back of the painting thread wait its turn, the convoy effect) and publish at most
`frame_s` apart, less often when the GUI's frames are costly.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

GUI_WAIT_S = 0.2  # the longest the engine waits for the GUI to finish a frame
COSTLY_FRAME_S = 0.02  # a frame that takes the GUI longer than this (a big sheet) …
ENGINE_SHARE = 1 / 3  # … is followed by engine time: at least this share of the whole while running
SNAPSHOT_SHARE_INV = 4  # making frames takes at most a quarter of the engine's time


class FrameClock:
    """Shared by the GUI thread (which renders) and the worker (which publishes)."""

    def __init__(self) -> None:
        self.gui_idle = threading.Event()  # cleared while the GUI thread renders a frame
        self.gui_idle.set()
        self.gui_rendered = threading.Event()  # set after each frame the GUI renders
        self.gui_done_at = 0.0  # when the GUI last finished a frame …
        self.gui_render_s = 0.0  # … and how long that frame took
        self.published_at = 0.0  # when the engine last published, and what that cost it
        self.publish_s = 0.0

    @contextmanager
    def rendering(self) -> Iterator[None]:
        """GUI thread: wrap the rendering of one frame."""
        self.gui_idle.clear()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.gui_done_at = time.perf_counter()
            self.gui_render_s = self.gui_done_at - start
            self.gui_idle.set()
            self.gui_rendered.set()

    def release(self) -> None:
        """Never keep the engine waiting again (the window is closing)."""
        self.gui_idle.set()
        self.gui_rendered.set()

    def wait_for_gui(self, timeout: float = GUI_WAIT_S) -> None:
        """Worker: let the GUI finish the frame it is painting."""
        self.gui_idle.wait(timeout)

    def due(self, frame_s: float) -> bool:
        """Worker: whether a new frame may be published now, at most every frame_s."""
        now = time.perf_counter()
        if now - self.published_at < max(frame_s, SNAPSHOT_SHARE_INV * self.publish_s):
            return False
        render = self.gui_render_s
        return render <= COSTLY_FRAME_S or now - self.gui_done_at >= render * ENGINE_SHARE / (1 - ENGINE_SHARE)

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Worker: wrap making and putting one frame, to know what frames cost."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.published_at = time.perf_counter()
            self.publish_s = self.published_at - start
