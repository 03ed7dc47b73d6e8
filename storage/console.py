"""The console's tables: used sign-in links, sessions (by hash) and the audit trail."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from bot.clock import from_text, to_text
from bot.console.records import AuditEntry
from storage.database import Database


class SqliteSessionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def use_link(self, link_id: str, identity: str, at: datetime) -> bool:
        changed = await self._db.execute(
            "insert or ignore into console_links_used (id, identity, used_at) values (?, ?, ?)",
            [link_id, identity, to_text(at)],
        )
        return changed == 1

    async def link_used(self, link_id: str) -> bool:
        return await self._db.read(
            lambda db: (
                db.execute("select 1 from console_links_used where id = ?", [link_id]).fetchone()
                is not None
            )
        )

    async def open(
        self, id_hash: str, identity: str, at: datetime, until: datetime, workspace: str
    ) -> None:
        await self._db.execute(
            "insert into console_sessions (id_hash, identity, created_at, expires_at,"
            " workspace) values (?, ?, ?, ?, ?)",
            [id_hash, identity, to_text(at), to_text(until), workspace],
        )

    async def find(self, id_hash: str, now: datetime) -> tuple[str, datetime, str] | None:
        def op(db: sqlite_utils.Database) -> tuple[str, datetime, str] | None:
            row = db.execute(
                "select identity, expires_at, workspace from console_sessions"
                " where id_hash = ? and ended_at is null and expires_at > ?",
                [id_hash, to_text(now)],
            ).fetchone()
            return (row[0], from_text(row[1]), row[2]) if row else None

        return await self._db.read(op)

    async def end(self, id_hash: str, at: datetime) -> None:
        await self._db.execute(
            "update console_sessions set ended_at = ? where id_hash = ? and ended_at is null",
            [to_text(at), id_hash],
        )

    async def end_all(self, identity: str, at: datetime) -> int:
        return await self._db.execute(
            "update console_sessions set ended_at = ? where identity = ? and ended_at is null",
            [to_text(at), identity],
        )

    async def forget(self, identity: str) -> int:
        def op(db: sqlite_utils.Database) -> int:
            # A used link's id stays, nameless: deleted, the link would work again until it
            # expired.
            links = db.execute(
                "update console_links_used set identity = '' where identity = ?", [identity]
            )
            sessions = db.execute("delete from console_sessions where identity = ?", [identity])
            return int(links.rowcount + sessions.rowcount)

        return await self._db.write(op)

    async def purge_before(self, cutoff: datetime) -> int:
        def op(db: sqlite_utils.Database) -> int:
            links = db.execute(
                "delete from console_links_used where used_at < ?", [to_text(cutoff)]
            )
            sessions = db.execute(
                "delete from console_sessions where expires_at < ?", [to_text(cutoff)]
            )
            return int(links.rowcount + sessions.rowcount)

        return await self._db.write(op)


class SqliteAuditRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, entry: AuditEntry) -> None:
        await self._db.execute(
            "insert into audit (at, done_by, action, detail) values (?, ?, ?, ?)",
            [to_text(entry.at), entry.done_by, entry.action, entry.detail],
        )

    async def newest(self, limit: int) -> list[AuditEntry]:
        def op(db: sqlite_utils.Database) -> list[AuditEntry]:
            rows = db.execute(
                "select at, done_by, action, detail from audit order by id desc limit ?", [limit]
            )
            return [AuditEntry(from_text(r[0]), r[1], r[2], r[3]) for r in rows]

        return await self._db.read(op)
