"""Shared test set-up: Qt draws offscreen, so the GUI tests run without a display."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
