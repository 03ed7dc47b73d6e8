"""One copbot may serve several workspaces or tenants (COPBOT_TEAMS_TENANTS lists more than
one): the console reads the archive of the visitor's own, as `/cop search` does in chat,
never the busiest one's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.model import ChannelRef, CommandReceived, Origin, Role, UserRef
from bot.records import ArchivedMessage
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, PRIYA

LINK = re.compile(r"\(http://console\.test(/console/sign-in/[^)\s]+)\)")
THEIRS = ChannelRef("test", "C-a", "T-A", "a-general")
OURS = ChannelRef("test", "C-b", "T-B", "b-general")


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        # Workspace A is the busier: three messages to B's one.
        for n, text in enumerate(["alpha payroll one", "alpha payroll two", "alpha payroll"]):
            await _keep(c, THEIRS, f"a{n}", text)
        await _keep(c, OURS, "b0", "bravo rota")
        yield c


async def _keep(c: Console, where: ChannelRef, message: str, text: str) -> None:
    c.clock.advance(timedelta(minutes=1))
    await c.core.archive.capture(
        ArchivedMessage(
            "test", where.workspace, where.id, where.name, message, message, "test:kim",
            "Kim", False, text, c.clock.now(),
        )
    )  # fmt: skip


async def _signed_in_from(c: Console, where: ChannelRef) -> str:
    """Priya asks for the console in ``where`` and follows the link she is sent."""
    before = len(c.adapter.sent)
    await c.core.inbox.accept(
        CommandReceived("ask-console", Origin(PRIYA, where), "console", c.clock.now())
    )
    await c.core.inbox.drain()
    links = [m.group(1) for s in c.adapter.sent[before:] if (m := LINK.search(s.text))]
    assert len(links) == 1, c.adapter.sent[before:]
    response = await c.http.post(links[0], allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.cookies["copbot_console"].value


async def test_the_console_reads_the_visitors_own_workspace(console: Console) -> None:
    cookie = await _signed_in_from(console, OURS)
    for path in ("/console/archive", "/console/archive?q=payroll", "/console/archive?q=rota"):
        page = await (await console.get(path, cookie)).text()
        assert "alpha" not in page and "a-general" not in page, path
    assert "bravo rota" in await (await console.get("/console/archive", cookie)).text()
    thread = "/console/archive/thread?platform=test&workspace=T-A&channel=C-a&id=a0"
    assert (await console.get(thread, cookie)).status == 404


async def test_an_admins_console_export_holds_their_own_workspace_only(console: Console) -> None:
    await console.core.roles.grant(PRIYA.identity, Role.ADMIN, by=ALEX.identity)
    cookie = await _signed_in_from(console, OURS)
    csrf = await console.csrf(cookie)
    form = {"csrf": csrf, "format": "jsonl"}
    response = await console.post("/console/archive/export", cookie, form)
    body = await response.text()
    assert response.status == 200, body
    assert "bravo rota" in body and "alpha" not in body


async def test_an_identity_holding_a_space_never_signs_in_as_another(console: Console) -> None:
    # A role kept before typed identities were checked, for "test:priya T-A": its link
    # must not read back as Priya's, signed in to workspace T-A.
    spaced = UserRef("test", f"{PRIYA.id} T-A")
    await console.core.roles.grant(spaced.identity, Role.ADMIN, by=ALEX.identity)
    before = len(console.adapter.sent)
    await console.core.inbox.accept(
        CommandReceived("ask-spaced", Origin(spaced, OURS), "console", console.clock.now())
    )
    await console.core.inbox.drain()
    sent = console.adapter.sent[before:]
    assert sent and not any(LINK.search(s.text) for s in sent), sent
