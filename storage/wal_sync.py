"""Flushing the WAL to the disk on a thread of its own, so that the writer thread never
waits for the disk.

Every commit runs with ``synchronous = NORMAL``: it is in the WAL, safe from a crash of
copbot but not yet from a power cut. A durable write then asks for a flush: an fsync of
the WAL file begun after its commit, which puts that commit (and every earlier one) on
the disk, as ``synchronous = FULL`` would have at the commit itself. While one fsync runs,
the writer goes on with the next writes, and every commit that asks meanwhile shares the
next fsync.

SQLite takes no locks on the WAL file itself (those are on the ``-shm`` file), and keeps
it, truncated rather than deleted, while copbot's connections are open: opening it here
and closing it again leaves SQLite's own handles and locks alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path


class WalSync:
    def __init__(self, database: Path, fsync: Callable[[int], None] = os.fsync) -> None:
        self._fsync_fd = fsync  # tests hold an fsync back to see who waits for which
        self._wal = Path(f"{database}-wal")
        self._folder = database.parent
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="copbot-db-sync")
        self._next: Future[None] | None = None  # the fsync not yet begun, if one is asked for
        self._folder_synced = False

    def request(self) -> Future[None]:
        """Done once an fsync of the WAL begun after this call has finished."""
        with self._lock:
            if self._next is None:
                self._next = Future()
                self._pool.submit(self._run)
            return self._next

    def _run(self) -> None:
        with self._lock:
            done, self._next = self._next, None
        assert done is not None
        try:
            self._fsync()
        except BaseException as error:
            done.set_exception(error)
        else:
            done.set_result(None)

    def _fsync(self) -> None:
        fd = os.open(self._wal, os.O_RDONLY)
        try:
            self._fsync_fd(fd)
        finally:
            os.close(fd)
        if not self._folder_synced:
            # The WAL's own entry in its folder, once: a file that is on the disk but
            # not in its folder is lost all the same.
            folder = os.open(self._folder, os.O_RDONLY)
            try:
                self._fsync_fd(folder)
            finally:
                os.close(folder)
            self._folder_synced = True

    def close(self) -> None:
        self._pool.shutdown(wait=True)
