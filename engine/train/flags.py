"""The training command's things-to-try options and validation choice, kept beside the settings they set.

engine.cli.train adds these to its parser and reads them back here, so what a flag means lives with the
Recipe fields, the splits and the runs database.
"""
from __future__ import annotations

import argparse

import torch

from collabsheet.engine.data.ratings import Ratings
from collabsheet.engine.train import runs
from collabsheet.engine.train.data import TrainData, prepare
from collabsheet.engine.train.fit import FitResult
from collabsheet.engine.train.recipes import ACTIVATIONS, GENRES, MAX_ENSEMBLE, TIMES, Recipe
from collabsheet.engine.train.splits import fold, parse_split


def layer_sizes(text: str) -> tuple[int, ...]:
    """`100,50` → (100, 50): the net's hidden layer sizes."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 100,50, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one hidden layer size, e.g. 100,50")
    return sizes


def add_options(p: argparse.ArgumentParser) -> None:
    """The lesson's things to try, the validation split and whether the run is recorded."""
    g = p.add_argument_group("the lesson's things to try (net)")
    g.add_argument("--user-factors", type=int, metavar="K", help="net: the users' embedding size (default: -k)")
    g.add_argument("--movie-factors", type=int, metavar="K", help="net: the movies' embedding size (default: -k)")
    g.add_argument("--layers", type=layer_sizes, metavar="N,N", help="net: hidden layer sizes, e.g. 100,50")
    g.add_argument("--nh", type=int, metavar="N", help="net: units of the lesson's single hidden layer")
    g.add_argument("--activation", metavar="{" + ",".join(ACTIVATIONS) + "}", help="net: activation (relu)")
    g.add_argument("--p1", type=float, metavar="P", help="net: dropout on the embeddings")
    g.add_argument("--p2", type=float, metavar="P", help="net: dropout after each hidden layer")
    t = p.add_argument_group("the lesson's things to try (inputs beyond the ids, ensembles)")
    t.add_argument("--genres", metavar="{" + ",".join(GENRES) + "}",
                   help="a genre vector (and bias) per movie: the sum or the mean of its genres' (default off)")
    t.add_argument("--time", metavar="{" + ",".join(TIMES) + "}",
                   help="each rating's time: bias (a (user, day) bias and each user's drift; dotbias, svdpp, net) "
                        "or conts (the net's continuous inputs); default off")
    t.add_argument("--ensemble", type=ensemble_size, metavar="N",
                   help=f"train N models from different starts and average them (1-{MAX_ENSEMBLE})")
    t.add_argument("--time-col", type=_column, metavar="NAME",
                   help="the --ratings file's timestamp column (a name or 0-based position; default: detected)")
    t.add_argument("--genres-file", type=_file, metavar="PATH",
                   help="movie genres: item id and genres (A|B) per line (default: the titles file beside --ratings)")
    t.add_argument("--genres-col", type=_column, metavar="NAME",
                   help="the genres file's genres column (a name or 0-based position; default: detected)")
    p.add_argument("--split", metavar="random:SEED|u1..u5",
                   help="validation: a seeded random 20%% (random:SEED; default random:--seed) or MovieLens 100k's "
                        "own u1 … u5 (u1.test is u.data's first 20,000 lines)")
    p.add_argument("--no-record", action="store_true", help="do not keep this run in the runs database")


def changes(args: argparse.Namespace) -> dict:
    """The Recipe fields these options set (None where not given)."""
    return {"user_factors": args.user_factors, "movie_factors": args.movie_factors, "layers": args.layers,
            "nh": args.nh, "activation": args.activation, "p1": args.p1, "p2": args.p2, "genres": args.genres,
            "time": args.time, "ensemble": args.ensemble}


def reading(args: argparse.Namespace) -> dict:
    """load_ratings' keyword arguments for --time-col, --genres-file and --genres-col (only those given)."""
    given = {"time_col": args.time_col, "genres_path": args.genres_file, "genres_col": args.genres_col}
    return {k: v for k, v in given.items() if v is not None}


def ensemble_size(text: str) -> int:
    """A whole number of models, 1 … MAX_ENSEMBLE."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of models, got {text!r}") from None
    if not 1 <= n <= MAX_ENSEMBLE:
        raise argparse.ArgumentTypeError(f"an ensemble has 1 to {MAX_ENSEMBLE} models, got {n}")
    return n


def _column(text: str) -> str | int:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a column name or a 0-based position, got nothing")
    return int(text) if text.isdigit() else text


def _file(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty one")
    return text


def prepare_split(ratings: Ratings, valid: Ratings | None, split: str | None, seed: int,
                  device: torch.device) -> tuple[TrainData, str]:
    """The training data for --split / --valid, and the split's label for the runs database."""
    if split and valid is not None:
        raise ValueError("choose either --split or --valid, not both")
    if valid is not None:
        return prepare(ratings, valid=valid, seed=seed, device=device), f"valid:{valid.source}"
    spec = parse_split(split or "random", seed)
    if spec.kind == "u":
        train, test = fold(ratings, spec)
        return prepare(train, valid=test, seed=seed, device=device), spec.label
    return prepare(ratings, seed=spec.seed, device=device), spec.label


def describe_split(label: str) -> str:
    """How the command's first line names a split: a seeded 20% split, seed 42 · MovieLens 100k's u1 split."""
    if label.startswith("random:"):
        return f"a seeded 20% split, seed {label[len('random:'):]}"
    return f"MovieLens 100k's {label} split" if label[:1] == "u" else label


def record_run(recipe: Recipe, data: TrainData, split: str, seed: int, device: str, history: FitResult) -> int:
    """Keep the run in the runs database (engine.train.runs); its id."""
    status = "diverged" if history.diverged else "stopped" if history.stopped else "finished"
    return runs.record(recipe, dataset=data.name, split=split, seed=seed, n_train=len(data.train),
                       n_valid=len(data.valid), device=device, status=status, epochs=history.epochs,
                       seconds=history.seconds)
