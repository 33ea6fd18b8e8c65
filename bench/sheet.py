"""Steps per second for each optimizer and time to solve, on the default data, on this machine's device.

Run: .venv/bin/python bench/sheet.py [--device cpu|cuda] [--quick]
Prints one line per (sheet, measurement); the figures in README come from here.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from collabsheet.engine.data.crosstab import top_crosstab
from collabsheet.engine.device import device_label
from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.config import OPTIMIZERS, OptimizerSettings
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.sheet.sheet import Sheet, SolveResult

# Solves beyond the step sheets': the app's default k on large sheets, and weight decay, which gives the
# factorization's loss a minimum where, without it, a solve follows a valley (factors growing) until rounding.
SOLVES = [(400, 5, 0.0), (1000, 5, 0.0), (200, 50, 1e-3), (1000, 50, 1e-3)]


def steps_per_second(sheet: Sheet, name: str, seconds: float) -> float:
    """Median rate over three timed batches after a warm-up."""
    sheet.reset()
    sheet.set_optimizer(OptimizerSettings(name, lr=1e-3))
    if sheet.step(50).diverged:
        raise SystemExit(f"{name} diverged; the timing would measure the roll-back, not steps")
    batch, rates = 200, []
    while True:  # size the batch so each timing takes about seconds/3
        start = time.perf_counter()
        sheet.step(batch)
        _sync(sheet)
        took = time.perf_counter() - start
        if took > seconds / 3 or batch > 10**6:
            break
        batch *= 2
    for _ in range(3):
        start = time.perf_counter()
        sheet.step(batch)
        _sync(sheet)
        rates.append(batch / (time.perf_counter() - start))
    return statistics.median(rates)


def autograd_baseline(sheet: Sheet, seconds: float) -> float:
    """Steps/s of the plain loop the engine replaces: autograd + torch.optim.Adam on the same loss."""
    grid = sheet.grid
    mask = torch.tensor(grid.mask, device=sheet.device)
    target = torch.tensor(grid.ratings, device=sheet.device).nan_to_num()
    users = torch.rand(grid.ratings.shape[0], sheet.config.k, dtype=torch.float64, device=sheet.device,
                       requires_grad=True)
    items = torch.rand(sheet.config.k, grid.ratings.shape[1], dtype=torch.float64, device=sheet.device,
                       requires_grad=True)
    adam = torch.optim.Adam([users, items], lr=1e-3)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            adam.zero_grad()
            torch.nn.functional.mse_loss((users @ items)[mask], target[mask]).backward()
            adam.step()
        steps += 100
        _sync(sheet)
    return steps / (time.perf_counter() - start)


def solve_time(sheet: Sheet, repeats: int, max_iter: int = 2000) -> tuple[list[float], SolveResult, list[float]]:
    """Seconds to solve from fresh random factors, each of repeats times; the last one's result; each RMSE."""
    times, rmses, result = [], [], None
    sheet.solve(max_iter=5)  # warm-up: first-call costs of torch.linalg and L-BFGS
    for seed in range(repeats):
        sheet.reset(seed)
        start = time.perf_counter()
        result = sheet.solve(max_iter=max_iter)
        _sync(sheet)
        times.append(time.perf_counter() - start)
        rmses.append(result.rmse)
    return times, result, rmses


def solve_line(shape: str, where: str, sheet: Sheet, repeats: int) -> str:
    """One solve line: the median time, iterations, the best RMSE (and how often it was reached), converged or not."""
    times, result, rmses = solve_time(sheet, repeats)
    spread = f"median of {repeats}, {min(times) * 1000:,.0f}–{max(times) * 1000:,.0f} ms; " if repeats > 1 else ""
    best = min(rmses)
    hits = f" in {sum(r <= best * (1 + 1e-6) for r in rmses)} of {repeats}" if repeats > 1 else ""
    wd = sheet.settings.weight_decay
    decay = f", wd {wd:g}: objective {result.objective:.6f}" if wd else ""
    how = result.ending if result.converged else result.ending.upper()
    largest = float(sheet.theta.abs().max())
    return (f"{shape:>14}  {where:<24} {'solve':<9} {statistics.median(times) * 1000:>10,.0f} ms  "
            f"({spread}{result.iterations} iterations, RMSE {best:.6f}{hits}{decay}; {how}, largest |factor| "
            f"{largest:,.1f})")


def _sync(sheet: Sheet) -> None:
    if sheet.device.type == "cuda":
        torch.cuda.synchronize(sheet.device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None)
    parser.add_argument("--quick", action="store_true", help="shorter timings")
    args = parser.parse_args()
    ratings = default_ratings()
    sheets = [(15, 5), (200, 50), (1000, 50)]  # top-N 1000 takes every user and item the data has, up to 1000
    seconds = 0.5 if args.quick else 1.5
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{ratings.name} ({len(ratings):,} ratings)")
    for n, k in sheets:
        grid = top_crosstab(ratings, n)
        sheet = Sheet(grid, SheetConfig(k=k), device=args.device)
        shape = f"{grid.ratings.shape[0]}×{grid.ratings.shape[1]}×{k}"
        where = device_label(sheet.device)
        for name in OPTIMIZERS:
            rate = steps_per_second(sheet, name, seconds)
            print(f"{shape:>14}  {where:<24} {name:<9} {rate:>10,.0f} steps/s", flush=True)
        rate = autograd_baseline(sheet, seconds)
        print(f"{shape:>14}  {where:<24} {'baseline':<9} {rate:>10,.0f} steps/s  (autograd + torch.optim.Adam)")
        print(solve_line(shape, where, sheet, 20 if n <= 15 else 1), flush=True)
    for n, k, wd in SOLVES:
        grid = top_crosstab(ratings, n)
        sheet = Sheet(grid, SheetConfig(k=k), OptimizerSettings(weight_decay=wd), device=args.device)
        shape = f"{grid.ratings.shape[0]}×{grid.ratings.shape[1]}×{k}"
        print(solve_line(shape, device_label(sheet.device), sheet, 1), flush=True)


if __name__ == "__main__":
    main()
