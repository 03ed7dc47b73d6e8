from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from bot.clock import to_text
from bot.ports import Clock
from storage.database import Database


class SqlitePeopleRepository:
    """The people directory: identity -> the name they go by."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def note(self, identity: str, name: str) -> bool:
        at = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> bool:
            new = not db.execute("select 1 from people where identity = ?", [identity]).fetchone()
            # An empty name (the platform didn't say in time) never hides one known already.
            db.execute(
                "insert into people (identity, name, seen_at) values (?, ?, ?)"
                " on conflict (identity) do update set seen_at = excluded.seen_at,"
                " name = case when excluded.name = '' then people.name else excluded.name end",
                [identity, name, at],
            )
            return new

        return await self._db.write(op)

    async def names(self, identities: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(identities))
        if not wanted:
            return {}

        def op(db: sqlite_utils.Database) -> dict[str, str]:
            marks = ", ".join("?" for _ in wanted)
            rows = db.execute(
                f"select identity, name from people where identity in ({marks})", wanted
            ).fetchall()
            return {str(i): str(n) for i, n in rows}

        return await self._db.read(op)

    async def erase(self, identity: str) -> int:
        def op(db: sqlite_utils.Database) -> int:
            return db.execute("delete from people where identity = ?", [identity]).rowcount

        return await self._db.write(op)
