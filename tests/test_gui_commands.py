"""The commands a runner accepts are an explicit table: the handle sends those and nothing else (issue 18)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from collabsheet.gui.graddesc.handle import QGradDescHandle
from collabsheet.gui.graddesc.runner import GradDescRunner
from collabsheet.gui.sheet.handle import QSheetHandle
from collabsheet.gui.sheet.runner import SheetRunner
from collabsheet.gui.train.handle import QTrainHandle
from collabsheet.gui.train.runner import TrainRunner

HELPERS = ("publish", "run_label", "settings_label", "tick", "halt", "failed", "emit", "install", "title")


class FakeChannel(QObject):
    """A channel's command signal, recording what is sent instead of running it."""

    command = Signal(str, str, tuple)

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple] = []
        self.command.connect(lambda *sent: self.sent.append(sent))


RUNNERS = [(SheetRunner, QSheetHandle), (GradDescRunner, QGradDescHandle), (TrainRunner, QTrainHandle)]


@pytest.mark.parametrize("runner_type", [r for r, _ in RUNNERS])
def test_every_runner_declares_its_commands_and_no_helper_is_one(runner_type):
    runner = runner_type()
    assert "pause" in runner.commands and all(callable(method) for method in runner.commands.values())
    assert not set(HELPERS) & set(runner.commands)


@pytest.mark.parametrize("runner_type, handle_type", RUNNERS)
def test_the_handle_sends_only_the_runners_commands(qapp, runner_type, handle_type):
    channel = FakeChannel()
    handle = handle_type(channel, "tab", runner_type())
    handle.pause()
    assert channel.sent == [("tab", "pause", ())]
    with pytest.raises(AttributeError, match="publish"):
        handle.publish  # noqa: B018 - the attribute itself is the error, before any call
    with pytest.raises(AttributeError, match="no command 'publish'"):
        handle.send("publish")
    assert channel.sent == [("tab", "pause", ())]


def test_the_sheets_grouped_commands_keep_their_names(qapp):
    runner = SheetRunner()
    channel = FakeChannel()
    handle = QSheetHandle(channel, "sheet", runner)
    handle.start_race([], 10)
    handle.seek(3)
    assert channel.sent == [("sheet", "start_race", ([], 10)), ("sheet", "seek", (3,))]
    assert runner.commands["start_race"] == runner.race.start and runner.commands["seek"] == runner.history.seek
