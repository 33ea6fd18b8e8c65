"""A display for the bench scripts that open the real window: the one the environment has, else an Xvfb of their own."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator


class NoDisplay(RuntimeError):
    """No DISPLAY and no Xvfb to make one."""


@contextmanager
def display(env: dict[str, str], base: int) -> Iterator[dict[str, str]]:
    """env with a DISPLAY: its own, or a 1400×900 Xvfb on :base+pid%100 started here and stopped on the way out."""
    if "DISPLAY" in env:
        yield env
        return
    if not shutil.which("Xvfb"):
        raise NoDisplay("Xvfb is not installed (apt-get install xvfb)")
    name = ":%d" % (base + os.getpid() % 100)
    xvfb = subprocess.Popen(["Xvfb", name, "-screen", "0", "1400x900x24"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        yield dict(env, DISPLAY=name)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
