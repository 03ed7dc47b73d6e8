"""The WAL's fsync for durable writes: one begun after each commit that asks, shared by
those that ask while another runs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from storage.wal_sync import WalSync


class HeldFsync:
    """An fsync that waits to be let go, counting the calls that reached the disk."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.go = threading.Semaphore(0)
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.started.release()
        assert self.go.acquire(timeout=10)
        self.calls += 1


def test_a_flush_asked_during_an_fsync_waits_for_the_next_and_shares_it(tmp_path: Path) -> None:
    database = tmp_path / "copbot.db"
    Path(f"{database}-wal").write_bytes(b"frames")
    fsync = HeldFsync()
    sync = WalSync(database, fsync)
    first = sync.request()
    assert fsync.started.acquire(timeout=10)  # the first fsync has begun
    second, third = sync.request(), sync.request()  # asked while it runs
    assert second is third
    fsync.go.release()  # the first fsync ends: its folder's fsync follows
    assert fsync.started.acquire(timeout=10)
    fsync.go.release()
    first.result(timeout=10)
    assert not second.done()  # begun before they asked: it does not count for them
    assert fsync.started.acquire(timeout=10)
    fsync.go.release()
    second.result(timeout=10)
    assert fsync.calls == 3  # the WAL twice, and its folder once
    sync.close()


def test_a_failed_fsync_fails_the_durable_write(tmp_path: Path) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, os.strerror(5))

    database = tmp_path / "copbot.db"
    Path(f"{database}-wal").write_bytes(b"frames")
    sync = WalSync(database, failing)
    with pytest.raises(OSError, match="Input/output"):
        sync.request().result(timeout=10)
    sync.close()
