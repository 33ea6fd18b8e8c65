"""The lesson's models: each prediction formula lives here once, for the sheet, the solver, explain, xlsx and training."""
