"""Who may do what. Admins listed in COPBOT_ADMINS are admins for as long as they are
listed; everyone else's roles are grants kept in the database. The playground's personas
hold their starting roles until copbot first meets them; then those become grants like
anyone's, so that they change (and show) the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import WordedError
from bot.identities import IdentityError, checked_identity, needs_checking
from bot.model import Role, UserRef
from bot.people import People
from bot.ports import RoleRepository
from bot.records import RoleGrant

FROM_SETTINGS = "COPBOT_ADMINS"
FROM_PLAYGROUND = "playground"
PLAYGROUND_PREFIX = "local:"  # the playground's identities


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
        personas: Sequence[tuple[UserRef, Role]] = (),
        people: People | None = None,
    ) -> None:
        self._repo = repository
        self._admins = admins
        self._personas = tuple(personas)
        self._people = people

    async def role_of(self, identity: str) -> Role:
        if identity in self._admins:
            return Role.ADMIN
        if (starting := self._starting(identity)) is not None and not await self._met(identity):
            return starting
        return await self._repo.role_of(identity)

    async def meet(self, user: UserRef) -> None:
        """copbot meets someone for the first time: a playground persona's starting role
        becomes an ordinary grant then, so a role revoked later stays revoked. (Nothing
        is written before: a persona who never acts leaves no trace.)"""
        starting = self._starting(user.identity)
        if starting is not None and starting is not Role.STAFF:
            await self._repo.grant(user.identity, starting, FROM_PLAYGROUND)

    async def _meet_persona(self, identity: str) -> None:
        # An admin changing a persona's role before the persona ever acted.
        if self._people is not None and self._starting(identity) is not None:
            user = next(u for u, _ in self._personas if u.identity == identity)
            if await self._people.note(user):
                await self.meet(user)

    def _check_reach(self, identity: str, by: str) -> None:
        """The playground lets anyone act as any persona, so a persona's admin role reaches
        the playground's people only, never someone in Slack or Teams."""
        if by.startswith(PLAYGROUND_PREFIX) and not identity.startswith(PLAYGROUND_PREFIX):
            raise RoleChangeRefused(
                "In the playground you can change only the playground people's roles. "
                "Roles in Slack or Teams are changed by an admin there, or with "
                "`copbot roles` on the server."
            )

    def _starting(self, identity: str) -> Role | None:
        return next((r for u, r in self._personas if u.identity == identity), None)

    async def _met(self, identity: str) -> bool:
        return self._people is None or await self._people.known(identity)

    async def grant(self, identity: str, role: Role, by: str) -> RoleChange:
        self._check_reach(identity, by)
        await self._meet_persona(identity)
        who = await self._who(identity)
        if identity in self._admins:
            return RoleChange(False, f"{who} is already an admin (listed in {FROM_SETTINGS}).")
        if not await self._repo.grant(identity, role, by):
            return RoleChange(False, f"{who} was already {_a(role)}; nothing changed.")
        done = f"{who} is now {_a(role)}."
        if self._people is not None and not await self._people.known(identity):
            done += (
                f" Note: copbot hasn't met {identity} yet, so please check it is the right "
                "person (mentioning them, like @name, avoids typos). Revoking the role undoes it."
            )
        return RoleChange(True, done)

    async def revoke(self, identity: str, role: Role, by: str) -> RoleChange:
        self._check_reach(identity, by)
        await self._meet_persona(identity)
        who = await self._who(identity)
        if role is Role.ADMIN and identity in self._admins:
            raise RoleChangeRefused(
                f"{who} is an admin because they are listed in {FROM_SETTINGS}; "
                "remove them there and restart copbot."
            )
        if role is Role.ADMIN and await self._last_admin(identity):
            raise RoleChangeRefused(
                f"{who} is the only admin. Grant admin to someone else first, "
                "so that somebody can still manage roles and exports."
            )
        if await self._repo.revoke(identity, role):
            return RoleChange(True, f"{who} is no longer {_a(role)}.")
        return RoleChange(False, f"{who} wasn't {_a(role)}; nothing changed.")

    async def revoke_typed(
        self, typed: str, role: Role, by: str, served: Sequence[str] = ()
    ) -> tuple[RoleChange, str]:
        """Take a role from an identity someone typed: the grant as its platform writes the
        identity, else, for one kept before typed identities were checked, as it was typed.
        Returns the change and the identity it was made to. Raises IdentityError, for a
        typo, when what was typed holds no grant and no one could have it (checked as a
        grant's identity is, given the platforms ``served``)."""
        try:
            ways = [checked_identity(typed)]
            problem: IdentityError | None = None
        except IdentityError as e:
            ways, problem = [], e
        if typed not in ways:
            ways.append(typed)
        for way in ways:
            change = await self.revoke(way, role, by)
            if change.changed:
                return change, way
        platform, colon, _ = typed.partition(":")
        if problem is not None and (not colon or needs_checking(platform, served)):
            raise problem
        return change, ways[0]

    async def list(self) -> list[RoleGrant]:
        always = datetime.min.replace(tzinfo=UTC)
        listed = [RoleGrant(i, Role.ADMIN, FROM_SETTINGS, always) for i in sorted(self._admins)]
        # A persona copbot hasn't met yet holds its starting role all the same: listed too,
        # or the playground's first admin would read that nobody has a role.
        for user, role in self._personas:
            ident = user.identity
            if role is not Role.STAFF and ident not in self._admins and not await self._met(ident):
                listed.append(RoleGrant(ident, role, FROM_PLAYGROUND, always))
        fixed = {g.identity for g in listed}
        return listed + [g for g in await self._repo.list() if g.identity not in fixed]

    async def _who(self, identity: str) -> str:
        # Roles are managed by admins, who need the identity beside the name.
        if self._people is None:
            return identity
        return await self._people.label(identity, with_identity=True)

    async def _last_admin(self, identity: str) -> bool:
        if self._admins:
            return False
        admins = {g.identity for g in await self._repo.list() if g.role is Role.ADMIN}
        return admins == {identity}


def _a(role: Role) -> str:
    return f"an {role.label}" if role.label[0] in "aeiou" else f"a {role.label}"
