"""One table of optimizers: every family's rules are the table's, under its names, and the UI's lists come from it."""
from collabsheet.engine import config, optimizers
from collabsheet.engine.graddesc import rules as graddesc_rules, settings as graddesc_settings
from collabsheet.engine.optim import rules as sheet_rules
from collabsheet.engine.train import recipes


def test_each_family_runs_exactly_the_rules_the_table_names() -> None:
    assert tuple(sheet_rules.RULES) == optimizers.names(optimizers.SHEET) == config.OPTIMIZERS
    assert tuple(graddesc_rules.LESSON) == tuple(graddesc_rules.LIBRARY) == optimizers.names(optimizers.GRADDESC)
    assert graddesc_settings.RULES == optimizers.names(optimizers.GRADDESC)
    assert recipes.OPTIMIZERS == optimizers.names(optimizers.TRAINING)


def test_what_each_rule_reads_and_keeps_is_the_tables() -> None:
    for hyper, users in config.USES.items():
        assert users == tuple(n for n, o in optimizers.SHEET.items() if hyper in o.reads)
    keys = {"sgd": set(), "momentum": {"v"}, "rmsprop": {"r"}, "adam": {"t", "m", "r"}, "adamw": {"t", "m", "r"}}
    for name, rule in optimizers.SHEET.items():  # the sheet's state as a step leaves it, besides Adam's counter t
        assert set(rule.keeps) == keys[name] - {"t"}
    assert graddesc_settings.AVERAGES == {n: o.keeps for n, o in optimizers.GRADDESC.items()}


def test_the_three_momentums_are_told_apart() -> None:
    """One name, three updates: the labels and rules in words say which runs where."""
    sheet, book, training = (f["momentum"] for f in (optimizers.SHEET, optimizers.GRADDESC, optimizers.TRAINING))
    assert "(1−β)" in sheet.update and "dampening" in book.update and "undampened" in training.label
    assert len({sheet.update, book.update, training.update}) == 3
