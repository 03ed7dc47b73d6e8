"""Who may do what. Admins listed in COPBOT_ADMINS are admins for as long as they are
listed, and the playground's personas hold their roles while it runs (never written
down); everyone else's roles are grants kept in the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import WordedError
from bot.model import Role
from bot.ports import RoleRepository
from bot.records import RoleGrant

FROM_SETTINGS = "COPBOT_ADMINS"
FROM_PLAYGROUND = "playground"


class RoleChangeRefused(WordedError):
    """A grant or revoke that would leave things worse; the message says why."""


@dataclass(frozen=True)
class RoleChange:
    changed: bool
    message: str


class Roles:
    def __init__(
        self,
        repository: RoleRepository,
        admins: frozenset[str],
        personas: Mapping[str, Role] | None = None,
    ) -> None:
        self._repo = repository
        self._admins = admins
        self._personas = dict(personas or {})

    async def role_of(self, identity: str) -> Role:
        if identity in self._admins:
            return Role.ADMIN
        return max(await self._repo.role_of(identity), self._personas.get(identity, Role.STAFF))

    async def grant(self, identity: str, role: Role, by: str) -> RoleChange:
        if identity in self._admins:
            return RoleChange(False, f"{identity} is already an admin (listed in {FROM_SETTINGS}).")
        if await self._repo.grant(identity, role, by):
            return RoleChange(True, f"{identity} is now {_a(role)}.")
        return RoleChange(False, f"{identity} was already {_a(role)}; nothing changed.")

    async def revoke(self, identity: str, role: Role) -> RoleChange:
        if identity in self._personas:
            raise RoleChangeRefused(f"{identity} is a playground persona; their role is fixed.")
        if role is Role.ADMIN and identity in self._admins:
            raise RoleChangeRefused(
                f"{identity} is an admin because they are listed in {FROM_SETTINGS}; "
                "remove them there and restart copbot."
            )
        if role is Role.ADMIN and await self._last_admin(identity):
            raise RoleChangeRefused(
                f"{identity} is the only admin. Grant admin to someone else first, "
                "so that somebody can still manage roles and exports."
            )
        if await self._repo.revoke(identity, role):
            return RoleChange(True, f"{identity} is no longer {_a(role)}.")
        return RoleChange(False, f"{identity} wasn't {_a(role)}; nothing changed.")

    async def list(self) -> list[RoleGrant]:
        always = datetime.min.replace(tzinfo=UTC)
        listed = [RoleGrant(i, Role.ADMIN, FROM_SETTINGS, always) for i in sorted(self._admins)]
        listed += [
            RoleGrant(i, role, FROM_PLAYGROUND, always)
            for i, role in sorted(self._personas.items())
            if role is not Role.STAFF and i not in self._admins
        ]
        fixed = {g.identity for g in listed}
        return listed + [g for g in await self._repo.list() if g.identity not in fixed]

    async def _last_admin(self, identity: str) -> bool:
        if self._admins or Role.ADMIN in self._personas.values():
            return False
        admins = {g.identity for g in await self._repo.list() if g.role is Role.ADMIN}
        return admins == {identity}


def _a(role: Role) -> str:
    return f"an {role.label}" if role.label[0] in "aeiou" else f"a {role.label}"
