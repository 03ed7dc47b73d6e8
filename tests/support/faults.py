"""Storage that fails on cue, through Database's gate (no patching): the errors SQLite
gives when the disk is full or another process holds the write lock."""

from __future__ import annotations

import threading
from collections.abc import Callable

from storage import sqlite as sqlite3


def disk_full() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database or disk is full")


def locked() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked")


class Faults:
    """A Database gate: ``fail("SqliteInboxRepository.accept", disk_full)`` makes the next
    unit(s) of work whose qualified name starts so raise; every other one runs."""

    def __init__(self) -> None:
        self._armed: dict[str, tuple[Callable[[], Exception], int]] = {}
        self._spared: dict[str, int] = {}  # how many more to let through before failing
        self._every_write: Callable[[], Exception] | None = None
        self._lock = threading.Lock()  # the gate runs on storage's worker threads
        self.raised: list[str] = []

    def fail(
        self, where: str, error: Callable[[], Exception], times: int = 1, after: int = 0
    ) -> None:
        """Fail the next ``times`` units of work named so, once ``after`` have run."""
        with self._lock:
            self._armed[where] = (error, times)
            self._spared[where] = after

    def fail_writes(self, error: Callable[[], Exception]) -> None:
        """Every write fails, whoever makes it, until ``clear()``: a disk that is full, or
        a file made read-only, refuses them all."""
        with self._lock:
            self._every_write = error

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self._spared.clear()
            self._every_write = None

    def __call__(self, op: Callable[..., object], *, write: bool) -> None:
        name = getattr(op, "__qualname__", "")
        with self._lock:
            if write and self._every_write is not None:
                self.raised.append(name)
                raise self._every_write()
            for where, (error, times) in list(self._armed.items()):
                if name.startswith(where):
                    if self._spared.get(where, 0) > 0:
                        self._spared[where] -= 1
                        continue
                    if times <= 1:
                        del self._armed[where]
                    else:
                        self._armed[where] = (error, times - 1)
                    self.raised.append(where)
                    raise error()


def read_only() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("attempt to write a readonly database")


# Each way a disk or a file refuses writes, and the few words copbot says of it (storage's
# reading, storage/write_health.py): never SQLite's message or a path.
REFUSALS: dict[str, tuple[Callable[[], Exception], str]] = {
    "disk full": (disk_full, "the disk holding it is full"),
    "read-only": (read_only, "its file is read-only for copbot"),
    "locked": (locked, "another process held its write lock too long"),
}
