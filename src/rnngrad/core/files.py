"""Atomic file writes: a reader (or a killed run) never sees a half-written result."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, then rename it
    over ``path`` (atomic on POSIX), with the mode the umask gives. On any error the temporary
    file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        # mkstemp makes the file 0600 and the rename keeps that: give it the mode the umask
        # gives a new file (0644 under umask 022), so a cluster's group can read results
        os.chmod(tmp, 0o666 & ~_umask())
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_HELD: dict[str, int] = {}  # locks this process holds, by path: the open descriptor


class LockedError(RuntimeError):
    """Another process holds the lock."""


def hold_lock(path: str | os.PathLike, what: str) -> None:
    """Take an exclusive lock on ``path`` for the rest of this process, or raise
    :class:`LockedError` saying which process holds it. The kernel releases it when the
    process ends, however it ends (a killed run leaves no lock to remove)."""
    path = Path(path)
    if str(path) in _HELD:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 100).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise LockedError(
            f"{path}: {what} is already being run by {holder}; wait for it to end (two "
            "runs of one study would delete each other's results)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode())
    _HELD[str(path)] = fd
