from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import sqlite_utils

from bot.model import Channel, ChannelRef, Role
from storage import sqlite
from storage.channels import SqliteChannelRepository
from storage.database import Database, StorageError, check_path, migrate
from storage.migrations import MIGRATIONS
from storage.owned import CursorEscaped
from storage.roles import SqliteRoleRepository
from tests.support.fakes import ManualClock


@pytest.fixture
def database(db_path: Path):
    db = Database.open(db_path)
    yield db
    db.close()


def test_opening_applies_every_named_migration_once(db_path: Path) -> None:
    Database.open(db_path).close()
    conn = sqlite.connect(db_path)
    applied = [r[0] for r in conn.execute("select name from _sqlite_migrations order by rowid")]
    assert applied == [m.name for m in MIGRATIONS.pending(sqlite_utils.Database(":memory:"))]
    assert migrate(db_path) == []  # nothing left to do
    conn.close()


def test_the_file_is_plain_sqlite_in_wal_mode(db_path: Path, database: Database) -> None:
    conn = sqlite.connect(db_path)
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert {"roles", "channels", "inbox", "jobs", "recurrences"} <= set(
        sqlite_utils.Database(conn).table_names()
    )
    conn.close()


async def test_connections_enforce_foreign_keys_and_wait_when_busy(database: Database) -> None:
    pragmas = await database.read(
        lambda db: (
            db.execute("pragma foreign_keys").fetchone()[0],
            db.execute("pragma busy_timeout").fetchone()[0],
            db.execute("pragma secure_delete").fetchone()[0],
        )
    )
    assert pragmas == (1, 5000, 1)
    with pytest.raises(sqlite.IntegrityError):
        await database.execute(
            "insert into jobs (kind, payload, due_at, key, schedule_id, created_at)"
            " values ('k', '{}', 'x', 'key', 999, 'x')"
        )


async def test_writes_run_on_one_thread_and_never_interleave(database: Database) -> None:
    await database.execute("create table counter (n integer)")
    await database.execute("insert into counter values (0)")
    threads: set[str] = set()

    def bump(db: sqlite_utils.Database) -> None:
        threads.add(threading.current_thread().name)
        n = db.execute("select n from counter").fetchone()[0]
        time.sleep(0.0005)  # a read-modify-write that would lose updates if interleaved
        db.execute("update counter set n = ?", [n + 1])

    await asyncio.gather(*(database.write(bump) for _ in range(100)))
    assert await database.read(lambda db: db.execute("select n from counter").fetchone()[0]) == 100
    assert len(threads) == 1 and threading.main_thread().name not in threads


async def test_a_failed_write_rolls_back_whole(database: Database) -> None:
    def half_then_fail(db: sqlite_utils.Database) -> None:
        db.execute(
            "insert into roles values ('slack:U1', 'admin', 'x', '2026-01-01T00:00:00.000000Z')"
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await database.write(half_then_fail)
    assert (
        await database.read(lambda db: db.execute("select count(*) from roles").fetchone()[0]) == 0
    )


async def test_the_event_loop_keeps_running_during_slow_database_work(database: Database) -> None:
    release = threading.Event()
    slow = asyncio.create_task(database.write(lambda db: release.wait(10)))
    await asyncio.sleep(0)  # the write is under way on the writer thread
    # Were the write on the loop's thread, nothing else could run until it finished.
    assert await asyncio.wait_for(asyncio.sleep(0, result="ran"), 5) == "ran"
    assert not slow.done()
    release.set()
    assert await slow is True


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.parent / "missing" / "x.db", "does not exist"),
        (lambda p: p.parent, "is a directory"),
        (
            lambda p: (p.write_text("not a database, just text" * 10), p)[1],
            "not an SQLite database",
        ),
    ],
)
def test_unusable_paths_fail_with_a_sentence(db_path: Path, make, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        check_path(make(db_path))


async def test_roles_repository(database: Database) -> None:
    roles = SqliteRoleRepository(database, ManualClock())
    assert await roles.role_of("slack:U1") is Role.STAFF
    assert await roles.grant("slack:U1", Role.FACILITATOR, by="cli")
    assert not await roles.grant("slack:U1", Role.FACILITATOR, by="cli")
    assert await roles.grant("slack:U1", Role.ADMIN, by="cli")
    assert await roles.role_of("slack:U1") is Role.ADMIN
    assert await roles.revoke("slack:U1", Role.ADMIN)
    assert await roles.role_of("slack:U1") is Role.FACILITATOR
    assert [(g.identity, g.role) for g in await roles.list()] == [("slack:U1", Role.FACILITATOR)]
    with pytest.raises(ValueError, match="everyone's role"):
        await roles.grant("slack:U1", Role.STAFF, by="cli")


async def test_channels_repository_finds_by_name_or_id(database: Database) -> None:
    channels = SqliteChannelRepository(database, ManualClock())
    north = ChannelRef("slack", "C1", "T1", "ips-north")
    await channels.save(Channel(north, "north"))
    assert (await channels.find("slack", "#ips-north")) == [Channel(north, "north")]
    assert (await channels.find("slack", "C1")) == [Channel(north, "north")]
    assert await channels.find("teams", "ips-north") == []
    # Names repeat (another workspace's #ips-north): every one is found, copbot's first.
    elsewhere = ChannelRef("slack", "C9", "T9", "ips-north")
    await channels.save(Channel(elsewhere, "", bot_member=False))
    assert [c.ref for c in await channels.find("slack", "ips-north")] == [north, elsewhere]
    await channels.save(Channel(north, "midlands", bot_member=False))
    found = await channels.get(north)
    assert found is not None and found.region == "midlands" and not found.bot_member


async def test_a_read_sees_one_snapshot_though_a_write_lands_between_its_statements(
    db_path: Path,
) -> None:
    database = Database.open(db_path, readers=1)
    await database.execute("create table notes (n integer)")
    await database.execute("insert into notes values (1)")
    elsewhere = sqlite.connect(db_path, isolation_level=None, check_same_thread=False)

    def counted_twice(db: sqlite_utils.Database) -> tuple[int, int]:
        before = db.execute("select count(*) from notes").fetchone()[0]
        elsewhere.execute("insert into notes values (2)")
        return before, db.execute("select count(*) from notes").fetchone()[0]

    def failing(db: sqlite_utils.Database) -> None:
        db.execute("select count(*) from notes").fetchone()
        raise ValueError("a read that fails half-way")

    try:
        assert await database.read(counted_twice) == (1, 1)
        with pytest.raises(ValueError, match="half-way"):
            await database.read(failing)
        # Each read begins afresh: the next sees both rows, and none is left in a transaction.
        assert (
            await database.read(lambda db: db.execute("select count(*) from notes").fetchone()[0])
            == 2
        )
        assert await database.read(lambda db: db.conn.in_transaction) is True
    finally:
        elsewhere.close()
        database.close()


async def test_no_cursor_leaves_the_thread_that_owns_its_connection(database: Database) -> None:
    """A cursor freed on the event loop's thread resets a statement its connection's cache
    shares with the worker thread's next call: returning one is refused, and its write
    rolled back."""
    await database.execute("create table notes (n integer)")
    with pytest.raises(CursorEscaped):
        await database.write(lambda db: db.execute("insert into notes values (1)"))
    with pytest.raises(CursorEscaped):
        await database.read(lambda db: db.query("select n from notes"))
    with pytest.raises(CursorEscaped):
        await database.read(lambda db: db.execute("select n from notes"))
    assert await database.read(lambda db: db.execute("select count(*) from notes").fetchone()) == (
        0,
    )


async def test_a_run_of_bulk_writes_folds_the_wal_into_the_file_once_afterwards(
    db_path: Path, database: Database
) -> None:
    def fill(db: sqlite_utils.Database) -> None:
        db.execute("create table if not exists filler (x blob)")
        db.conn.executemany("insert into filler values (randomblob(3000))", [()] * 800)

    before = db_path.stat().st_size
    await database.write_bulk(fill)
    await database.write_bulk(fill)  # past SQLite's 1,000 pages, yet still in the WAL
    assert db_path.stat().st_size == before
    await database.write(lambda db: db.execute("insert into filler values (1)").rowcount)
    assert db_path.stat().st_size > before + 1600 * 3000


def test_the_archive_index_takes_an_import_batch_in_one_piece(database: Database) -> None:
    from storage.migrations import FTS_HASH_BYTES

    conn = sqlite.connect(database.path)
    config = dict(conn.execute("select k, v from archive_fts_config").fetchall())
    conn.close()
    assert config["hashsize"] == FTS_HASH_BYTES > 1 << 20
