from __future__ import annotations

from datetime import datetime

import sqlite_utils

from bot.clock import from_text, to_text
from bot.model import Role
from bot.ports import Clock
from bot.records import RoleGrant
from storage.database import Database


class SqliteRoleRepository:
    """Grants of facilitator and admin; everyone else is staff."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def grant(self, identity: str, role: Role, by: str) -> bool:
        if role is Role.STAFF:
            raise ValueError("staff is everyone's role; nothing to grant")
        at = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "insert or ignore into roles (identity, role, granted_by, granted_at)"
                " values (?, ?, ?, ?)",
                [identity, role.label, by, at],
            )
            return bool(cur.rowcount)

        return await self._db.write(op)

    async def revoke(self, identity: str, role: Role) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "delete from roles where identity = ? and role = ?", [identity, role.label]
            )
            return bool(cur.rowcount)

        return await self._db.write(op)

    async def role_of(self, identity: str) -> Role:
        def op(db: sqlite_utils.Database) -> Role:
            rows = db.execute("select role from roles where identity = ?", [identity]).fetchall()
            return max((Role.parse(r[0]) for r in rows), default=Role.STAFF)

        return await self._db.read(op)

    async def list(self) -> list[RoleGrant]:
        def op(db: sqlite_utils.Database) -> list[RoleGrant]:
            rows = db.execute(
                "select identity, role, granted_by, granted_at from roles"
                " order by role = 'admin' desc, identity"
            ).fetchall()
            return [_grant(*row) for row in rows]

        return await self._db.read(op)


def _grant(identity: str, role: str, by: str, at: str) -> RoleGrant:
    granted_at: datetime = from_text(at)
    return RoleGrant(identity, Role.parse(role), by, granted_at)
