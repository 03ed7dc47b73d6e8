"""Conversation references a platform needs before copbot can post (Teams keeps them per
channel and per person); stored as the adapter wrote them."""

from __future__ import annotations

import sqlite_utils

from bot.clock import to_text
from bot.ports import Clock
from bot.records import Conversation
from storage.database import Database

_COLUMNS = "kind, key, reference, person, team, name"


class SqliteConversationRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def save(self, conversation: Conversation) -> None:
        c = conversation
        await self._db.execute(
            f"insert into teams_conversations ({_COLUMNS}, updated_at)"
            " values (?, ?, ?, ?, ?, ?, ?)"
            " on conflict (kind, key) do update set reference = excluded.reference,"
            " person = excluded.person, team = excluded.team, name = excluded.name,"
            " updated_at = excluded.updated_at",
            [c.kind, c.key, c.reference, c.person, c.team, c.name, to_text(self._clock.now())],
        )

    async def get(self, kind: str, key: str) -> Conversation | None:
        def op(db: sqlite_utils.Database) -> Conversation | None:
            row = db.execute(
                f"select {_COLUMNS} from teams_conversations where kind = ? and key = ?",
                [kind, key],
            ).fetchone()
            return Conversation(*row) if row else None

        return await self._db.read(op)

    async def person_in_chat(self, conversation: str) -> Conversation | None:
        """The person whose 1:1 chat with copbot ``conversation`` is."""

        def op(db: sqlite_utils.Database) -> Conversation | None:
            row = db.execute(
                f"select {_COLUMNS} from teams_conversations where kind = 'person'"
                " and json_extract(reference, '$.conversation') = ? limit 1",
                [conversation],
            ).fetchone()
            return Conversation(*row) if row else None

        return await self._db.read(op)

    async def channels(self) -> list[Conversation]:
        def op(db: sqlite_utils.Database) -> list[Conversation]:
            rows = db.execute(
                f"select {_COLUMNS} from teams_conversations where kind = 'channel'"
            ).fetchall()
            return [Conversation(*row) for row in rows]

        return await self._db.read(op)

    async def forget_channel(self, key: str) -> None:
        await self._db.execute(
            "delete from teams_conversations where kind = 'channel' and key = ?", [key]
        )

    async def forget_person(self, identity: str) -> int:
        return await self._db.execute(
            "delete from teams_conversations where person = ?", [identity]
        )
