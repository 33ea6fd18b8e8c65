"""Every file collabsheet writes goes through here, so every command follows the same rules.

A target is a new name or an existing regular file that is writable by its mode bits; never a symlink, FIFO, device,
socket or folder, never one of the command's own inputs (however named: same device and inode), and its folder must
exist and be writable, which callers check before long work. The content goes to a temporary file of its own
(random name, created with O_EXCL and O_NOFOLLOW), is fsynced, and is renamed over the target only when complete;
whatever stops the write (a full disk, Ctrl-C, SIGTERM) removes the temporary file and leaves the old one intact.

Standard library only: every layer of the engine (data, train, xlsx, cli) may use it.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from os import PathLike
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Mapping, Union

Inputs = Union[Mapping[Union[str, PathLike], str], Iterable[Union[str, PathLike]]]

_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a folder"}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class WriteError(ValueError):
    """A file could not be written, or must not be; str(error) is one line naming the file and why."""


def _roles(inputs: Inputs | None) -> dict[str, str]:
    """The command's inputs as {path: how a message names it}; '-' (standard input) and empty names are no files."""
    if inputs is None:
        return {}
    pairs = inputs.items() if isinstance(inputs, Mapping) else ((p, "an input") for p in inputs)
    return {os.fspath(p): role for p, role in pairs if p and os.fspath(p) != "-"}


def check_target(path: str | PathLike, inputs: Inputs | None = None, what: str = "file") -> Path:
    """Refuse, with a one-line WriteError, a path that must not be written (see the module's rules); the path."""
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise WriteError(f"{path}: names a folder; give a file name")
    try:
        target = path.lstat()
    except FileNotFoundError:
        target = None
    except OSError as exc:  # a name too long, a parent that is a file …
        raise WriteError(f"{path.name}: cannot be written ({exc.strerror or exc})") from None
    if target is not None:
        if not stat.S_ISREG(target.st_mode):
            kind = _KINDS.get(stat.S_IFMT(target.st_mode), "not a regular file")
            raise WriteError(f"{path.name}: is {kind}; collabsheet writes a {what} only as a new or regular file")
        for other, role in _roles(inputs).items():
            with contextlib.suppress(OSError):  # an input that cannot be stat'ed cannot be this file
                if os.path.samestat(target, os.stat(other)):
                    raise WriteError(f"{path.name}: is {role} this {what} is made from; choose another name")
        # The mode bits are the user's intent, even for root, whom os.access would let through.
        if not target.st_mode & stat.S_IWUSR or not os.access(path, os.W_OK, follow_symlinks=False):
            raise WriteError(f"{path.name}: is read-only; choose another name or make it writable")
    check_folder(path)
    return path


def check_folder(path: str | PathLike) -> None:
    """Refuse a target whose folder does not exist or cannot be written (checked by creating a file there)."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise WriteError(f"{path.name}: cannot be written (the folder {folder} does not exist)")
    try:  # the only sure test of a folder's permissions (root, read-only mounts, ACLs): write there
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise WriteError(f"{path.name}: cannot be written (the folder {folder}: {exc.strerror or exc})") from None


def write_file(path: str | PathLike, write: Callable[[BinaryIO], None], inputs: Inputs | None = None,
               what: str = "file") -> Path:
    """Check path, then write(fh) into a temporary file of its own beside it, fsync it and rename it over path."""
    path = check_target(path, inputs, what)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None  # a replaced file keeps its permissions
    part = path.parent / f".{path.name}.{secrets.token_hex(8)}.part"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
    except OSError as exc:
        raise WriteError(f"{path.name}: cannot be written ({exc.strerror or exc})") from None
    try:
        with open(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
        check_target(path, inputs, what)  # again: the path may have changed while the content was made
        os.replace(part, path)  # only a complete file replaces an earlier one
        _sync_folder(path.parent)
    except OSError as exc:
        raise WriteError(f"{path.name}: cannot be written ({exc.strerror or exc})") from None
    finally:  # whatever stopped the write, Ctrl-C and SIGTERM included, nothing is left behind
        with contextlib.suppress(OSError):
            os.unlink(part)
    return path


def write_bytes(path: str | PathLike, data: bytes, inputs: Inputs | None = None, what: str = "file") -> Path:
    """write_file with content already in memory."""
    return write_file(path, lambda fh: fh.write(data), inputs, what)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the system allows it (not every file system opens folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
