"""Training the lesson's models on all the ratings: the Python half of the lesson, with no Qt.

Importing this package imports nothing; import the modules. Entry points:

- recipes (no torch): `Recipe` (every setting, checked, one-line ValueErrors), `RECIPES` (lesson-learner,
  lesson-dot, lesson-dotbias, lesson-net, fast, best), `recipe(name)`, the choices `MODELS`, `OPTIMIZERS`,
  `SCHEDULES`, `Y_RANGES`, and `MODEL_LABELS`.
- learn: `learn(ratings, recipe, valid=, seed=, device=, task=) -> Learned` with `.model` (CollabModel),
  `.history` (FitResult) and `.data` (TrainData): one whole run, for a worker thread. The `task`
  (engine.task.Task) hears the events below and is cancelled between batches.
- fit: the loop itself, `fit(model, data, epochs, opt, loss, bs=, schedule=, task=, ...) -> FitResult`, and
  its frozen events, the task's partial results: `BatchEvent` (iteration, epoch, batch, batches, smoothed
  loss, lr) after every batch (up to a few thousand a second: throttle what you draw) and `EpochEvent`
  (epoch, train loss, valid MSE, valid RMSE, seconds); `evaluate(module, split)`.
- data: `prepare(ratings, valid=, pct=, seed=, device=) -> TrainData`, `IdMap`, `UnknownIdError`,
  `split_indices`, `synthetic` (random ratings at any scale, for throughput).
- model: `CollabModel` (module + id maps + titles + recipe), `predict(model, users, movies)`,
  `recommend(model, user, n) -> [Recommendation(movie, title, score)]`.
- analysis: `valid_predictions(model, data) -> (predicted, actual)`, `movie_map(model) -> MovieMap`
  (first two principal components of the movie factors, titles, rating counts, `most_rated(n)`),
  `movie_biases(model, n) -> (largest, smallest)` as `Bias(movie, title, bias, count)` rows.
- store: `save(model, path)`, `load(path) -> CollabModel`, `ModelFileError`.
- checkpoint: `checkpoint_path(save)`, `save_checkpoint`, `load_checkpoint -> Checkpoint`, `write_atomic`,
  `finish_checkpoint`, `CheckpointError`; learn(checkpoint=, resume=) writes and reads them each epoch.
- progress: `RunProgress(epochs, bs)`: a whole-run bar on a terminal, a line every 10 s elsewhere;
  `.hear` is a Task's listener.
- splits (no torch): `parse_split("random:SEED" | "u1"…"u5")`, `fold(ratings, spec)`, `overlap(ratings, valid)`.
- runs (no torch): the SQLite database of runs: `record`, `runs`, `curves`, `delete`, `write_csv`.
- flags: the train command's things-to-try options, `prepare_split`, `record_run`.
"""
