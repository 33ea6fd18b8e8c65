"""The training commands: train a lesson model on all the ratings; recommend movies with a saved one."""
from __future__ import annotations

import argparse
import math
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from collabsheet.engine.cli.options import (MAX_COUNT, Stopped, complain, device, file_name, number, progress, progress_task,
                                            say, whole)
from collabsheet.engine.cli.sheet import ratings_path
from collabsheet.engine.config import MAX_K, MIN_K
from collabsheet.engine.data.movielens import default_ratings
from collabsheet.engine.data.ratings import load_ratings
from collabsheet.engine.device import device_label, pick_device
from collabsheet.engine.safe_write import check_target
from collabsheet.engine.task import Report, Task
from collabsheet.engine.train.analysis import valid_predictions
from collabsheet.engine.train.checkpoint import checkpoint_path, finish_checkpoint
from collabsheet.engine.train.data import UnknownIdError
from collabsheet.engine.train.flags import add_options, changes, describe_split, prepare_split, reading, record_run
from collabsheet.engine.train.fit import BatchEvent, EpochEvent, evaluate
from collabsheet.engine.train.learn import learn
from collabsheet.engine.train.model import recommend
from collabsheet.engine.train.plot import jointplot, write_png
from collabsheet.engine.train.progress import RunProgress
from collabsheet.engine.train.recipes import LIMITS, MAX_RATE, MODELS, OPTIMIZERS, RECIPES, SCHEDULES, Recipe, recipe
from collabsheet.engine.train.store import ModelFileError, load, save

# Without --recipe, the settings start from the recipe for the chosen model, then the options change them.
BASE = {"dot": "lesson-dot", "dotbias": "fast", "net": "lesson-net", "svdpp": "best"}


def register(sub) -> None:
    """Add `train` and `recommend` to the parser's subparsers."""
    p = sub.add_parser("train", help="train a lesson model on all the ratings and print its validation RMSE",
                       description="Train one of the lesson's models; --recipe picks named settings, the other "
                                   "options change them.")
    p.add_argument("--recipe", metavar="NAME", help=f"named settings: {', '.join(RECIPES)} (default fast)")
    p.add_argument("--model", metavar="{" + ",".join(MODELS) + "}", help="the model (default: the recipe's)")
    p.add_argument("--factors", "-k", type=whole(MIN_K, MAX_K), metavar="K",
                   help=f"latent factors per user and movie ({MIN_K}-{MAX_K})")
    p.add_argument("--epochs", type=whole(1, LIMITS["epochs"]), metavar="N")
    p.add_argument("--lr", type=number(0.0, False, MAX_RATE), metavar="LR",
                   help="learning rate (the peak for sgdr and onecycle)")
    p.add_argument("--wd", type=number(0.0, True, MAX_RATE), metavar="WD", help="weight decay")
    p.add_argument("--optimizer", metavar="{" + ",".join(OPTIMIZERS) + "}")
    p.add_argument("--schedule", metavar="{" + ",".join(SCHEDULES) + "}")
    p.add_argument("--cycle-len", type=whole(1, LIMITS["cycle_len"]), metavar="N",
                   help="sgdr: epochs in the first cycle")
    p.add_argument("--cycle-mult", type=whole(1, LIMITS["cycle_mult"]), metavar="N",
                   help="sgdr: growth of each next cycle")
    p.add_argument("--bs", type=whole(1, LIMITS["bs"]), metavar="B", help="mini-batch size")
    p.add_argument("--ratings", type=file_name, metavar="PATH", help="ratings file (default: MovieLens)")
    p.add_argument("--valid", type=file_name, metavar="PATH", help="validation ratings file instead of a random 20%%")
    p.add_argument("--seed", type=whole(0), default=42,
                   help=f"seed of the split, the initial weights and the batch order (0-{MAX_COUNT:,})")
    p.add_argument("--device", type=device, default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")
    p.add_argument("--save", type=file_name, metavar="OUT.pt",
                   help="write the trained model here; each finished epoch of a lone model (not an ensemble) is "
                        "checkpointed beside it (OUT.pt with .ckpt) until the run ends")
    p.add_argument("--resume", action="store_true", help="go on from the checkpoint beside --save")
    add_options(p)
    p.add_argument("--plot", type=file_name, metavar="OUT.png",
                   help="write the lesson's jointplot (hexbin of validation predictions against ratings, both "
                        "marginal histograms) beside the loss curves, as a PNG without text labels")
    p.set_defaults(run=_train)
    r = sub.add_parser("recommend", help="a user's top movies they have not rated, from a saved model")
    r.add_argument("--model", required=True, type=file_name, metavar="PATH",
                   help="a model saved by `collabsheet train --save`")
    r.add_argument("--user", required=True, metavar="ID", help="the user's id in the ratings")
    r.add_argument("-n", type=whole(1, 100_000), default=10, help="how many movies (default 10)")
    r.set_defaults(run=_recommend)


def recipe_of(args: argparse.Namespace) -> Recipe:
    """The named recipe (or the chosen model's base recipe) with the options' changes applied and checked."""
    base = recipe(args.recipe) if args.recipe else recipe(BASE.get(args.model or "dotbias", "fast"))
    return base.with_(model=args.model, factors=args.factors, epochs=args.epochs, lr=args.lr, wd=args.wd,
                      optimizer=args.optimizer, schedule=args.schedule, cycle_len=args.cycle_len,
                      cycle_mult=args.cycle_mult, bs=args.bs, **changes(args))


@contextmanager
def ctrl_c_stops(task: Task) -> Iterator[None]:
    """Ctrl-C or SIGTERM cancels `task` (training ends after the current batch) instead of raising, in the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.signal(sig, lambda *_: task.cancel()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _ratings(args: argparse.Namespace):
    """The ratings to train on: MovieLens by default, or --ratings read with --time-col and the genres options."""
    path, how = ratings_path(args), reading(args)
    if how and path is None:
        options = ", ".join("--" + {"genres_path": "genres-file"}.get(k, k).replace("_", "-") for k in how)
        raise ValueError(f"{options} {'says' if len(how) == 1 else 'say'} how to read a ratings file; name it with "
                         "--ratings PATH (MovieLens brings its own timestamps and genres)")
    if not how:
        return default_ratings(path, task=progress_task())
    progress(f"Reading {'standard input' if path == '-' else path}")
    return load_ratings(path, task=progress_task(), **how)


def _inputs(args: argparse.Namespace) -> dict[str, str]:
    """The files the model is made from, which --save must never replace."""
    inputs = {}
    if path := ratings_path(args):
        inputs[path] = "the ratings file"
    if args.valid:
        inputs[args.valid] = "the validation ratings file"
    if args.genres_file:
        inputs[args.genres_file] = "the genres file"
    return inputs


def _train(args: argparse.Namespace) -> int:
    settings = recipe_of(args)
    if args.plot and not args.plot.lower().endswith(".png"):  # before the training, not after it
        raise ValueError(f"--plot {args.plot}: the plot is written as PNG; give a name ending in .png")
    if args.resume and not args.save:
        raise ValueError("--resume goes on from the checkpoint beside --save PATH; give --save")
    if args.resume and settings.ensemble > 1:
        raise ValueError(f"--resume: an ensemble of {settings.ensemble} models is not checkpointed, so there is no "
                         "checkpoint to go on from; train it again")
    # an ensemble's members are not checkpointed (engine.train.learn): its model is saved when the run ends
    ckpt = checkpoint_path(args.save) if args.save and settings.ensemble == 1 else None
    for option, target, what in (("--save", args.save, "model"), ("--save", ckpt, "checkpoint"),
                                 ("--plot", args.plot, "plot")):
        if target:  # before the data is read and the model trained: a target that cannot be written, an input …
            try:
                check_target(target, _inputs(args), what)
            except ValueError as e:
                raise ModelFileError(f"{option} {e}") from None
    chosen = pick_device(args.device)
    ratings = _ratings(args)
    valid = load_ratings(args.valid, **({"time_col": args.time_col} if args.time_col is not None else {})) \
        if args.valid else None
    data, split_label = prepare_split(ratings, valid, args.split, args.seed, chosen)
    for note in ratings.notes + data.notes:
        say(f"note: {note}")
    split = f"validation from {args.valid}" if args.valid else describe_split(split_label)
    say(f"{data.name} · {len(data.train):,} training and {len(data.valid):,} validation ratings ({split}) · "
        f"{len(data.users):,} users × {len(data.movies):,} movies · {device_label(chosen)}")
    say(f"{settings.name}: {settings.summary()}")
    losses: list[float] = []
    valid: list[tuple[int, float]] = []
    bs = settings.batch_size(len(data.train))
    with RunProgress(settings.run_epochs, bs, say=say, note=progress) as bars:
        def heard(report: Report) -> None:
            if isinstance(report.result, BatchEvent):
                losses.append(report.result.loss)  # kept for --plot's loss curve
            elif isinstance(report.result, EpochEvent):
                valid.append((len(losses), report.result.valid_mse))
            bars.hear(report)

        task = Task(heard)
        with ctrl_c_stops(task):
            run = learn(data, settings, seed=args.seed, task=task, checkpoint=ckpt, resume=args.resume)
    history = run.history
    if not args.no_record:
        try:
            record_run(settings, data, split_label, args.seed, device_label(chosen), history)
        except ValueError as error:  # a damaged or locked database: the run itself is not lost for it
            complain(f"warning: this run was not recorded: {error} (--no-record skips recording)")
    if history.diverged:
        say(f"diverged after {history.iterations:,} batches: the loss became inf or NaN; "
            f"lower the learning rate (now {settings.lr:g})")
        return 1
    if history.stopped:  # Ctrl-C: the run so far is reported, nothing is saved, and the exit says so (130)
        where = f"after {history.iterations:,} batches ({len(history.epochs)} of {settings.run_epochs} epochs done)"
        if history.epochs:
            say(f"stopped {where}; validation RMSE after epoch {len(history.epochs)}: "
                f"{history.epochs[-1].valid_rmse:.4f}")
        kept = "nothing written" + (f" ({args.save} not saved)" if args.save else "")
        raise Stopped(where, KeyboardInterrupt(), kept)
    mse = evaluate(run.model.module, data.valid) if not history.epochs else history.epochs[-1].valid_mse
    say(f"validation RMSE {math.sqrt(mse):.4f} ({len(data.valid)} ratings, {history.seconds:.1f} s)")
    if args.save:
        run.model.valid_rmse = math.sqrt(mse)
        say(f"saved the model to {save(run.model, args.save, _inputs(args))}")
        if ckpt is not None and (note := finish_checkpoint(ckpt, done=not history.stopped)):
            say(note)
    if args.plot:
        predicted, actual = valid_predictions(run.model, data)
        image = jointplot(predicted, actual, np.array(losses), np.array(valid, dtype=np.float64).reshape(-1, 2))
        say(f"wrote {write_png(image, args.plot, _inputs(args))}: predictions against ratings (hexbin, marginals) "
            "and the training loss per batch with the validation MSE per epoch")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    model = load(args.model)
    try:
        user = model.users.parse(args.user)
        picks = recommend(model, user, args.n)
    except UnknownIdError as e:
        raise UnknownIdError(f"{args.model}: {e}") from None
    rated = len(model.rated_by(int(model.users.index([user])[0])))
    say(f"user {user} · rated {rated} of {len(model.movies):,} movies · {model.dataset} · {model.recipe.name}")
    for rank, pick in enumerate(picks, 1):
        say(f"{rank:>3}. {pick.score:.2f}  {pick.title} (id {pick.movie})")
    return 0
