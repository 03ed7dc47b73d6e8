from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.clock import from_text, to_text
from bot.ports import PlaygroundMessage
from storage.database import Database

_COLUMNS = "id, channel, author, author_name, body, created_at, thread_root, visible_to, edited_at"


class SqlitePlaygroundRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, message: PlaygroundMessage) -> PlaygroundMessage:
        def op(db: sqlite_utils.Database) -> PlaygroundMessage:
            seq = db.execute("select coalesce(max(seq), 0) + 1 from playground_messages").fetchone()
            ident = f"m{seq[0]}"
            db.execute(
                f"insert into playground_messages (seq, {_COLUMNS}) values (?,?,?,?,?,?,?,?,?,?)",
                [
                    seq[0],
                    ident,
                    message.channel,
                    message.author,
                    message.author_name,
                    message.body,
                    to_text(message.created_at),
                    message.thread_root,
                    message.visible_to,
                    None,
                ],
            )
            return replace(message, id=ident)

        return await self._db.write(op)

    async def get(self, message_id: str) -> PlaygroundMessage | None:
        def op(db: sqlite_utils.Database) -> PlaygroundMessage | None:
            row = db.execute(
                f"select {_COLUMNS} from playground_messages where id = ? and not deleted",
                [message_id],
            ).fetchone()
            return _message(row) if row else None

        return await self._db.read(op)

    async def edit(self, message_id: str, body: str, at: datetime) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "update playground_messages set body = ?, edited_at = ?"
                " where id = ? and not deleted",
                [body, to_text(at), message_id],
            )
            return bool(cur.rowcount)

        return await self._db.write(op)

    async def delete(self, message_id: str) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "update playground_messages set deleted = 1, body = ''"
                " where id = ? and not deleted",
                [message_id],
            )
            return bool(cur.rowcount)

        return await self._db.write(op)

    async def conversation(self, channel: str, viewer: str, limit: int) -> list[PlaygroundMessage]:
        def op(db: sqlite_utils.Database) -> list[PlaygroundMessage]:
            rows = db.execute(
                f"select {_COLUMNS} from (select seq, {_COLUMNS} from playground_messages"
                " where channel = ? and not deleted and (visible_to is null or visible_to = ?)"
                " order by seq desc limit ?) order by seq",
                [channel, viewer, limit],
            ).fetchall()
            return [_message(r) for r in rows]

        return await self._db.read(op)


def _message(row: tuple[Any, ...]) -> PlaygroundMessage:
    ident, channel, author, name, body, created, root, visible_to, edited = row
    return PlaygroundMessage(
        ident,
        channel,
        author,
        name,
        body,
        from_text(created),
        root,
        visible_to,
        from_text(edited) if edited else None,
    )
