from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime

import sqlite_utils

from bot.clock import from_text, to_text
from bot.codec import decode_event, encode_event
from bot.model import InboundEvent
from bot.records import InboxItem
from storage.database import Database
from storage.held_writes import WriteBatch
from storage.inbox_memory import AcceptedEvents

# The kinds of event a person waits on, as the index inbox_pending_interactive (migration
# 0018) names them: written as that index's condition is, so that SQLite uses it.
INTERACTIVE_KINDS = ("ButtonPressed", "CommandReceived", "FormSubmitted", "HomeOpened")
INTERACTIVE = "kind in ({})".format(", ".join(f"'{kind}'" for kind in INTERACTIVE_KINDS))
_DONE = (
    "update inbox set state = 'done', payload = null, identity = null,"
    " attempts = attempts + 1, retry_at = null where id = ?"
)
CHECK_EVERY_S = 1.0  # how often a busy inbox asks the file which kept events still wait


class SqliteInboxRepository:
    """Events accepted from platforms, kept until the core has handled them.

    A handled event keeps only its dedup key (so a late retry is still recognised); its
    payload, which may hold message text, is dropped at once. An event that keeps failing
    is set aside with its payload, for someone to look into, until it is purged.

    The events this process accepts are also kept in memory as they came, until handled
    (see storage/inbox_memory.py): handing one on needn't decode it again.
    """

    def __init__(
        self,
        db: Database,
        memory: AcceptedEvents | None = None,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self._db = db
        self._memory = memory if memory is not None else AcceptedEvents()
        self._check_every_s = check_every_s
        self._next_check = 0.0  # when pending() next asks which kept rows still wait

    async def accept(
        self, items: Sequence[tuple[str, InboundEvent, str | None]], at: datetime
    ) -> list[bool]:
        """Keep (key, event, identity) durably (fsynced: a platform is about to be told they
        are safe), in one transaction; for each, True when new, False when seen before."""
        received = to_text(at)
        rows = [
            (key, type(e).__name__, encode_event(e), received, identity)
            for key, e, identity in items
        ]

        memory = self._memory
        added: list[int] = []  # kept in memory by this write, forgotten if it fails

        def op(db: sqlite_utils.Database) -> list[bool]:
            new = []
            for (key, event, identity), row in zip(items, rows, strict=True):
                cur = db.execute(
                    "insert or ignore into inbox"
                    " (dedup_key, kind, payload, received_at, identity) values (?, ?, ?, ?, ?)",
                    row,
                )
                new.append(bool(cur.rowcount))
                if cur.rowcount and cur.lastrowid is not None:
                    # Here, on the writer thread, before any later write can mark it done
                    # or erase it (which then forget it in turn).
                    memory.add(cur.lastrowid, key, event, identity, len(row[2]))
                    added.append(cur.lastrowid)
            return new

        try:
            return await self._db.write(op, durable=True)
        except BaseException:
            memory.forget(added)
            raise

    async def pending(
        self,
        limit: int,
        now: datetime,
        *,
        interactive: bool = False,
        besides: Collection[int] = (),
    ) -> list[InboxItem]:
        """Events waiting to be handled (and not waiting to retry), oldest first; only
        people's commands, clicks, forms and home tabs when ``interactive``; not those in
        ``besides`` (taken already, and still to begin). One that can't be read back (say,
        from an older copbot) is set aside, not allowed to block the rest."""
        only = f" and {INTERACTIVE}" if interactive else ""
        # Taken and not yet begun, they wait in the file as pending (so that a stop keeps
        # them): a page full of them must not hide the events behind them.
        taken = " and id not in (select value from json_each(?))" if besides else ""
        query = (
            "select id, dedup_key, payload, attempts from inbox where state = 'pending'"
            f"{only}{taken} and (retry_at is null or retry_at <= ?) order by id limit ?"
        )
        params: list[object] = [json.dumps(sorted(besides))] if besides else []
        memory = self._memory
        before = memory.row_ids()
        # Rows another process erased or handled while a backlog waits ahead of them are
        # asked of the file, at most once a second; a read passes by those before its
        # last row anyway.
        check = bool(before) and not interactive and time.monotonic() >= self._next_check
        if check:
            self._next_check = time.monotonic() + self._check_every_s

        def op(db: sqlite_utils.Database) -> tuple[list[InboxItem], list[int], set[int] | None]:
            rows = db.execute(query, [*params, to_text(now), limit]).fetchall()
            items, unreadable = [], []
            for ident, key, payload, attempts in rows:
                if (kept := memory.get(ident, key)) is not None:
                    items.append(InboxItem(ident, kept, attempts))
                    continue
                try:
                    items.append(InboxItem(ident, decode_event(payload), attempts))
                except (ValueError, KeyError, TypeError, json.JSONDecodeError):
                    unreadable.append(ident)
            waiting = None
            if check:
                marks = ", ".join("?" * len(before))
                found = db.execute(
                    f"select id from inbox where state = 'pending' and id in ({marks})", before
                )
                waiting = {row[0] for row in found}
            return items, unreadable, waiting

        items, unreadable, waiting = await self._db.read(op)
        if not interactive and limit != 0:
            # Every event due, up to the last one read (or at all, when fewer came than
            # asked for), was read: one kept since before the read and not among them was
            # handled or erased by another process, or waits to retry (decoded then).
            read = {item.id for item in items} | set(unreadable)
            last = max(read) if 0 < limit <= len(read) else None
            memory.forget(
                i
                for i in before
                if (waiting is not None and i not in waiting)
                or (i not in read and (last is None or i < last))
            )
        for ident in unreadable:
            await self.failed(ident, "unreadable", give_up=True)
        return items

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait to be handled, and when the oldest arrived."""

        def op(db: sqlite_utils.Database) -> tuple[int, datetime | None]:
            count, oldest = db.execute(
                "select count(*), min(received_at) from inbox where state = 'pending'"
            ).fetchone()
            return count, from_text(oldest) if oldest else None

        return await self._db.read(op)

    async def done(self, item_ids: Sequence[int]) -> list[int]:
        """Mark events handled; return those this call took from waiting (not those
        another process, or an erasure, had taken first)."""

        def op(db: sqlite_utils.Database) -> list[int]:
            waiting = f"{_DONE} and state = 'pending'"
            taken = [i for i in item_ids if db.execute(waiting, [i]).rowcount]
            self._memory.forget(item_ids)
            return taken

        taken = await self._db.write(op)
        # Now that these events' own copies are gone, words removed while handling them
        # can leave the file (see Database.scrub_soon).
        await self._db.scrub_if_due()
        return taken

    def done_rows(self, db: sqlite_utils.Database, item_ids: Sequence[int]) -> None:
        db.conn.executemany(_DONE, [(i,) for i in item_ids])
        self._memory.forget(item_ids)  # with the payload, whether or not this commits

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[_Batch]:
        """Handle items together: see bot.ports.InboxBatch."""
        async with self._db.batch() as batch:
            yield _Batch(self, self._db, batch)

    async def failed(
        self, item_id: int, error: str, give_up: bool, retry_at: datetime | None = None
    ) -> None:
        state = "failed" if give_up else "pending"
        when = to_text(retry_at) if retry_at and not give_up else None

        def op(db: sqlite_utils.Database) -> None:
            db.execute(
                "update inbox set state = ?, error = ?, attempts = attempts + 1, retry_at = ?"
                " where id = ?",
                [state, error, when, item_id],
            )
            self._memory.forget([item_id])  # read again from the file, if it is retried

        await self._db.write(op)

    async def erase(self, identity: str) -> int:
        """Forget the events of one person that still hold their words.

        Emptied and closed as a handled event is, not deleted: an event taken already and
        waiting its turn behind another (in this process or one sharing the file) then
        finds it handled and never runs, whereas a deleted row's id, given by SQLite to the
        next event, would have that event's row marked done in its place: someone else's
        event lost, and the erased person's run after all."""

        def op(db: sqlite_utils.Database) -> int:
            self._memory.forget_person(identity)
            return db.execute(
                "update inbox set state = 'done', payload = null, identity = null,"
                " error = '', retry_at = null where identity = ? and state != 'done'",
                [identity],
            ).rowcount

        return await self._db.write(op)

    async def purge(self, handled_before: datetime, failed_before: datetime) -> int:
        """Forget old events, and fold the journal: the words of messages that passed
        through here without being kept (not in a prompt thread, say) leave the file."""

        def op(db: sqlite_utils.Database) -> int:
            cur = db.execute(
                "delete from inbox where (state = 'done' and received_at < ?)"
                " or (state = 'failed' and received_at < ?)",
                [to_text(handled_before), to_text(failed_before)],
            )
            return cur.rowcount

        purged = await self._db.write(op)
        await self._db.checkpoint()
        return purged


class _Batch:
    def __init__(self, repo: SqliteInboxRepository, db: Database, batch: WriteBatch) -> None:
        self._repo = repo
        self._db = db
        self._batch = batch

    @contextmanager
    def item(self, item_id: int) -> Iterator[None]:
        with self._batch.item(item_id):
            yield

    async def done(self, item_ids: Sequence[int]) -> dict[int, Exception]:
        wanted = list(item_ids)
        await self._batch.flush(_marking_done(self._repo, wanted))
        await self._db.scrub_if_due()  # as done() does, once the items' copies are gone
        return {i: e for i, e in self._batch.failed.items() if i in wanted}


def _marking_done(
    repo: SqliteInboxRepository, item_ids: list[int]
) -> Callable[[sqlite_utils.Database, set[int]], None]:
    def op(db: sqlite_utils.Database, failed: set[int]) -> None:
        repo.done_rows(db, [i for i in item_ids if i not in failed])

    # Named as done()'s write is, so that a fault aimed at marking items done finds it.
    op.__qualname__ = "SqliteInboxRepository.done_together"
    return op
