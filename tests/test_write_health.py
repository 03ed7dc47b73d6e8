"""Database notes whether its writes are kept, for /healthz: any write refused for a reason
of storage's (not only the inbox's) makes it unhealthy, until a write that changes
something is kept again."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlite_utils

from storage import sqlite
from storage.database import BUSY_TIMEOUT_MS, Database
from storage.write_health import refusal
from tests.support.faults import Faults, disk_full, locked

PROBE = "_rewrite_header"


@pytest.fixture
def database(db_path: Path, faults: Faults) -> Iterator[Database]:
    db = Database.open(db_path, gate=faults)
    yield db
    db.close()


def grant(identity: str) -> Callable[[sqlite_utils.Database], None]:
    def granting(db: sqlite_utils.Database) -> None:
        db.execute(
            "insert into roles (identity, role, granted_by, granted_at) values (?, ?, ?, ?)",
            (identity, "admin", "cli", "2026-01-01T00:00:00+00:00"),
        )

    return granting


def scheduling(db: sqlite_utils.Database) -> None:
    """Stands for any write besides the inbox's (a scheduler's, a command's)."""


async def test_any_refused_write_counts_and_a_kept_one_clears_it(
    database: Database, faults: Faults
) -> None:
    assert await database.write_trouble() is None
    faults.fail("scheduling", disk_full)  # not only the inbox's writes
    faults.fail(PROBE, disk_full, times=2)  # the disk stays full
    with pytest.raises(sqlite.OperationalError):
        await database.write(scheduling)
    assert await database.write_trouble() == "the disk holding it is full"
    # A write that changes nothing commits even on a full disk: it proves nothing.
    await database.write(lambda db: db.execute("select 1").fetchone())
    assert await database.write_trouble() == "the disk holding it is full"
    await database.write(grant("slack:U1"))
    assert faults.raised.count(PROBE) == 2
    assert await database.write_trouble() is None
    assert faults.raised.count(PROBE) == 2  # nothing to ask while writes are kept


async def test_a_quiet_copbot_is_well_again_as_soon_as_the_file_is(
    database: Database, faults: Faults, db_path: Path
) -> None:
    faults.fail("scheduling", disk_full)
    with pytest.raises(sqlite.OperationalError):
        await database.write(scheduling)
    # Space is freed; nothing else is written: asking writes to the file, and changes nothing.
    assert await database.write_trouble() is None
    assert faults.raised == ["scheduling"]
    assert await database.read(lambda db: db.execute("pragma user_version").fetchone()[0]) == 0
    assert (
        await database.read(lambda db: db.execute("select count(*) from roles").fetchone()[0]) == 0
    )


async def test_a_constraint_or_a_mistake_in_sql_says_nothing_of_the_file(
    database: Database,
) -> None:
    await database.write(grant("slack:U1"))
    with pytest.raises(sqlite.IntegrityError):
        await database.write(grant("slack:U1"))
    with pytest.raises(sqlite.Error):
        await database.write(lambda db: db.execute("select ?", (1, 2)).fetchone())
    assert await database.write_trouble() is None


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk holding it is full"),
        (OSError(errno.EIO, "Input/output error"), "the disk or the file gave an error"),
        (sqlite.OperationalError("disk I/O error"), "the disk or the file gave an error"),
        (
            sqlite.DatabaseError("database disk image is malformed"),
            "the disk or the file gave an error",
        ),
        (sqlite.OperationalError("something new"), "it refused the last write"),
    ],
)
def test_each_refusal_is_worded_without_sqlites_message(error: Exception, reason: str) -> None:
    assert refusal(error) == reason


async def test_asking_while_another_process_holds_the_lock_never_waits_as_a_write_does(
    database: Database, faults: Faults, db_path: Path
) -> None:
    """/healthz is anyone's to ask: its probe gives up on a held lock at once, where a real
    write waits 5 s, so a stream of questions can't keep copbot's writer waiting."""
    faults.fail("scheduling", locked)
    with pytest.raises(sqlite.OperationalError):
        await database.write(scheduling)
    other = sqlite.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write lock, held
        async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000 / 2):  # half a write's wait
            assert await database.write_trouble() == "another process held its write lock too long"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await database.write_trouble() is None  # the lock let go: well again
    timeout = await database.write(lambda db: db.execute("pragma busy_timeout").fetchone()[0])
    assert timeout == BUSY_TIMEOUT_MS  # writes wait as long as ever
