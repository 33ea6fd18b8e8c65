"""The Training tab's engine side, without Qt: it owns the ratings and the trained model and answers commands.

Only the worker thread calls TrainRunner. Training is one blocking command, as the sheet's solve is: the
engine's learn() runs with a Task whose cancel flag is `stop` (read between batches), and its listener turns
the per-batch and per-epoch events into curve points and progress in the Mailbox at most FRAME_S apart. When a
run ends, what the lesson looks at (predictions against ratings, the movie map, the biases) is put there as numpy.
Each finished epoch is checkpointed to the tab's one file (gui.train.checkpoint_file), as `collabsheet train
--save` does: Stop keeps it, a finished run removes it, and `resume` goes on from it.

torch is imported on first use, in the worker: the window imports this module before the engine starts.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from collabsheet.engine.config import RunState
from collabsheet.engine.task import Report
from collabsheet.engine.train.recipes import Recipe, recipe as named_recipe
from collabsheet.gui.runtime.clock import FrameClock
from collabsheet.gui.runtime.mailbox import Mailbox
from collabsheet.gui.runtime.runner import Runner, leave_a_core_for_the_gui
from collabsheet.gui.runtime.series import LINE, MARKERS, Points
from collabsheet.gui.sheet.frames import LoadRequest
from collabsheet.gui.train.checkpoint_file import look, recipe_of, tab_checkpoint
from collabsheet.gui.train.frames import (BiasRow, EpochRow, Frame, Joint, MovieMapData, RatingsInfo, Recommended, Results,
                              TrainProgress)

if TYPE_CHECKING:  # these import torch or pandas: at run time only in the worker, once training is asked for
    from collabsheet.engine.data.ratings import Ratings
    from collabsheet.engine.train.checkpoint import Checkpoint
    from collabsheet.engine.train.data import TrainData
    from collabsheet.engine.train.fit import BatchEvent, EpochEvent
    from collabsheet.engine.train.learn import Learned
    from collabsheet.engine.train.progress import Pace
    from collabsheet.engine.train.model import CollabModel

FRAME_S = 1 / 30  # training publishes curve points and progress at most this often
LABELLED = 15  # the most-rated movies the map names
BIASES = 10  # rows of each bias table
TRAINING_LABEL, VALID_LABEL = "training (EWMA)", "validation"


class TrainRunner(Runner):
    """Owns the ratings and the trained model; every method runs in the worker thread."""

    titles = {"load_ratings": "Could not open the ratings", "train": "Training", "resume": "Resume",
              "save": "Save model", "load": "Load model", "recommend": "Recommendations"}

    def __init__(self, mailbox: Mailbox | None = None, device: str | None = None,
                 clock: FrameClock | None = None, checkpoint: str | Path | None = None) -> None:
        super().__init__(mailbox or Mailbox(Frame), clock)
        self.device = device
        self.checkpoint = Path(checkpoint) if checkpoint is not None else tab_checkpoint()  # each epoch of a run
        self.ratings: Ratings | None = None
        self.model: CollabModel | None = None
        self.learned: Learned | None = None  # the last run (None after a model is loaded)
        self.results: Results | None = None
        self._runs = 0  # each run's curves get their own series numbers
        self._device_label = ""
        self.commands = {name: getattr(self, name)  # what the GUI may send (gui.runtime.channel)
                         for name in ("load_ratings", "train", "resume", "pause", "recommend", "save", "load")}

    # --- data --------------------------------------------------------------------------------
    def load_ratings(self, source: str | Path | LoadRequest | Ratings | None = None) -> Ratings:
        """Read the ratings to train on: MovieLens (None), a file path, a LoadRequest, or Ratings already read."""
        self.set_state(RunState.LOADING)
        try:
            return self._load_ratings(source)
        finally:
            self.set_state(RunState.IDLE)

    def _load_ratings(self, source) -> Ratings:
        ratings = self._read(source)
        self.ratings = ratings
        frame = ratings.frame
        low, high = (float(frame["rating"].min()), float(frame["rating"].max())) if len(frame) else (0.0, 0.0)
        self.mailbox.put(ratings=RatingsInfo(ratings.name, len(ratings), ratings.n_users, ratings.n_items,
                                             low, high, tuple(ratings.notes)))
        return ratings

    def _read(self, source: str | Path | LoadRequest | Ratings | None) -> Ratings:
        from collabsheet.engine.data.ratings import Ratings

        if isinstance(source, Ratings):
            return source
        if not isinstance(source, LoadRequest):
            source = LoadRequest(path=None if source is None else str(source))
        return source.read(self.reading("loading"))

    # --- training ----------------------------------------------------------------------------
    def train(self, settings: str | Recipe, seed: int = 42) -> Learned:
        """Train a recipe (by name or as settings) on the ratings; Stop (`stop`) cancels it between batches.

        Each finished epoch is checkpointed to the tab's file, which this new run replaces."""
        self.set_state(RunState.TRAINING)
        try:
            recipe = named_recipe(settings) if isinstance(settings, str) else settings
            if self.ratings is None:
                self._load_ratings(None)
            self._forget_checkpoint()
            return self._learn(recipe, seed, self.ratings)
        finally:
            self._end_run()

    def resume(self) -> Learned:
        """Go on from the tab's checkpoint with the settings and seed it was trained with, on the tab's ratings.

        A checkpoint that is damaged or was trained on other ratings is a one-line CheckpointError, raised before
        anything on the screen changes."""
        from collabsheet.engine.device import pick_device
        from collabsheet.engine.train.checkpoint import load_checkpoint
        from collabsheet.engine.train.data import prepare

        self.set_state(RunState.TRAINING)
        try:
            saved = load_checkpoint(self.checkpoint)
            recipe, seed = recipe_of(saved.recipe, self.checkpoint), int(saved.data["seed"])
            if self.ratings is None:
                self._load_ratings(None)
            data = prepare(self.ratings, seed=seed, device=pick_device(self.device))  # the split learn() would make
            saved.check(recipe, data, seed)
            return self._learn(recipe, seed, data, resumed=saved)
        finally:
            self._end_run()

    def _learn(self, recipe: Recipe, seed: int, source: Ratings | TrainData,
               resumed: Checkpoint | None = None) -> Learned:
        """One run, new or resumed (`resumed`: the checkpoint read, its epochs drawn first): curves, progress,
        results."""
        from collabsheet.engine.train.checkpoint import finish_checkpoint
        from collabsheet.engine.train.learn import learn

        self._runs += 1
        self.model = self.learned = self.results = None  # what the screen showed of the last model is cleared
        leave_a_core_for_the_gui()
        listener = _Listener(self.mailbox, self.clock, self._runs, recipe.run_epochs,
                             resumed.state.history if resumed is not None else ())
        self.mailbox.put(clear=True, device=self._device())
        self.emit("started", recipe.name, recipe.summary())
        checkpoint = self._checkpoint_for(recipe)
        run = learn(source, recipe, seed=seed, device=self.device, task=self.task(listener.hear),
                    checkpoint=checkpoint, resume=resumed if resumed is not None else False)
        listener.flush()
        if checkpoint is not None:
            finish_checkpoint(checkpoint, done=not run.history.stopped)  # kept only when Stop ended the run
        if run.history.stopped:  # at once: the analyses below take a moment on big data
            self.emit("stopped", run.history.iterations, len(run.history.epochs))
        for note in run.data.notes:
            self.emit("notice", note)
        history = run.history
        self._record(recipe, run, seed)
        if history.diverged:
            raise ValueError(f"diverged after {history.iterations:,} batches: the loss became inf or NaN; "
                             f"lower the learning rate (now {recipe.lr:g})")
        results = _results(run.model, run, self._device_label)
        run.model.valid_rmse = results.valid_rmse  # where it stopped, when it was stopped: what a saved file says
        self.learned, self.model = run, run.model
        self._publish_results(results)
        self.emit("trained", self.results.headline)
        return run

    def _checkpoint_for(self, recipe: Recipe) -> Path | None:
        """Where this run's epochs are checkpointed; None (said once, as a notice) when they cannot be."""
        if recipe.ensemble > 1:  # learn() checkpoints single models only
            self.emit("notice", f"an ensemble of {recipe.ensemble} is not checkpointed: Stop keeps no epoch to "
                                "resume from")
            return None
        try:
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self.emit("notice", f"this run is not checkpointed: the folder {self.checkpoint.parent} cannot be made "
                                f"({e.strerror or e})")
            return None
        return self.checkpoint

    def _forget_checkpoint(self) -> None:
        """A new run replaces the tab's checkpoint: the interrupted run it held is given up."""
        from collabsheet.engine.train.checkpoint import finish_checkpoint

        finish_checkpoint(self.checkpoint, done=True)

    def _end_run(self) -> None:
        """After any run, finished, stopped or failed: what the tab's checkpoint now holds, then idle."""
        self.emit("checkpoint", *look(self.checkpoint))
        self.set_state(RunState.IDLE)

    def _record(self, recipe: Recipe, run: Learned, seed: int) -> None:
        """Keep the run in the runs database, as `collabsheet train` does; a database that fails is a notice."""
        from collabsheet.engine.train.flags import record_run

        try:
            kept = record_run(recipe, run.data, f"random:{seed}", seed, self._device(), run.history)
        except (ValueError, OSError) as e:  # the runs module names the database in SQLite's errors
            self.emit("notice", f"this run was not recorded in the runs database ({e})")
        else:
            self.emit("recorded", kept)  # the experiments table reads the runs again

    def pause(self) -> None:
        """Nothing runs between commands: a run is ended through `stop`, which the GUI sets directly."""

    def _device(self) -> str:
        if not self._device_label:
            from collabsheet.engine.device import device_label, pick_device

            self._device_label = device_label(pick_device(self.device))
        return self._device_label

    def _publish_results(self, results: Results) -> None:
        self.results = results
        self.mailbox.put(results=results)
        if len(results.users):
            self.recommend(results.users[0])

    # --- the model ---------------------------------------------------------------------------
    def recommend(self, user, n: int = 10) -> Recommended:
        """A user's top-n unrated movies (the id as text or as the model's kind of id)."""
        from collabsheet.engine.train.model import recommend

        if self.model is None:
            raise ValueError("train or load a model first")
        model = self.model
        user = model.users.parse(user) if isinstance(user, str) else _plain(user)
        picks = recommend(model, user, n)
        rated = len(model.rated_by(int(model.users.index([user])[0])))
        shown = Recommended(user, rated, tuple(p.movie for p in picks), tuple(p.title for p in picks),
                            np.array([p.score for p in picks]))
        self.mailbox.put(recommended=shown)
        return shown

    def save(self, path: str) -> Path:
        """Write the trained model to `path`."""
        from collabsheet.engine.train.store import save

        if self.model is None:
            raise ValueError("there is no trained model to save yet")
        written = save(self.model, path)
        self.emit("notice", f"Saved the model to {written}")
        return written

    def load(self, path: str) -> CollabModel:
        """Read a saved model: its map, biases and recommendations show; its curves and validation set do not."""
        from collabsheet.engine.device import pick_device
        from collabsheet.engine.train.store import load

        model = load(path, device=pick_device(self.device))
        self.model, self.learned = model, None
        self._runs += 1
        self.mailbox.put(clear=True, recipe=model.recipe, device=self._device())
        self._publish_results(_results(model, None, self._device_label))
        self.emit("notice", f"Loaded {path}: {self.results.headline}")
        return model


class _Listener:
    """The training task's listener: batch losses gathered into curve points, published when a frame is due."""

    def __init__(self, mailbox: Mailbox, clock: FrameClock, run: int, epochs: int,
                 resumed: tuple[EpochEvent, ...] = ()) -> None:
        self.mailbox, self.clock, self.epochs, self.resumed = mailbox, clock, epochs, resumed
        self.train_series, self.valid_series, self.marks = 3 * run, 3 * run + 1, 3 * run + 2
        self.x0, self.values = 1, []
        self.last: BatchEvent | None = None
        self.validated = False  # the validation line has its first point
        from collabsheet.engine.train.fit import BatchEvent, EpochEvent  # torch: built in the worker, when training

        self._handlers = {BatchEvent: self.batch, EpochEvent: self.epoch}
        self.pace: Pace | None = None  # made at the first batch, which tells the batch size learn() took
        self.now = 0.0

    def hear(self, report: Report) -> None:
        """fit's batch and epoch events, the task's partial results, each to its own handler."""
        handler = self._handlers.get(type(report.result))
        if handler is not None:
            handler(report.result)

    def batch(self, event: BatchEvent) -> None:
        if self.pace is None:
            from collabsheet.engine.train.progress import Pace

            self.pace = Pace(self.epochs, event.size)
            self._replay(event.batches)
        self.now = self.pace.see(event.iteration)
        if not self.values:
            self.x0 = event.iteration
        self.values.append(event.loss)
        self.last = event
        if self.clock.due(FRAME_S):
            self.clock.wait_for_gui()
            self.flush()

    def flush(self) -> None:
        """Put the gathered points and the newest progress in the mailbox."""
        e = self.last
        if not self.values:
            return
        with self.clock.publishing():
            self.mailbox.put(losses=Points(self.train_series, TRAINING_LABEL, self.x0, np.array(self.values), LINE),
                             progress=TrainProgress(e.epoch, self.epochs, e.batch, e.batches, e.iteration, e.loss,
                                                    self.pace.text(e.iteration, e.batches, self.now)))
        self.values = []

    def epoch(self, event: EpochEvent) -> None:
        self.flush()
        self._epoch_at(event, self.last.iteration if self.last is not None else 0)

    def _replay(self, batches: int) -> None:
        """A resumed run's finished epochs, where they ended, so its curves go on from the checkpoint."""
        for event in self.resumed:
            x = event.epoch * batches
            self.mailbox.put(losses=Points(self.train_series, TRAINING_LABEL, x, np.array([event.train_loss]), LINE))
            self._epoch_at(event, x)

    def _epoch_at(self, event: EpochEvent, x: int) -> None:
        mse = np.array([event.valid_mse])
        self.mailbox.put(losses=Points(self.valid_series, VALID_LABEL, x, mse, LINE),
                         epoch=EpochRow(event.epoch, event.train_loss, event.valid_mse, event.valid_rmse,
                                        event.seconds, x))
        self.mailbox.put(losses=Points(self.marks, "", x, mse, MARKERS))


def _results(model: CollabModel, run: Learned | None, device: str) -> Results:
    """What the tab shows of a model, as numpy and text; `run` (None for a loaded model) adds its validation set."""
    from collabsheet.engine.train.analysis import movie_biases, movie_map, valid_predictions

    joint, seconds, iterations, epochs, stopped = None, math.nan, 0, 0, False
    rmse, valid = model.valid_rmse, 0
    if run is not None:
        predicted, actual = valid_predictions(model, run.data)
        joint = Joint.of(predicted, actual)
        history = run.history
        seconds, iterations, epochs, stopped = history.seconds, history.iterations, len(history.epochs), history.stopped
        valid = len(actual)
        if stopped or not history.epochs:  # the last epoch's figure does not describe where it stopped
            rmse = float(np.sqrt(np.mean((predicted.astype(float) - actual) ** 2))) if valid else math.nan
    m = movie_map(model)
    mapped = MovieMapData(m.x, m.y, m.titles, m.counts, m.most_rated(LABELLED), m.explained)
    try:
        largest, smallest = movie_biases(model, BIASES)
        no_biases = ""
    except ValueError as error:  # the dot and net models have none
        largest, smallest, no_biases = [], [], str(error)
    rows: Callable = lambda biases: tuple(BiasRow(b.title, b.bias, b.count) for b in biases)  # noqa: E731
    return Results(model.recipe.name, model.recipe.summary(), model.dataset, rmse, valid, seconds, iterations, epochs,
                   stopped, joint, mapped, rows(largest), rows(smallest), no_biases, np.asarray(model.users.ids),
                   device)


def _plain(value):
    """A numpy scalar as a plain Python value (the id maps answer in those)."""
    return value.item() if isinstance(value, np.generic) else value
