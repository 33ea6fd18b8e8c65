"""collabsheet's desktop GUI (PySide6 + pyqtgraph) over the engine's snapshots."""
from gui.pyside_fix import keep_none_alive

keep_none_alive()  # before any Qt call: see gui/pyside_fix.py
