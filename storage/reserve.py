"""Space kept back for the failure path: when the disk fills, marking a session failed must
still be possible, so a small reserve file beside the database is given back at that moment.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

RESERVE_BYTES = 2 * 1024 * 1024  # a failed-session update needs a few WAL pages


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's SQLITE_FULL ("database or disk is full")."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.OperationalError) and code is not None:
        return code & 0xFF == sqlite3.SQLITE_FULL
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


class DiskReserve:
    """A file of `size` bytes (blocks really allocated) at `path`, released on demand."""

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = path
        self.size = size

    def ensure(self) -> bool:
        """Create the reserve when missing; False (and nothing left behind) when the disk
        cannot hold it now. Never raises."""
        try:
            if self.path.is_file() and self.path.stat().st_size >= self.size:
                return True
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            try:
                os.posix_fallocate(fd, 0, self.size)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # no fallocate: zeros
                    raise
                os.pwrite(fd, b"\0" * self.size, 0)
            return True
        except OSError:
            os.close(fd)
            fd = -1
            with contextlib.suppress(OSError):
                self.path.unlink()
            return False
        finally:
            if fd >= 0:
                os.close(fd)

    def release(self) -> bool:
        """Delete the reserve; True when there was one to give back."""
        try:
            self.path.unlink()
        except OSError:
            return False
        return True
