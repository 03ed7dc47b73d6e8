from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import sqlite_utils

from bot import codec
from bot.clock import from_text, to_text
from bot.records import ArchiveFilter, ExportLink
from storage.database import Database

_KEY = "export-link-key"


class SqliteExportLinkRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, link: ExportLink) -> None:
        await self._db.execute(
            "insert into export_links (id, format, filters, created_by, created_at,"
            " expires_at) values (?, ?, ?, ?, ?, ?)",
            [
                link.id,
                link.format,
                codec.dumps(link.filter),
                link.created_by,
                to_text(link.created_at),
                to_text(link.expires_at),
            ],
        )

    async def use(self, link_id: str, at: datetime) -> ExportLink | None:
        """Mark a link used and return it; None when unknown or used already (one use only:
        the check and the mark are one statement, so two clicks can't both win)."""

        def op(db: sqlite_utils.Database) -> ExportLink | None:
            cur = db.execute(
                "update export_links set used_at = ? where id = ? and used_at is null",
                [to_text(at), link_id],
            )
            if not cur.rowcount:
                return None
            row = db.execute(
                "select id, format, filters, created_by, created_at, expires_at"
                " from export_links where id = ?",
                [link_id],
            ).fetchone()
            return _link(row)

        return await self._db.write(op)

    async def unused(self, link_id: str) -> ExportLink | None:
        """The link, when it is there and not yet used: what its page says (a read only)."""

        def op(db: sqlite_utils.Database) -> ExportLink | None:
            row = db.execute(
                "select id, format, filters, created_by, created_at, expires_at"
                " from export_links where id = ? and used_at is null",
                [link_id],
            ).fetchone()
            return _link(row) if row else None

        return await self._db.read(op)

    async def forget_creator(self, identity: str) -> int:
        return await self._db.execute("delete from export_links where created_by = ?", [identity])

    async def purge_before(self, cutoff: datetime) -> int:
        """Links live minutes; their record goes with the rest of what is kept."""
        return await self._db.execute(
            "delete from export_links where created_at < ?", [to_text(cutoff)]
        )

    async def key(self) -> bytes:
        """The secret that signs links when COPBOT_SECRET_KEY is not set, made on first use
        and kept in the database (with COPBOT_SECRET_KEY, the links' key is derived from it,
        and this is never asked for)."""

        def op(db: sqlite_utils.Database) -> str:
            db.execute(
                "insert or ignore into secrets (name, value) values (?, ?)",
                [_KEY, secrets.token_hex(32)],
            )
            return str(db.execute("select value from secrets where name = ?", [_KEY]).fetchone()[0])

        return bytes.fromhex(await self._db.write(op))


def _link(row: tuple[Any, ...]) -> ExportLink:
    ident, fmt, filters, by, created, expires = row
    f = codec.loads(ArchiveFilter, filters)
    return ExportLink(ident, fmt, f, by, from_text(created), from_text(expires))
