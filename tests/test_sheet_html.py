"""A sheet shows itself in a notebook as the lesson's colour-coded table, with every name escaped."""
import re

import numpy as np

from collabsheet.engine import palette
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.sheet.html import MAX_SIDE
from collabsheet.engine.sheet.sheet import Sheet


def _grid(users: int, movies: int) -> Crosstab:
    rng = np.random.default_rng(0)
    ratings = rng.integers(1, 6, (users, movies)).astype(float)
    ratings[rng.random((users, movies)) < 0.3] = np.nan
    ids = tuple(range(100, 100 + users))
    return Crosstab(ratings, ids, tuple(range(movies)), tuple(f"<b>M{j}</b> & co" for j in range(movies)), "test")


def _hues(html: str) -> set[str]:
    return set(re.findall(r"background:(#[0-9a-f]{6})", html))


def test_the_table_has_each_block_in_its_colour_and_the_loss() -> None:
    sheet = Sheet(_grid(6, 7), SheetConfig(k=3, biases=True), device="cpu")
    sheet.step(20)
    html = sheet._repr_html_()
    assert f"RMSE {sheet.rmse():.4f}" in html and "step 20" in html and "biases" in html
    tints = {palette.css(palette.tint(rgb, a)) for rgb in (palette.RATINGS, palette.PREDICTIONS) for a in
             np.linspace(0.15, 0.75, 601)}
    assert _hues(html) & tints  # ratings and predictions shaded in their hues
    assert html.count("<tr>") == 3 + 1 + 1 + 6 + 1 + 6 + 1  # movie factors, biases, ids, ratings, gap, predictions, loss
    for user in range(100, 106):
        assert html.count(f"<th>{user}</th>") == 2  # beside the ratings and beside the predictions
    blanks = np.isnan(sheet.ratings)
    assert blanks.any()  # a prediction is blank where the rating is, as on the lesson's sheet


def test_names_are_text_never_markup() -> None:
    html = Sheet(_grid(3, 3), device="cpu")._repr_html_()
    assert "<b>M0</b>" not in html and "&lt;b&gt;M0&lt;/b&gt; &amp; co" in html


def test_a_large_sheet_is_cut_and_says_so() -> None:
    html = Sheet(_grid(MAX_SIDE + 5, MAX_SIDE + 2), device="cpu")._repr_html_()
    assert f"showing {MAX_SIDE} of {MAX_SIDE + 5} users and {MAX_SIDE} of {MAX_SIDE + 2} movies" in html
