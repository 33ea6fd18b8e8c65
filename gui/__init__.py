"""collabsheet's desktop GUI (PySide6 + pyqtgraph) over the engine's snapshots."""
