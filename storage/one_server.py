"""One `copbot serve` a database at a time. A second on the same file would take people's
events and scheduled jobs beside the first, announce an event the first is announcing
(each run takes a half-done announcement for one a stopped run left), and pace posts to
Slack and Teams as if it were alone. The lock is the kernel's, so it goes with its
process, however that process ends (kill -9 included)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from storage.database import StorageError, check_path

log = logging.getLogger(__name__)

_NOT_PLAIN = (
    "{path} is not a plain file of copbot's own (a link to another file, say); remove it, "
    "check who else can write to its folder, and start copbot again"
)


def lock_path(db_path: Path) -> Path:
    """Beside the database: copbot.db -> copbot.db-serve.lock."""
    return db_path.with_name(f"{db_path.name}-serve.lock")


@contextlib.contextmanager
def serving(db_path: Path) -> Iterator[None]:
    """Hold the database's serve lock while the block runs; StorageError, worded for the
    person starting copbot, when another process holds it."""
    # The file itself, however it is named: a symlink to it (current.db, say) is the same
    # database, served by one copbot.
    path = lock_path(check_path(db_path).resolve())
    try:
        # Never through a link: the lock is truncated and written below, and a link put in
        # its place (where others may write) would have copbot overwrite what it points at.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StorageError(_NOT_PLAIN.format(path=path)) from None
        raise StorageError(f"cannot open {path}: {e.strerror}") from None
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode) or held.st_nlink != 1:
            # A hard link to another file, or a device or pipe: not copbot's lock.
            raise StorageError(_NOT_PLAIN.format(path=path))
        if _lock(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        else:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            which = f" (process {holder})" if holder.isdigit() else ""
            raise StorageError(
                f"copbot is already running on {db_path}{which}; stop it first, or give "
                "this one a database of its own with --db"
            )
        yield
    finally:
        os.close(fd)  # the lock goes with it


def _lock(fd: int, path: Path) -> bool:
    """Whether this process now holds the lock (or none can be had here): False when
    another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        # A filesystem without locks (some network mounts): said, not stopped for.
        log.warning("couldn't lock %s (%s); make sure one copbot serves it", path, e.strerror)
    return True
