from __future__ import annotations

from datetime import datetime

import sqlite_utils

from bot.clock import to_text
from bot.codec import decode_event, encode_event
from bot.model import InboundEvent, InboxItem
from storage.database import Database


class SqliteInboxRepository:
    """Events accepted from platforms, kept until the core has handled them.

    A handled event keeps only its dedup key (so a late retry is still recognised);
    its payload, which may hold message text, is dropped at once.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept(self, dedup_key: str, event: InboundEvent, at: datetime) -> bool:
        payload = encode_event(event)
        kind = type(event).__name__
        received = to_text(at)

        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "insert or ignore into inbox (dedup_key, kind, payload, received_at)"
                " values (?, ?, ?, ?)",
                [dedup_key, kind, payload, received],
            )
            return bool(cur.rowcount)

        return await self._db.write(op)

    async def pending(self, limit: int) -> list[InboxItem]:
        def op(db: sqlite_utils.Database) -> list[InboxItem]:
            rows = db.execute(
                "select id, payload, attempts from inbox where state = 'pending'"
                " order by id limit ?",
                [limit],
            ).fetchall()
            return [InboxItem(r[0], decode_event(r[1]), r[2]) for r in rows]

        return await self._db.read(op)

    async def done(self, item_id: int) -> None:
        await self._db.write(
            lambda db: db.execute(
                "update inbox set state = 'done', payload = null, attempts = attempts + 1"
                " where id = ?",
                [item_id],
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
