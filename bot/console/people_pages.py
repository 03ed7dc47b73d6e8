"""People in the console (admins): who holds which role; granting and revoking; erasing
what copbot kept of someone, after a confirmation step. Each is a POST with its CSRF
token, and each change is in the audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.audit import Audit
from bot.console.web import Templates, Visitor, form_value, read_form
from bot.identities import IdentityError, checked_identity, needs_checking
from bot.model import Role, split_identity
from bot.people import People
from bot.roles import FROM_SETTINGS, PLAYGROUND_PREFIX, RoleChange, RoleChangeRefused, Roles
from bot.services.erasure import Erasure

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature

GRANTABLE = (Role.FACILITATOR, Role.ADMIN)


class PeoplePages:
    def __init__(
        self,
        roles: Roles,
        people: People,
        erasure: Erasure,
        audit: Audit,
        templates: Templates,
        platforms: Sequence[str],
        names: Mapping[str, str] | None = None,
    ) -> None:
        self._platforms = tuple(platforms)  # those copbot serves
        # Names known before copbot meets their owners (the playground's personas).
        self._names = dict(names or {})
        self._roles = roles
        self._erasure = erasure
        self._people = people
        self._audit = audit
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [
            web.get("/console/people", console.guarded(self.page, Role.ADMIN)),
            web.post("/console/people/grant", console.guarded(self.grant, Role.ADMIN)),
            web.post("/console/people/revoke", console.guarded(self.revoke, Role.ADMIN)),
            web.post("/console/people/erase", console.guarded(self.erase, Role.ADMIN)),
        ]

    async def page(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        done: str = "",
        problem: str = "",
        status: int = 200,
    ) -> web.StreamResponse:
        grants = await self._roles.list()
        labels = await self._people.labels(
            [g.identity for g in grants] + [g.granted_by for g in grants], with_identity=True
        )
        labels |= {i: f"{name} ({i})" for i, name in self._names.items() if labels.get(i, i) == i}
        return self._templates.render(
            "people.html",
            status=status,
            visitor=visitor,
            grants=grants,
            labels=labels,
            fixed=FROM_SETTINGS,
            roles=GRANTABLE,
            done=done,
            problem=problem,
        )

    async def grant(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._change(request, visitor, granting=True)

    async def revoke(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._change(request, visitor, granting=False)

    async def _change(
        self, request: web.Request, visitor: Visitor, *, granting: bool
    ) -> web.StreamResponse:
        form = await read_form(request)
        given_identity, given_role = form_value(form, "identity"), form_value(form, "role")
        try:
            platform, ident = split_identity(given_identity)
        except ValueError:
            return await self.page(
                request, visitor, status=400,
                problem="Write the person as an identity, like slack:U123 or local:sam.",
            )  # fmt: skip
        role = next((r for r in GRANTABLE if r.label == given_role), None)
        if role is None:
            return await self.page(
                request, visitor, status=400, problem="Pick facilitator or admin."
            )
        identity = f"{platform}:{ident}"
        if granting and needs_checking(platform, self._platforms):
            try:  # typed into a form: a typo would grant a role to nobody
                identity = checked_identity(identity)
            except IdentityError as e:
                return await self.page(request, visitor, status=400, problem=f"{e}.")
        change: RoleChange
        try:
            if granting:
                change = await self._roles.grant(identity, role, by=visitor.identity)
            else:
                change, identity = await self._roles.revoke_typed(
                    identity, role, by=visitor.identity, served=self._platforms
                )
        except RoleChangeRefused as refused:
            return await self.page(request, visitor, status=400, problem=str(refused))
        except IdentityError as e:
            return await self.page(request, visitor, status=400, problem=f"{e}.")
        if change.changed:
            action = "role granted" if granting else "role revoked"
            await self._audit.record(visitor.identity, action, f"{role.label}: {identity}")
        return await self.page(request, visitor, done=change.message)

    async def erase(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """First a page that asks to confirm, naming the person; then the erasure."""
        form = await read_form(request)
        try:
            platform, ident = split_identity(form_value(form, "identity"))
        except ValueError:
            return await self.page(
                request, visitor, status=400,
                problem="Write the person to erase as an identity, like slack:U123.",
            )  # fmt: skip
        identity = f"{platform}:{ident}"
        if visitor.identity.startswith(PLAYGROUND_PREFIX) and platform != "local":
            return await self.page(
                request, visitor, status=400,
                problem="In the playground you can erase only the playground people's data.",
            )  # fmt: skip
        if form_value(form, "confirm") != "yes":
            name = await self._people.label(identity, with_identity=True)
            return self._templates.render(
                "erase.html", visitor=visitor, identity=identity, name=name or identity
            )
        erased = await self._erasure.erase(identity)
        await self._audit.record(
            visitor.identity, "erased", f"{identity}: {erased.total} record(s)"
        )
        optin = self._templates.words.everywhere("optin")
        done = (
            f"Erased {erased.total} record(s) of {identity}. Nothing they write will be kept "
            f"from now on (they can choose otherwise with {optin})."
            if erased.total
            else f"Found nothing of {identity} to erase. Nothing they write will be kept "
            f"from now on (they can choose otherwise with {optin})."
        )
        return await self.page(request, visitor, done=done)
