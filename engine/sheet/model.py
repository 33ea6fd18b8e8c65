"""The sheet's model: its ratings as tensors, where each block sits in θ, and its predictions.

All parameters live in one flat float64 vector θ = [user factors | movie factors | user biases |
movie biases], so that every optimizer rule updates the whole sheet with a handful of tensor ops.
The model holds no parameters itself: θ belongs to the Sheet (or to a solver's batch of starts). The loss
and its gradient are computed in one place, the stepping kernel (engine.sheet.batched).
"""
from __future__ import annotations

import numpy as np
import torch

from collabsheet.engine.config import SheetConfig
from collabsheet.engine.models import factorization
from collabsheet.engine.sheet import initial
from collabsheet.engine.sheet.solve.spectral import spectral_start

DTYPE = torch.float64  # the sheet's numbers must match what a spreadsheet computes


class SheetModel:
    """A grid of ratings (NaN = blank) and the factorization fitted to it, for one device."""

    def __init__(self, ratings: np.ndarray, config: SheetConfig, device: torch.device) -> None:
        self.config, self.device = config, device
        self.ratings = np.array(ratings, dtype=np.float64)
        mask = ~np.isnan(self.ratings)
        self.mask = torch.tensor(mask, dtype=DTYPE, device=device)
        self.r = torch.tensor(np.where(mask, self.ratings, 0.0), dtype=DTYPE, device=device)
        self.count = max(int(mask.sum()), 1)
        lo, hi = initial.rating_range(self.ratings)
        self.spread = hi - lo  # the ratings' range
        self.y_range = factorization.y_range(lo, hi, config.squash_range)

    @property
    def n_users(self) -> int:
        return self.ratings.shape[0]

    @property
    def n_items(self) -> int:
        return self.ratings.shape[1]

    @property
    def work(self) -> int:
        """Multiply-adds in the sheet's matrix product."""
        return self.n_users * self.n_items * self.config.k

    @property
    def size(self) -> int:
        """How many numbers θ holds."""
        return sum(int(np.prod(shape)) for shape in self.sizes().values())

    @property
    def squash_range(self) -> tuple[float, float] | None:
        """The sigmoid's range when predictions are squashed, else None."""
        return self.y_range if self.config.squash else None

    # --- θ's layout ---------------------------------------------------------------------------
    def sizes(self) -> dict[str, tuple[int, ...]]:
        """Each block's shape, in θ's order."""
        return initial.shapes(self.n_users, self.n_items, self.config)

    def split(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named views of θ's blocks; θ may carry leading batch dimensions (several starts at once)."""
        out, start = {}, 0
        for name, shape in self.sizes().items():
            size = int(np.prod(shape))
            out[name] = theta[..., start:start + size].unflatten(-1, shape)
            start += size
        return out

    def flatten(self, params: dict[str, np.ndarray]) -> torch.Tensor:
        """θ from its blocks by name, each checked against the sheet's shape."""
        sizes = self.sizes()
        if set(params) != set(sizes):
            raise ValueError(f"expected parameters {sorted(sizes)}, got {sorted(params)}")
        parts = []
        for name, shape in sizes.items():
            a = np.asarray(params[name], dtype=np.float64)
            if a.shape != shape:
                raise ValueError(f"{name.replace('_', ' ')} should have shape {shape}, got {a.shape}")
            parts.append(torch.tensor(a.reshape(-1), dtype=DTYPE))
        return torch.cat(parts).to(self.device)

    def initial_theta(self, seed: int) -> torch.Tensor:
        """Random factors uniform in [0, init) like the workbook's =RAND(), biases 0 (engine.sheet.initial).

        Drawn by numpy, so every device, and the first frame drawn before torch loads, starts alike."""
        return self.flatten(initial.values(self.n_users, self.n_items, self.config, seed))

    def spectral_theta(self, ridge: float = 0.0) -> torch.Tensor:
        """θ read off the ratings by a truncated SVD (solve.spectral), the solver's best-placed start; ridge is ρ."""
        return self.flatten(spectral_start(self.ratings, self.config.k, self.config.biases, self.squash_range, ridge))

    def sides(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Where each user's and each movie's parameters sit in θ: (users, s) and (movies, s), factors then bias."""
        index = self.split(torch.arange(self.size, device=self.device))
        users, movies = [index["user_factors"]], [index["item_factors"].T]
        if self.config.biases:
            users.append(index["user_bias"][:, None])
            movies.append(index["item_bias"][:, None])
        return torch.cat(users, 1), torch.cat(movies, 1)

    # --- the formulas -------------------------------------------------------------------------
    def predict(self, p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions for every cell (rated or not), and the sigmoid's value when squashing."""
        raw = factorization.cells(p["user_factors"], p["item_factors"], p.get("user_bias"), p.get("item_bias"))
        return factorization.squash(raw, self.squash_range)
