"""The example notebook runs as a student would run it, and shows the sheet as the lesson's coloured table."""
import re
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOK = Path(__file__).parents[1] / "examples" / "lesson.ipynb"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_the_sheet() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    run = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                  resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    run.execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    first = _html(cells[0])
    assert first.startswith('<table class="collabsheet"') and "RMSE 2." in first and first.count("<th>") >= 30
    before, after = map(float, re.search(r"RMSE ([\d.]+) → ([\d.]+) after 300 steps", _text(cells[1])).groups())
    assert after < before
    assert re.search(r"Momentum: RMSE [\d.]+ after 500 steps", _text(cells[2]))
    solved = float(re.search(r"Solve [a-z ,'’]+: RMSE ([\d.]+)", _text(cells[3])).group(1))  # how it ended varies
    assert solved < after and f"RMSE {solved:.4f}" in _html(cells[3])
    rmse = float(re.search(r"validation RMSE ([\d.]+) after 1 epoch", _text(cells[4])).group(1))
    assert 0.8 < rmse < 1.2
