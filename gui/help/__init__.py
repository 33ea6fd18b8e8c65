"""The Help menu's windows: About (dataset, licence, versions, device) and How this sheet works (F1)."""
