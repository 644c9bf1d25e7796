"""One server per data dir: an exclusive advisory lock on ``<data dir>/server.lock``.

Two server processes on one job store would both recover its ``running`` items and run them
twice. The lock is ``flock(LOCK_EX | LOCK_NB)`` on a file that holds the owner's pid; the kernel
drops it when the owner exits in any way (``kill -9`` included), so there is no stale lock to clean
up, and the batch pool processes do not inherit it (the descriptor is close-on-exec).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import InputError

#: The lock file's name inside the data dir.
LOCK_NAME = "server.lock"


class DataDirLock:
    """The exclusive lock of one data dir, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: Optional[int] = None

    def acquire(self) -> "DataDirLock":
        """Take the lock and write this process's pid into it.

        Raises:
            InputError: another process holds it (naming the folder and that process's pid), or
                the lock file cannot be opened.
        """
        import fcntl

        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise InputError(f"cannot be locked ({exc.strerror or exc})", self.path,
                             "pass a writable --data-dir") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = _read_pid(fd)
            os.close(fd)
            raise InputError(f"is in use by another edgekit server (pid {owner or 'unknown'})", self.folder,
                             "stop that server first, or give this one its own --data-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it); the file stays for the next owner."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_pid(fd: int) -> Optional[int]:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


__all__ = ["DataDirLock", "LOCK_NAME"]
