"""collabsheet's engine: ratings → crosstab → sheet → snapshot. Never imports Qt."""
