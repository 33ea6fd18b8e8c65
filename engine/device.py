"""Where the engine computes: CUDA when there is one, else the CPU."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, or CUDA when available, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"unknown device {str(device)!r}; use cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):  # meta, mps …: collabsheet computes on the CPU or CUDA only
        raise ValueError(f"unknown device {str(device)!r}; use cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but torch sees no CUDA GPU; use --device cpu")
    return device


def device_label(device: str | torch.device) -> str:
    """A short label for the status bar, e.g. 'cuda:0 · NVIDIA H100' or 'cpu'."""
    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} · {torch.cuda.get_device_name(index)}"


SMALL_WORK = 100_000  # multiply-adds per matrix product below which a second CPU thread costs more than it saves


@contextmanager
def threads_for(device: torch.device, work: int) -> Iterator[None]:
    """Compute on one CPU thread while the work is small: thread hand-offs would dominate (more so on a busy machine)."""
    if device.type != "cpu" or work >= SMALL_WORK:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
