from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from bot.clock import to_text
from bot.codec import decode_event, encode_event
from bot.model import InboundEvent
from bot.records import InboxItem
from storage.database import Database


class SqliteInboxRepository:
    """Events accepted from platforms, kept until the core has handled them.

    A handled event keeps only its dedup key (so a late retry is still recognised);
    its payload, which may hold message text, is dropped at once.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept(self, items: Sequence[tuple[str, InboundEvent]], at: datetime) -> list[bool]:
        """Keep events durably (fsynced: a platform is about to be told they are safe), in
        one transaction; for each, True when new and False when its key was seen before."""
        rows = [(key, type(e).__name__, encode_event(e), to_text(at)) for key, e in items]

        def op(db: sqlite_utils.Database) -> list[bool]:
            new = []
            for row in rows:
                cur = db.execute(
                    "insert or ignore into inbox (dedup_key, kind, payload, received_at)"
                    " values (?, ?, ?, ?)",
                    row,
                )
                new.append(bool(cur.rowcount))
            return new

        return await self._db.write(op, durable=True)

    async def pending(self, limit: int) -> list[InboxItem]:
        def op(db: sqlite_utils.Database) -> list[InboxItem]:
            rows = db.execute(
                "select id, payload, attempts from inbox where state = 'pending'"
                " order by id limit ?",
                [limit],
            ).fetchall()
            return [InboxItem(r[0], decode_event(r[1]), r[2]) for r in rows]

        return await self._db.read(op)

    async def done(self, item_ids: Sequence[int]) -> None:
        await self._db.write(
            lambda db: db.conn.executemany(
                "update inbox set state = 'done', payload = null, attempts = attempts + 1"
                " where id = ?",
                [(i,) for i in item_ids],
            )
        )

    async def failed(self, item_id: int, error: str, give_up: bool) -> None:
        state = "failed" if give_up else "pending"
        await self._db.write(
            lambda db: db.execute(
                "update inbox set state = ?, error = ?, attempts = attempts + 1 where id = ?",
                [state, error, item_id],
            )
        )

    async def purge_done(self, before: datetime) -> int:
        def op(db: sqlite_utils.Database) -> int:
            cur = db.execute(
                "delete from inbox where state = 'done' and received_at < ?", [to_text(before)]
            )
            return cur.rowcount

        return await self._db.write(op)
