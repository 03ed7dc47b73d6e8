"""Signing in from the playground (local mode only): its personas need no link. The
playground already lets anyone act as anyone, so this gives nothing away; its form still
carries a short-lived signed token, and must come from copbot's own page.

When copbot also serves Slack or Teams, a persona's console reaches their people's data,
so the page answers only someone at the machine itself: a request that came through a
proxy, or from another address, is told there is no such page.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.sign_in import LINK_LIFETIME
from bot.console.web import Templates, form_value, read_form, same_origin
from bot.model import UserRef
from bot.ports import Clock
from bot.roles import Roles
from bot.signing import Signer

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature


class PlaygroundSignIn:
    def __init__(
        self,
        personas: Sequence[UserRef],
        signer: Signer,
        roles: Roles,
        clock: Clock,
        templates: Templates,
        *,
        beside_platforms: bool,
    ) -> None:
        self._personas = tuple(personas)
        self._beside_platforms = beside_platforms
        self._signer = signer
        self._roles = roles
        self._clock = clock
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        if not self._personas:  # no playground: no such page
            return []

        async def sign_in(request: web.Request) -> web.StreamResponse:
            if not self._reachable(request):
                raise web.HTTPNotFound()
            form = await read_form(request)
            if not same_origin(request) or not self._token_ok(form_value(form, "token")):
                return console.forbidden(
                    "That sign-in form had expired. Go back, reload the page and try again."
                )
            identity = form_value(form, "persona")
            if identity not in {u.identity for u in self._personas}:
                return console.forbidden("There's no such person in the playground.")
            return await console.start(identity, "signed in from the playground")

        return [
            web.get("/console/playground", self.page),
            web.post("/console/playground", sign_in),
        ]

    async def page(self, request: web.Request) -> web.StreamResponse:
        if not self._reachable(request):
            raise web.HTTPNotFound()
        chosen = request.query.get("as", "")
        personas = [
            (user, await self._roles.role_of(user.identity), user.id == chosen)
            for user in self._personas
        ]
        return self._templates.render("playground.html", personas=personas, token=self._token())

    def _reachable(self, request: web.Request) -> bool:
        return not self._beside_platforms or _at_this_machine(request)

    def _token(self) -> str:
        expires = int((self._clock.now() + LINK_LIFETIME).timestamp())
        return self._signer.sign(str(expires))

    def _token_ok(self, token: str) -> bool:
        value = self._signer.unsign(token)
        if value is None or not (value.isascii() and value.isdigit()) or len(value) > 10:
            return False
        return datetime.fromtimestamp(int(value), UTC) > self._clock.now()


_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _at_this_machine(request: web.Request) -> bool:
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False
