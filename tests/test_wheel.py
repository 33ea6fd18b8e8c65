"""The wheel holds collabsheet/… and its dist-info only, builds without leaving anything in the source tree, and
`import collabsheet` works from it in a clean virtual environment."""
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_the_wheel_is_collabsheet_alone_and_imports_in_a_clean_venv(tmp_path) -> None:
    before = {p.name for p in ROOT.iterdir()}
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert {p.name for p in ROOT.iterdir()} == before  # no build/, no collabsheet.egg-info
    wheel = next((tmp_path / "dist").glob("collabsheet-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"collabsheet", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    assert "collabsheet/engine/sheet/batched.py" in names and "collabsheet/gui/app.py" in names
    assert not [n for n in names if n.endswith(".png")]  # README's screenshots stay in the repository

    clean = tmp_path / "venv"
    venv.create(clean, with_pip=True)
    python = clean / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # the dependencies from this environment, on PYTHONPATH (which runs no .pth: not this checkout's editable hook)
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    code = ("import collabsheet, collabsheet.engine.config as c; print(collabsheet.__file__); print(c.__file__); "
            "g = collabsheet.crosstab(collabsheet.load_ratings(), 5); print(g.ratings.shape)")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": deps})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(str(clean)) and lines[1].startswith(str(clean)) and lines[2] == "(5, 5)"
