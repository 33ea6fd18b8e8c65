"""The package layout pyproject.toml cannot say: engine/ and gui/ install as collabsheet.engine and collabsheet.gui.

The build's scratch (build/, collabsheet.egg-info) goes to a temporary folder, never into the source tree.
"""
import tempfile

from setuptools import find_packages, setup

INNER = find_packages(include=["engine", "engine.*", "gui", "gui.*"])
SCRATCH = tempfile.mkdtemp(prefix="collabsheet-build-")

setup(
    packages=["collabsheet"] + [f"collabsheet.{name}" for name in INNER],
    package_dir={"collabsheet": "collabsheet", "collabsheet.engine": "engine", "collabsheet.gui": "gui"},
    options={"build": {"build_base": SCRATCH}, "egg_info": {"egg_base": SCRATCH}},
)
