"""The lesson's jointplot as a PNG without a plotting library: a hexbin of predictions against ratings, both
marginal histograms, and the loss curves beside it; numpy draws the pixels, zlib packs them."""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from collabsheet.engine.safe_write import write_bytes

SIZE = 400  # the hexbin's square, in pixels
MARGIN = 70  # the marginal histograms' depth
PAD = 20
CURVES = (420, 400)  # the loss panel's width and height
HEX = 9.0  # a hexagon's radius in pixels
BLUE = np.array([31, 119, 180], dtype=np.float64)  # seaborn's first colour, as sns.jointplot draws
ORANGE = np.array([255, 127, 14], dtype=np.float64)
AXIS = np.array([90, 90, 90], dtype=np.uint8)


def hex_index(x: np.ndarray, y: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial (q, r) of the pointy-top hexagon of radius `size` that holds each point (pixel coordinates)."""
    q = (math.sqrt(3) / 3 * x - y / 3) / size
    r = (2 / 3 * y) / size
    s = -q - r
    rq, rr, rs = np.round(q), np.round(r), np.round(s)
    dq, dr, ds = np.abs(rq - q), np.abs(rr - r), np.abs(rs - s)
    fix_q = (dq > dr) & (dq > ds)  # cube rounding: the coordinate that moved most is rebuilt from the others
    fix_r = ~fix_q & (dr > ds)
    rq = np.where(fix_q, -rr - rs, rq)
    rr = np.where(fix_r, -rq - rs, rr)
    return rq.astype(np.int64), rr.astype(np.int64)


def hexbin(predicted: np.ndarray, actual: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """SIZE × SIZE × 3 pixels: each hexagon shaded by how many (actual, predicted) pairs fall in it."""
    scale = (SIZE - 1) / (hi - lo)
    px, py = (actual - lo) * scale, (hi - predicted) * scale  # y grows downwards on screen
    keys = hex_index(px, py, HEX)
    offset = 10_000  # (q, r) pairs as one integer key; the square spans far fewer hexagons than this
    key = keys[0] * 2 * offset + keys[1] + offset
    found, counts = np.unique(key, return_counts=True)
    gy, gx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    pq, pr = hex_index(gx, gy, HEX)
    pixel_key = pq * 2 * offset + pr + offset
    at = np.searchsorted(found, pixel_key).clip(0, len(found) - 1)
    count = np.where(found[at] == pixel_key, counts[at], 0).astype(np.float64)
    shade = (count / max(1, counts.max()))[..., None]
    return np.where(count[..., None] > 0, 255 - (255 - BLUE) * (0.15 + 0.85 * shade), 255).astype(np.uint8)


def bars(values: np.ndarray, lo: float, hi: float, length: int, depth: int, bins: int = 40) -> np.ndarray:
    """A histogram as a depth × length image, bars growing up from the bottom edge."""
    counts, _ = np.histogram(values, bins=bins, range=(lo, hi))
    heights = counts / max(1, counts.max()) * (depth - 2)
    column = np.minimum((np.arange(length) * bins) // length, bins - 1)
    filled = (depth - 1 - np.arange(depth))[:, None] < heights[column][None, :]
    return np.where(filled[..., None], BLUE, 255).astype(np.uint8)


def line(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, color: np.ndarray, width: int = 2) -> None:
    """A polyline through pixel points, drawn by sampling each segment densely."""
    h, w = canvas.shape[:2]
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:]):
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        t = np.linspace(0, 1, n + 1)
        x, y = np.round(x0 + (x1 - x0) * t).astype(int), np.round(y0 + (y1 - y0) * t).astype(int)
        for d in range(width):
            ok = (x + d < w) & (y < h) & (x >= 0) & (y >= 0)
            canvas[y[ok], x[ok] + d] = color


def curves(train: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The loss panel: the smoothed training loss per batch (blue), the validation MSE per epoch (orange dots)."""
    w, h = CURVES
    panel = np.full((h, w, 3), 255, dtype=np.uint8)
    panel[h - 1, :], panel[:, 0] = AXIS, AXIS
    values = np.concatenate([train, valid[:, 1]]) if len(valid) else train
    values = values[np.isfinite(values)]
    if len(train) < 2 or not len(values):
        return panel
    top, bottom = float(values.max()) * 1.05, 0.0
    y_of = lambda v: (h - 2) - (np.asarray(v) - bottom) / (top - bottom) * (h - 6)  # noqa: E731
    x_of = lambda i: 2 + np.asarray(i, dtype=np.float64) / max(1, len(train) - 1) * (w - 6)  # noqa: E731
    line(panel, x_of(np.arange(len(train))), y_of(train), BLUE)
    for batch, mse in valid:
        x, y = int(x_of(batch - 1)), int(y_of(mse))
        panel[max(0, y - 3): y + 4, max(0, x - 3): x + 4] = ORANGE
    return panel


def jointplot(predicted: np.ndarray, actual: np.ndarray, train: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The whole picture: the hexbin with marginals on the left, the loss curves on the right; H × W × 3."""
    lo = float(min(actual.min(), predicted.min()))
    hi = float(max(actual.max(), predicted.max()))
    hi = hi if hi > lo else lo + 1
    height = PAD + MARGIN + SIZE + PAD
    width = PAD + SIZE + MARGIN + PAD + CURVES[0] + PAD
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    top, left = PAD + MARGIN, PAD
    image[top: top + SIZE, left: left + SIZE] = hexbin(predicted, actual, lo, hi)
    image[PAD: PAD + MARGIN, left: left + SIZE] = bars(actual, lo, hi, SIZE, MARGIN)  # ratings, above
    # predictions on the right: the histogram turned so its bars grow rightwards and high values sit at the top
    side = bars(predicted, lo, hi, SIZE, MARGIN).transpose(1, 0, 2)[::-1, ::-1]
    image[top: top + SIZE, left + SIZE: left + SIZE + MARGIN] = side
    image[top + SIZE - 1, left: left + SIZE], image[top: top + SIZE, left] = AXIS, AXIS
    diagonal = np.arange(SIZE)
    image[top + SIZE - 1 - diagonal, left + diagonal] = (160, 160, 160)  # where a perfect model would put them
    cx = left + SIZE + MARGIN + PAD
    image[top + SIZE - CURVES[1]: top + SIZE, cx: cx + CURVES[0]] = curves(train, valid)
    return image


def png(image: np.ndarray) -> bytes:
    """An RGB image (H × W × 3, uint8) as PNG bytes."""
    h, w, _ = image.shape
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(h))  # filter 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def write_png(image: np.ndarray, path: str | Path, inputs: dict | None = None) -> Path:
    """Write the image to a .png path, whole or not at all, through engine.safe_write (never over an input)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path.name}: the plot is written as PNG; give a name ending in .png")
    return write_bytes(path, png(image), inputs, "plot")
