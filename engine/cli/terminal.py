"""Everything the command line prints goes through here: control characters shown escaped, closed streams survived.

A terminal acts on C0 and C1 control characters (ESC, BEL, CSI, OSC …) and reorders text around the bidirectional
overrides (U+202E and its kin); a file name, title, recipe or device name holding them could retitle the window,
clear the screen or disguise what is shown. So each line is made printable here, once, for every command.
"""
from __future__ import annotations

import os
import re
import sys
from typing import TextIO

from collabsheet.engine.task import Report, Task

PROGRAM = "collabsheet"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class StdoutError(Exception):
    """The result could not be written to standard output (a full disk, a closed stream); one line says so."""


def printable(value: object) -> str:
    """value as text that is safe to show on a terminal: control characters written as escapes (\\x1b, \\u202e)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))


def _lines(text: object) -> str:
    """Each line made printable; the newlines between them kept."""
    return "\n".join(printable(line) for line in str(text).split("\n"))


def say(text: object = "") -> None:
    """Print a result on stdout, each line made printable, at once (a long run shows its progress)."""
    _write(sys.stdout, _lines(text) + "\n", result=True)


def progress(message: object, fraction: float | None = None) -> None:
    """Report what is being done on stderr, so stdout stays the result."""
    suffix = f" {fraction:4.0%}" if fraction is not None else ""
    _write(sys.stderr, printable(f"{message}{suffix}") + "\n")


def progress_line(report: Report) -> None:
    """A task's report as a progress line on stderr; a report of figures alone (no message) shows nothing."""
    if report.message is not None:
        progress(report.message, report.fraction)


def progress_task() -> Task:
    """A Task for a long read or fetch whose messages become progress lines on stderr."""
    return Task(progress_line)


MAX_MESSAGE = 1_000  # characters of one error line: a crafted input's text must not fill the screen


def complain(message: object, prefix: str = PROGRAM) -> None:
    """The one line a failure is answered with, on stderr: 'collabsheet: <message>'."""
    text = printable(message)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE - 1] + "…"
    _write(sys.stderr, f"{printable(prefix)}: {text}\n")


def _write(stream: TextIO | None, text: str, result: bool = False) -> None:
    """Write and flush; a closed stream is skipped. A reader gone from stdout stops the command (main answers
    141); a message lost on stderr must not turn finished work into a failure."""
    if stream is None:  # the stream was closed when the program started (`>&-`)
        return
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        if result:
            raise
    except (OSError, ValueError) as exc:  # a full disk under a redirected stream, or a stream closed under us
        if result:
            raise StdoutError(f"standard output cannot be written ({getattr(exc, 'strerror', None) or exc})") \
                from None


def guard_standard_streams() -> None:
    """Open /dev/null on any of file descriptors 0-2 that were closed, so that no file the program opens later
    takes their number and receives what a library writes to 'stdout' or 'stderr'."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                opened = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if opened != fd:  # the lowest free number is the closed one; anything else is not ours to keep
                os.dup2(opened, fd)
                os.close(opened)
