"""Where the engine computes: CUDA when there is one, else the CPU."""
from __future__ import annotations

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, or CUDA when available, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
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
