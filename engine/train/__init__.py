"""Training the lesson's models on all the ratings: the Python half of the lesson, with no Qt.

Entry points (importing this package imports nothing; import the modules):

- recipes: `Recipe` (the settings, torch-free), `RECIPES` (lesson-learner, lesson-dot, lesson-dotbias,
  lesson-net, best), `recipe(name)`, and the option lists `MODELS`, `OPTIMIZERS`, `SCHEDULES`.
- learn: `learn(ratings, recipe, valid=, seed=, device=, on_batch=, on_epoch=, should_stop=) -> Learned`
  (`.model`, `.history`, `.data`): one whole run; call it in a worker thread.
- fit: `fit(model, data, epochs, opt, loss, ...) -> FitResult`, the events `BatchEvent` (iteration, smoothed
  loss, lr) and `EpochEvent` (epoch, train loss, valid MSE, valid RMSE), `evaluate`.
- data: `prepare(ratings, valid=, pct=, seed=, device=) -> TrainData`, `IdMap`, `UnknownIdError`, `split_indices`.
- model: `CollabModel` (module + id maps + titles + recipe), `predict(model, users, movies)`,
  `recommend(model, user, n) -> [Recommendation]`.
- analysis: `valid_predictions(model, data) -> (predicted, actual)`, `movie_map(model) -> MovieMap`
  (first two principal components, titles, counts), `movie_biases(model, n) -> (largest, smallest)`.
- store: `save(model, path)`, `load(path) -> CollabModel`, `ModelFileError`.
"""
