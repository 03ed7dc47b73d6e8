"""The audit page (admins): the trail, newest first, with names beside identities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.audit import Audit
from bot.console.web import Templates, Visitor
from bot.model import Role
from bot.people import People

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature


class AuditPages:
    def __init__(self, audit: Audit, people: People, templates: Templates) -> None:
        self._audit = audit
        self._people = people
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [web.get("/console/audit", console.guarded(self.page, Role.ADMIN))]

    async def page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        entries = await self._audit.newest()
        who = await self._people.labels({e.done_by for e in entries}, with_identity=True)
        return self._templates.render("audit.html", visitor=visitor, entries=entries, who=who)
