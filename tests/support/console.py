"""The console over HTTP in the test process: copbot's app on a fake platform and a manual
clock, with a way to sign people in through real links."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientResponse, DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CORE, create_app
from bot.console.feature import ConsoleFeature
from bot.console.web import COOKIE
from bot.core import Core
from bot.model import CommandReceived, Origin, Role, UserRef
from bot.settings import Settings
from storage.owned import Gate
from tests.support.fakes import FakeAdapter, ManualClock
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    http: TestClient
    core: Core
    clock: ManualClock
    adapter: FakeAdapter

    @property
    def feature(self) -> ConsoleFeature:
        return self.core.feature(ConsoleFeature)

    def link_path(self, identity: str) -> str:
        return self.feature.link(identity, "http://x").removeprefix("http://x")

    async def meet(self, user: UserRef) -> None:
        """``user`` says something to copbot in chat, so copbot knows their name."""
        event = CommandReceived(
            f"meet-{user.id}", Origin(user, GENERAL), "whoami", self.clock.now()
        )
        await self.core.inbox.accept(event)
        await self.core.inbox.drain()

    async def sign_in(self, user: UserRef) -> str:
        """Sign ``user`` in through a fresh link; the session cookie's value."""
        await self.meet(user)
        response = await self.http.post(self.link_path(user.identity), allow_redirects=False)
        assert response.status == 303, await response.text()
        return response.cookies[COOKIE].value

    async def get(self, path: str, cookie: str | None = None) -> ClientResponse:
        return await self.http.get(path, headers=_cookie(cookie), allow_redirects=False)

    async def post(
        self, path: str, cookie: str | None, data: dict[str, str], **headers: str
    ) -> ClientResponse:
        return await self.http.post(
            path, data=data, headers={**_cookie(cookie), **headers}, allow_redirects=False
        )

    async def csrf(self, cookie: str) -> str:
        page = await self.get("/console", cookie)
        found = CSRF.search(await page.text())
        assert found, "no CSRF token on the page"
        return found.group(1)

    async def as_role(self, role: Role | None) -> str | None:
        """A session cookie for someone of ``role`` (None: signed out). Staff: someone who
        signed in as a facilitator and has since lost the role."""
        if role is None:
            return None
        if role is Role.ADMIN:
            return await self.sign_in(ALEX)
        await self.core.roles.grant(SAM.identity if role is Role.STAFF else PRIYA.identity,
                                    Role.FACILITATOR, by=ALEX.identity)  # fmt: skip
        if role is Role.FACILITATOR:
            return await self.sign_in(PRIYA)
        cookie = await self.sign_in(SAM)
        await self.core.roles.revoke(SAM.identity, Role.FACILITATOR, by="cli")
        return cookie


def _cookie(value: str | None) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={value}"} if value else {}


@asynccontextmanager
async def console_app(
    db_path: Path,
    public_url: str = "http://console.test",
    adapter: FakeAdapter | None = None,
    gate: Gate | None = None,
    teams_name: str = "copbot",
) -> AsyncIterator[Console]:
    clock = ManualClock()
    adapter = adapter or FakeAdapter()
    settings = Settings(
        db_path=db_path,
        admins=frozenset({ALEX.identity}),
        public_url=public_url,
        teams_name=teams_name,
    )
    app = create_app(settings, clock=clock, adapters=[adapter], gate=gate)
    # Cookies are sent by hand, each request as whoever the test says.
    async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
        yield Console(client, app[CORE], clock, adapter)
