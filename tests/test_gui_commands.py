"""The commands a runner accepts are an explicit table: the handle sends those and nothing else (issue 18)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QObject

from collabsheet.gui.graddesc.handle import QGradDescHandle
from collabsheet.gui.graddesc.runner import GradDescRunner
from collabsheet.gui.sheet.handle import QSheetHandle
from collabsheet.gui.sheet.runner import SheetRunner
from collabsheet.gui.train.handle import QTrainHandle
from collabsheet.gui.train.runner import TrainRunner

HELPERS = ("publish", "run_label", "settings_label", "tick", "halt", "failed", "emit", "install", "title")


class FakeChannel(QObject):
    """Stands for the channel: records what a handle's command signal sends instead of running it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple] = []

    def hear(self, handle):  # noqa: ANN001, ANN201 - any runner's handle
        handle.command.connect(lambda *sent: self.sent.append((handle.name, *sent)))
        return handle


RUNNERS = [(SheetRunner, QSheetHandle), (GradDescRunner, QGradDescHandle), (TrainRunner, QTrainHandle)]


@pytest.mark.parametrize("runner_type", [r for r, _ in RUNNERS])
def test_every_runner_declares_its_commands_and_no_helper_is_one(runner_type):
    runner = runner_type()
    assert "pause" in runner.commands and all(callable(method) for method in runner.commands.values())
    assert not set(HELPERS) & set(runner.commands)


@pytest.mark.parametrize("runner_type, handle_type", RUNNERS)
def test_the_handle_sends_only_the_runners_commands(qapp, runner_type, handle_type):
    channel = FakeChannel()
    handle = channel.hear(handle_type(channel, "tab", runner_type()))
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
    handle = channel.hear(QSheetHandle(channel, "sheet", runner))
    handle.start_race([], 10)
    handle.seek(3)
    assert channel.sent == [("sheet", "start_race", ([], 10)), ("sheet", "seek", (3,))]
    assert runner.commands["start_race"] == runner.race.start and runner.commands["seek"] == runner.history.seek


def test_a_command_reaches_its_own_runners_worker_and_no_other(qtbot, monkeypatch):
    """Each runner's worker thread hears only its handle's commands (no broadcast each worker must sift)."""
    from PySide6.QtCore import Slot

    from collabsheet.gui.runtime.channel import QChannel
    from collabsheet.gui.runtime.worker import QWorker

    heard: list[tuple] = []
    answer = QWorker.command

    @Slot(str, tuple)
    def counted(worker, command, args):  # noqa: ANN001, ANN202 - QWorker.command as it runs, counted
        heard.append((worker.name, command))
        answer(worker, command, args)

    monkeypatch.setattr(QWorker, "command", counted)
    channel = QChannel()
    try:
        sheet = channel.add("sheet", SheetRunner(), QSheetHandle)
        channel.add("graddesc", GradDescRunner(), QGradDescHandle)
        train = channel.add("train", TrainRunner(), QTrainHandle)
        sheet.pause()
        train.pause()
        qtbot.waitUntil(lambda: len(heard) >= 2, timeout=5_000)
        qtbot.wait(100)  # time for any stray delivery to arrive
        assert sorted(heard) == [("sheet", "pause"), ("train", "pause")]
    finally:
        channel.shutdown()
