from __future__ import annotations

from bot.commands import Args, UsageError, parse_person, parse_role
from bot.console.audit import Audit
from bot.identities import IdentityError, checked_identity, needs_checking
from bot.interaction import Interaction
from bot.markup import escape
from bot.model import Role, UserRef
from bot.people import People
from bot.registry import PersonalData, Registry
from bot.roles import RoleChangeRefused, Roles


class RolesFeature:
    """Role verbs in chat: admins grant and revoke; anyone can ask who they are and who
    the facilitators and admins are (to know whom to ask)."""

    def __init__(self, roles: Roles, people: People, audit: Audit | None = None) -> None:
        self._roles = roles
        self._people = people
        self._audit = audit

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "roles",
                ("roles.identity", "roles.granted_by"),
                kept_because="a role is access, which an admin takes away by revoking it",
                notice="Your role (staff, facilitator or admin), and who gave it to you.",
            )
        )
        registry.verb("whoami", "Show your name, identity and role", self.whoami)
        registry.verb(
            "role grant",
            "Give someone the facilitator or admin role",
            self.grant,
            usage="ROLE @person",
            role=Role.ADMIN,
            details=(
                "Admins can do everything facilitators can, and also give and take away roles, "
                "export the archive, keep a whole channel (`archive on`), switch anonymous "
                "replies off in a channel, and erase what copbot keeps of someone."
            ),
        )
        registry.verb(
            "role revoke",
            "Take a role away from someone",
            self.revoke,
            usage="ROLE @person",
            role=Role.ADMIN,
        )
        registry.verb("role list", "List the facilitators and admins", self.list)

    async def whoami(self, ix: Interaction, args: Args) -> None:
        name = ix.user.name or await self._people.name(ix.user.identity)
        # A name is what someone chose on their platform: shown as written, never as markup.
        shown = f"{escape(name)} ({ix.user.identity})" if name != ix.user.identity else name
        await ix.reply(f"You are {shown}, and your role is {ix.role.label}.")

    async def grant(self, ix: Interaction, args: Args) -> None:
        role, person = _role_and_person(args)
        typed = args.get(1)
        if not typed.startswith("<@") and needs_checking(person.platform, ix.chat.platforms):
            try:  # a mention is the platform's own; a typed identity may hold a typo
                person = UserRef.parse(checked_identity(typed))  # as the platform writes it
            except IdentityError as e:
                raise UsageError(f"{e} Mentioning the person (@name) avoids typos.") from None
        try:
            change = await self._roles.grant(person.identity, role, by=ix.user.identity)
        except RoleChangeRefused as e:
            raise UsageError(str(e)) from None
        if change.changed and self._audit is not None:
            await self._audit.record(
                ix.user.identity, "role granted", f"{role.label}: {person.identity}, in chat"
            )
        await ix.reply(change.message)

    async def revoke(self, ix: Interaction, args: Args) -> None:
        role, person = _role_and_person(args)
        try:
            if args.get(1).startswith("<@"):
                identity = person.identity
                change = await self._roles.revoke(identity, role, by=ix.user.identity)
            else:
                change, identity = await self._roles.revoke_typed(
                    person.identity, role, by=ix.user.identity, served=ix.chat.platforms
                )
        except (RoleChangeRefused, IdentityError) as e:
            raise UsageError(str(e)) from None
        if change.changed and self._audit is not None:
            await self._audit.record(
                ix.user.identity, "role revoked", f"{role.label}: {identity}, in chat"
            )
        await ix.reply(change.message)

    async def list(self, ix: Interaction, args: Args) -> None:
        grants = await self._roles.list()
        if not grants:
            await ix.reply("Nobody has a role yet: everyone is staff.")
            return
        # Admins manage roles by identity, so they see it; everyone else sees names.
        admin = ix.role is Role.ADMIN
        shown = await self._people.labels(
            [g.identity for g in grants] + [g.granted_by for g in grants],
            with_identity=admin,
            markup=True,
        )
        lines = [
            f"{shown[g.identity]}: {g.role.label}"
            + (f" (by {shown.get(g.granted_by, g.granted_by)})" if admin else "")
            for g in grants
        ]
        await ix.reply("Facilitators and admins:\n" + "\n".join(lines))


def _role_and_person(args: Args) -> tuple[Role, UserRef]:
    if len(args) != 2:
        raise UsageError("I need a role and a person, in that order.")
    return parse_role(args.get(0)), parse_person(args.get(1))
