"""Opening the SQLite file, and running its work off the event loop.

All writes go through one dedicated thread with one connection, so they never interleave
and the event loop never waits on SQLite. Reads run on a small pool of their own
connections; WAL lets them proceed while the writer writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from bot.errors import WordedError
from storage import sqlite as sqlite3
from storage.held_writes import Together, WriteBatch
from storage.migrations import MIGRATIONS, RETIRED_MIGRATIONS
from storage.owned import Gate, open_gate, run_owned
from storage.wal_sync import WalSync
from storage.write_health import WriteHealth

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
PROBE_BUSY_MS = 100  # /healthz's probe write: see Database._probe_sync
WAL_PAGES = 1000  # SQLite's own autocheckpoint
BULK_WAL_PAGES = 50_000  # about 200 MB of WAL during an import (see write_bulk)


class StorageError(WordedError):
    """A problem with the database file, worded for the person running copbot."""


def check_path(path: str | Path) -> Path:
    """Fail early, with a sentence, when the database file cannot be used."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise StorageError(f"database path {p} is a directory; give a file path like {p}/copbot.db")
    if not p.parent.exists():
        raise StorageError(f"cannot open database {p}: folder {p.parent} does not exist")
    if p.exists():
        try:
            with p.open("rb") as f:
                header = f.read(16)
        except PermissionError:
            # A file left by another user (root, say): say so, not a traceback.
            raise StorageError(
                f"cannot read {p}: permission denied; check its owner and mode"
            ) from None
        if header and not header.startswith(b"SQLite format 3"):
            raise StorageError(f"{p} exists but is not an SQLite database")
    return p


def newer_migrations(migrations: Migrations, applied: Iterable[str]) -> list[str]:
    """Migrations the file records and this copbot doesn't know: a newer copbot updated it
    (its code rolled back without the backup taken before the upgrade, say)."""
    known = {m.name for m in migrations._migrations} | RETIRED_MIGRATIONS
    return sorted(set(applied) - known)


def refuse_newer(path: Path, unknown: Sequence[str]) -> None:
    # Its tables may have changed in ways this code can't keep right: refused, not half-used.
    if unknown:
        raise StorageError(
            f"{path} was updated by a newer version of copbot (migration "
            f"{', '.join(unknown)}); run that version, or put back the backup taken before "
            "the upgrade (see Upgrading in docs/operations.md)"
        )


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (see Database.transaction).
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted and erased text must not linger in free pages.
    conn.execute("PRAGMA secure_delete = ON")
    # NORMAL in WAL mode survives a process crash; a power cut can lose the last commits.
    # What a platform was told is safe is written with Database.write(durable=True), whose
    # commit is then fsynced (storage/wal_sync.py).
    conn.execute("PRAGMA synchronous = NORMAL")
    # A larger page cache than SQLite's 2 MB keeps the archive's indexes in memory.
    conn.execute("PRAGMA cache_size = -32768")
    return conn


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE: take the write lock up front, so another process's writer
    makes us wait (busy_timeout) instead of failing half-way."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """The copbot database file. Create with ``Database.open(path)``; close when done."""

    def __init__(self, path: Path, readers: int = 2, *, gate: Gate = open_gate) -> None:
        self.path = path
        self._gate = gate
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="copbot-db-writer")
        self._wal_sync = WalSync(path)
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="copbot-db-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pending_checkpoints: set[asyncio.Task[None]] = set()
        self._scrub_due = False
        self._health = WriteHealth()
        self._probing = asyncio.Lock()  # one write_trouble() probe at a time
        # The write batch open in the current task, if any (see batch()): a context
        # variable, so that each inbox lane's task has its own.
        self._batch: ContextVar[WriteBatch | None] = ContextVar(f"batch-{id(self)}", default=None)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        migrations: Migrations = MIGRATIONS,
        readers: int = 2,
        gate: Gate = open_gate,
    ) -> Database:
        p = check_path(path)
        try:
            conn = connect(p)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                db = sqlite_utils.Database(conn)
                refuse_newer(
                    p, newer_migrations(migrations, (m.name for m in migrations.applied(db)))
                )
                migrations.apply(db)
            finally:
                conn.close()
        except sqlite3.Error as e:
            raise StorageError(f"cannot open database {p}: {e}") from None
        return cls(p, readers=readers, gate=gate)

    def _db(self) -> sqlite_utils.Database:
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            conn = connect(self.path)
            with self._lock:
                self._connections.append(conn)
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    def _write_sync(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        db = self._db()
        changes = db.conn.total_changes
        try:
            with transaction(db):
                result = run_owned(db, fn, self._gate, write=True)
        except BaseException as error:
            self._health.refused(error)
            raise
        if db.conn.total_changes != changes:
            self._health.kept()
        return result

    def _write_bulk(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        # Folding the WAL into the file after every commit would copy the same index pages
        # over and over during a run of large writes: let it grow, up to a limit, until
        # the next ordinary commit (or the last connection's close) folds it once.
        conn = self._db().conn
        conn.execute(f"PRAGMA wal_autocheckpoint = {BULK_WAL_PAGES}")
        try:
            return self._write_sync(fn)
        finally:
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")

    def _read_sync(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        # One snapshot for the whole read: a read of several statements (a search reads
        # its matches, then their rows) never mixes what was there before a write that
        # lands between them with what came after it.
        db = self._db()
        db.conn.execute("BEGIN")
        try:
            result = run_owned(db, fn, self._gate, write=False)
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        # It only read; committing keeps what it set up on its own connection (search's
        # temporary vocabulary table), which a rollback would make it build every time.
        db.conn.execute("COMMIT")
        return result

    def _write_unlocked(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        # On the writer thread, outside a transaction (a checkpoint can't run inside one).
        try:
            return run_owned(self._db(), fn, self._gate, write=True)
        except BaseException as error:
            self._health.refused(error)
            raise

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[WriteBatch]:
        """Open a write batch for the current task (see WriteBatch). Writes still held when
        it closes are dropped: the caller flushes what it means to keep."""
        batch = WriteBatch(self)
        token = self._batch.set(batch)
        try:
            yield batch
        finally:
            batch.close()
            self._batch.reset(token)

    async def write_later(
        self,
        fn: Callable[[sqlite_utils.Database], T],
        then: Callable[[T], None] | None = None,
        together: Together | None = None,
    ) -> None:
        """Write as ``write`` does and pass the result to ``then``; but while an item of a
        write batch is handled in this task, hold the write for the batch's commit (beside
        others of its kind as one, given ``together``). For writes whose caller goes on
        without their result; a failure is the item's."""
        batch = self._batch.get()
        if batch is not None and batch.hold(fn, then, together):
            return
        result = await self.write(fn)
        if then is not None:
            then(result)

    async def _flush_held(self) -> None:
        # Before this task's next read or write: what it wrote first goes in first.
        if (batch := self._batch.get()) is not None:
            await batch.flush()

    async def write(self, fn: Callable[[sqlite_utils.Database], T], *, durable: bool = False) -> T:
        """Run ``fn`` in one transaction on the writer thread. ``durable`` commits survive a
        power cut, not only a crash (an fsync each: keep them for what was promised)."""
        await self._flush_held()
        return await self._write_now(fn, durable=durable)

    async def write_bulk(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """``write``, for one of a run of large writes (an import): the WAL is folded into
        the file once after the run rather than after each of them."""
        await self._flush_held()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_pool, self._write_bulk, fn)

    async def _write_now(
        self, fn: Callable[[sqlite_utils.Database], T], *, durable: bool = False
    ) -> T:
        if not durable:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer_pool, self._write_sync, fn)
        # On the disk before this returns (with every earlier commit), while the writer
        # thread goes on with the next writes (see storage/wal_sync.py); the event loop
        # hears once, when both are done.
        kept: Future[T] = Future()
        self._writer_pool.submit(self._write_durable, fn, kept)
        return await asyncio.wrap_future(kept)

    def _write_durable(self, fn: Callable[[sqlite_utils.Database], T], kept: Future[T]) -> None:
        if not kept.set_running_or_notify_cancel():
            return  # given up on before it began, as run_in_executor would
        try:
            result = self._write_sync(fn)
        except BaseException as error:
            kept.set_exception(error)
            return

        def synced(flushed: Future[None]) -> None:
            if (error := flushed.exception()) is not None:
                self._health.refused(error)
                kept.set_exception(error)
            else:
                kept.set_result(result)

        self._wal_sync.request().add_done_callback(synced)

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """One statement in its own transaction on the writer thread; rows changed."""
        return await self.write(lambda db: db.execute(sql, params).rowcount)

    async def read(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        await self._flush_held()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._read_sync, fn)

    async def checkpoint(self) -> None:
        """Fold the WAL into the file and truncate it, so that pages holding erased text
        do not linger there (the file's own free pages are zeroed by secure_delete).

        A reader in the middle of a long read (an export, say) holds the WAL; then this
        tries again, at growing intervals, in the background until it succeeds.
        """
        if not await self._try_checkpoint():
            task = asyncio.create_task(self._checkpoint_later())
            self._pending_checkpoints.add(task)
            task.add_done_callback(self._pending_checkpoints.discard)

    def scrub_soon(self) -> None:
        """Words were just removed while the event that removed them is still in the inbox
        (which holds its own copy): checkpoint once that event is marked handled."""
        self._scrub_due = True

    async def scrub_if_due(self) -> None:
        if self._scrub_due:
            self._scrub_due = False
            await self.checkpoint()

    async def _try_checkpoint(self) -> bool:
        await self._flush_held()
        loop = asyncio.get_running_loop()
        busy, _, _ = await loop.run_in_executor(
            self._writer_pool,
            self._write_unlocked,
            lambda db: tuple(db.execute("pragma wal_checkpoint(truncate)").fetchone()),
        )
        return not busy

    async def _checkpoint_later(self) -> None:
        delay = 0.1
        while not await self._try_checkpoint():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def write_trouble(self) -> str | None:
        """Why writes fail, in a few words (for /healthz); None while they are kept.

        While the last write failed, a write of its own that changes nothing (one at a
        time; a caller meanwhile hears the last outcome) asks the file again, so that a
        quiet copbot is seen to be well as soon as the disk has room or the lock is free,
        not only at the next event."""
        if self._health.trouble is None or self._probing.locked():
            return self._health.trouble
        async with self._probing:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(Exception):  # a refusal is noted by _probe_sync
                await loop.run_in_executor(self._writer_pool, self._probe_sync)
        return self._health.trouble

    def _probe_sync(self) -> None:
        db = self._db()
        # Anyone can ask /healthz: its probe waits a moment for another process's write
        # lock, never the seconds a real write does, so asking can't hold up the writes.
        db.conn.execute(f"PRAGMA busy_timeout = {PROBE_BUSY_MS}")
        try:
            with transaction(db):
                run_owned(db, _rewrite_header, self._gate, write=True)
        except BaseException as error:
            self._health.refused(error)
            raise
        finally:
            db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._health.kept()

    async def ping(self) -> bool:
        try:
            return await self.read(lambda db: db.execute("select 1").fetchone()[0] == 1)
        except sqlite3.Error:
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._pending_checkpoints:
            task.cancel()
        self._writer_pool.shutdown(wait=True)
        self._wal_sync.close()
        self._reader_pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _rewrite_header(db: sqlite_utils.Database) -> None:
    """A write that changes nothing, yet puts a page in the WAL as any write does (a full
    disk or a read-only file refuses it): the file's first page, written as it is."""
    (version,) = db.execute("pragma user_version").fetchone()
    db.execute(f"pragma user_version = {int(version)}")


def migrate(path: str | Path) -> list[str]:
    """Apply pending migrations; return the names applied."""
    p = check_path(path)
    try:
        # Opening can fail too: a new file in a folder this user can't write.
        conn = connect(p)
    except sqlite3.Error as e:
        raise StorageError(f"cannot migrate database {p}: {e}") from None
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        db = sqlite_utils.Database(conn)
        refuse_newer(p, newer_migrations(MIGRATIONS, (m.name for m in MIGRATIONS.applied(db))))
        pending = [m.name for m in MIGRATIONS.pending(db)]
        MIGRATIONS.apply(db)
        return pending
    except sqlite3.Error as e:
        raise StorageError(f"cannot migrate database {p}: {e}") from None
    finally:
        conn.close()
