"""One `copbot serve` a database: the lock beside it, and a filesystem without locks."""

from __future__ import annotations

import errno
import fcntl
import logging
from pathlib import Path

import pytest

from storage.database import StorageError
from storage.one_server import lock_path, serving


def test_a_second_hold_on_the_same_database_is_refused_while_the_first_lasts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "copbot.db"
    with serving(db):
        assert lock_path(db).read_text().strip().isdigit()
        with pytest.raises(StorageError, match="already running"), serving(db):
            pass
    with serving(db):  # the first gone, the lock is free
        pass


def test_a_filesystem_without_locks_is_said_and_not_stopped_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING), serving(tmp_path / "copbot.db"):
        pass
    assert any("make sure one copbot serves it" in r.getMessage() for r in caplog.records)


def test_a_symlink_put_where_the_lock_goes_is_refused_not_followed(tmp_path: Path) -> None:
    """The lock is truncated and written as it is taken: followed, a link there (in a
    folder others can write to) would have copbot overwrite whatever file it points at."""
    db = tmp_path / "copbot.db"
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    lock_path(db).symlink_to(victim)
    with pytest.raises(StorageError, match="not a plain file"), serving(db):
        pass
    assert victim.read_text() == "keep me\n"


def test_a_database_named_through_a_symlink_shares_the_lock_of_the_file_itself(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "copbot.db"
    db.parent.mkdir()
    alias = tmp_path / "current.db"
    alias.symlink_to(db)
    with serving(db), pytest.raises(StorageError, match="already running"), serving(alias):
        pass
