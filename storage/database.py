"""Opening the SQLite file, and running its work off the event loop.

All writes go through one dedicated thread with one connection, so they never interleave
and the event loop never waits on SQLite. Reads run on a small pool of their own
connections; WAL lets them proceed while the writer writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from bot.errors import WordedError
from storage import sqlite as sqlite3
from storage.migrations import MIGRATIONS
from storage.wal_sync import WalSync

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
WAL_PAGES = 1000  # SQLite's own autocheckpoint
BULK_WAL_PAGES = 50_000  # about 200 MB of WAL during an import (see write_bulk)


class StorageError(WordedError):
    """A problem with the database file, worded for the person running copbot."""


class CursorEscaped(TypeError):
    """A unit of work returned a cursor (or a lazy iterator over one). Freeing it on
    another thread resets a statement its connection's cache shares with the next call
    on the worker thread ("Error binding parameter 0"), so results must be plain values."""


class Gate(Protocol):
    """Runs on the worker thread at the start of each unit of work (inside the write's
    transaction), before ``op`` does. The seam for fault tests: raise the
    ``sqlite3.OperationalError`` a locked or full database would, without patching."""

    def __call__(self, op: Callable[..., object], *, write: bool) -> None: ...


def _open_gate(op: Callable[..., object], *, write: bool) -> None:
    return None


def _forget_frames(error: BaseException) -> None:
    """An exception carries the op's frames to the event loop, and with them any cursor
    still in a local: free those here, on the thread that owns the connection."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _run_owned(
    db: sqlite_utils.Database, fn: Callable[[sqlite_utils.Database], T], gate: Gate, write: bool
) -> T:
    """Run ``fn`` so that nothing tied to this thread's connection leaves the thread."""
    try:
        gate(fn, write=write)
        result = fn(db)
    except BaseException as e:
        _forget_frames(e)
        raise
    return _plain(fn, result)


def _plain(fn: Callable[..., object], result: T) -> T:
    if isinstance(result, sqlite3.Cursor | Iterator):
        if isinstance(result, sqlite3.Cursor):
            result.close()
        raise CursorEscaped(f"{getattr(fn, '__qualname__', fn)} returned {type(result).__name__}")
    return result


@dataclass(frozen=True)
class Together:
    """How a held write can go in beside others of its kind as one: ``run`` over all their
    ``arg``s at once (a result each, in order), as each one's ``fn`` would have done."""

    run: Callable[[sqlite_utils.Database, list[Any]], list[Any]]
    arg: Any


@dataclass(frozen=True)
class _Held:
    """A write held by a batch: made for ``item``, with what to do with its result once
    it is committed."""

    item: int
    fn: Callable[[sqlite_utils.Database], Any]
    then: Callable[[Any], None] | None
    together: Together | None = None


@dataclass(frozen=True)
class _Outcome:
    results: list[tuple[_Held, Any]]  # the writes that went in, with their results
    failed: dict[int, Exception]  # the items one of whose writes failed


def _run_held(
    db: sqlite_utils.Database,
    held: list[_Held],
    last: Callable[[sqlite_utils.Database, set[int]], None] | None,
    gate: Gate,
    failed_before: set[int],
) -> _Outcome:
    """On the writer thread, inside one transaction: each item's writes in a savepoint of
    their own (one failing undoes that item's writes only), then ``last`` with the items
    whose writes failed (here or before). Each write passes the gate, as on its own.

    Items of one write each, of the same kind (``Together``) and next to each other, go in
    as one (a capture batch's messages: one insert, one index update); should that fail,
    they go in one by one, so that only the item at fault fails."""
    results: list[tuple[_Held, Any]] = []
    failed: dict[int, Exception] = {}
    groups: list[list[_Held]] = []
    for h in held:
        if groups and groups[-1][0].item == h.item:
            groups[-1].append(h)
        else:
            groups.append([h])
    start = 0
    while start < len(groups):
        end = start + 1
        run = _together(groups[start])
        while run is not None and end < len(groups) and _together(groups[end]) is run:
            end += 1
        if end - start > 1 and run is not None:
            ops = [group[0] for group in groups[start:end]]
            results += _run_together(db, ops, run, gate, failed)
        else:
            for group in groups[start:end]:
                results += _run_item(db, group, gate, failed, gated=False)
        start = end
    if last is not None:
        gate(last, write=True)
        last(db, failed_before | failed.keys())
    return _Outcome(results, failed)


def _together(group: list[_Held]) -> Callable[..., list[Any]] | None:
    return group[0].together.run if len(group) == 1 and group[0].together else None


def _run_item(
    db: sqlite_utils.Database,
    group: list[_Held],
    gate: Gate,
    failed: dict[int, Exception],
    gated: bool,
) -> list[tuple[_Held, Any]]:
    """One item's writes in a savepoint: all of them go in, or (noted in ``failed``) none."""
    db.conn.execute("SAVEPOINT item")
    done: list[tuple[_Held, Any]] = []
    try:
        for h in group:
            if not gated:
                gate(h.fn, write=True)
            done.append((h, _plain(h.fn, h.fn(db))))
    except Exception as error:
        _forget_frames(error)
        db.conn.execute("ROLLBACK TO item")
        failed[group[0].item] = error
        done = []
    db.conn.execute("RELEASE item")
    return done


def _run_together(
    db: sqlite_utils.Database,
    ops: list[_Held],
    run: Callable[..., list[Any]],
    gate: Gate,
    failed: dict[int, Exception],
) -> list[tuple[_Held, Any]]:
    passed = []
    for h in ops:
        try:
            gate(h.fn, write=True)
        except Exception as error:  # the gate fails this one write, as on its own
            failed[h.item] = error
        else:
            passed.append(h)
    db.conn.execute("SAVEPOINT together")
    try:
        outcomes = run(db, [h.together.arg for h in passed if h.together])
    except Exception as error:
        _forget_frames(error)
        db.conn.execute("ROLLBACK TO together")
        db.conn.execute("RELEASE together")
        results: list[tuple[_Held, Any]] = []
        for h in passed:
            results += _run_item(db, [h], gate, failed, gated=True)
        return results
    db.conn.execute("RELEASE together")
    return list(zip(passed, outcomes, strict=True))


def check_path(path: str | Path) -> Path:
    """Fail early, with a sentence, when the database file cannot be used."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise StorageError(f"database path {p} is a directory; give a file path like {p}/copbot.db")
    if not p.parent.exists():
        raise StorageError(f"cannot open database {p}: folder {p.parent} does not exist")
    if p.exists():
        with p.open("rb") as f:
            header = f.read(16)
        if header and not header.startswith(b"SQLite format 3"):
            raise StorageError(f"{p} exists but is not an SQLite database")
    return p


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


class WriteBatch:
    """Writes held to be committed together: the writes made for many inbox items, each
    held on its way in (``Database.write_later``) while its item is handled, then
    committed in one transaction (one trip to the writer thread, one commit).

    Held writes are committed, in the order they were made, before anything else this
    batch's task does with the database (a read, another write, a checkpoint): whatever
    the task reads sees them, and no later write of its overtakes them. Only when they
    are committed is anything they report acted on (``then``)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._held: list[_Held] = []
        self._item: int | None = None
        self._open = True
        self.failed: dict[int, Exception] = {}  # items whose writes failed, and why

    @contextlib.contextmanager
    def item(self, key: int) -> Iterator[None]:
        """Writes held meanwhile are ``key``'s; if handling it raises, they are dropped
        (it is handled again, writes and all)."""
        self._item = key
        try:
            yield
        except BaseException:
            self._held = [h for h in self._held if h.item != key]
            raise
        finally:
            self._item = None

    def hold(
        self,
        fn: Callable[[sqlite_utils.Database], Any],
        then: Callable[[Any], None] | None,
        together: Together | None = None,
    ) -> bool:
        """Hold ``fn`` for the item being handled; False when there is none (run it now)."""
        if not self._open or self._item is None:
            return False
        if self._item not in self.failed:  # an item whose writes failed is handled again
            self._held.append(_Held(self._item, fn, then, together))
        return True

    async def flush(
        self, last: Callable[[sqlite_utils.Database, set[int]], None] | None = None
    ) -> None:
        """Commit the writes held, then ``last`` given the items whose writes failed, in
        one transaction. An item whose write fails is noted in ``failed`` (the others go
        in); when the transaction itself fails, every item in it is, and the error is
        raised only if ``last`` was given (its caller acts on it)."""
        held, self._held = self._held, []
        if not held and last is None:
            return
        try:
            outcome = await self._db._write_now(
                lambda db: _run_held(db, held, last, self._db._gate, set(self.failed))
            )
        except Exception as error:
            for h in held:
                self.failed.setdefault(h.item, error)
            if last is not None:
                raise
            return
        self.failed.update(outcome.failed)
        for h, result in outcome.results:
            if h.then is not None:
                h.then(result)

    def close(self) -> None:
        self._open = False
        self._held.clear()


class Database:
    """The copbot database file. Create with ``Database.open(path)``; close when done."""

    def __init__(self, path: Path, readers: int = 2, *, gate: Gate = _open_gate) -> None:
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
        gate: Gate = _open_gate,
    ) -> Database:
        p = check_path(path)
        try:
            conn = connect(p)
            conn.execute("PRAGMA journal_mode = WAL")
            migrations.apply(sqlite_utils.Database(conn))
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
        with transaction(db):
            return _run_owned(db, fn, self._gate, write=True)

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
        return _run_owned(self._db(), fn, self._gate, write=False)

    def _write_unlocked(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        # On the writer thread, outside a transaction (a checkpoint can't run inside one).
        return _run_owned(self._db(), fn, self._gate, write=True)

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


def migrate(path: str | Path) -> list[str]:
    """Apply pending migrations; return the names applied."""
    p = check_path(path)
    conn = connect(p)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        db = sqlite_utils.Database(conn)
        pending = [m.name for m in MIGRATIONS.pending(db)]
        MIGRATIONS.apply(db)
        return pending
    except sqlite3.Error as e:
        raise StorageError(f"cannot migrate database {p}: {e}") from None
    finally:
        conn.close()
