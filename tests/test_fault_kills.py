"""`kill -9` of `copbot serve` in the middle of a load of Slack events and Teams activities,
three times, restarting after each: every event that got a 200 is archived, none twice.

Like the platforms, the load sends again what got no answer (the same event id, so copbot
must recognise it), and it redelivers about 2% of what was answered, as Slack and Teams do.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.slack import signing
from tests.slack.conftest import fixture as slack_fixture
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.slack.test_end_to_end import C1, export, message
from tests.support.server import copbot_command, free_port, log_file, until_healthy
from tests.teams.conftest import fixture as teams_fixture
from tests.teams.fake_connector import TEAM, TENANT, FakeConnector
from tests.teams.test_end_to_end import ADMIN, ADMIN_AAD, PEOPLE, in_thread

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

KILLS = 3
PER_LIFE = 25  # acknowledged events, per platform, before each kill


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan", "U1": "Ade"},
        channels={C1: "ips-north"},
    ).start()
    yield fake
    await fake.close()


@pytest.fixture
async def teams() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector(channels={TEAM: ""}).start()
    yield fake
    await fake.close()


class Server:
    """`copbot serve` on a fixed port, so the load can go on across restarts."""

    def __init__(self, db_path: Path, slack: FakeSlack) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = db_path
        self.env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": slack.api_url,
            "COPBOT_TEAMS": "on",
            "COPBOT_TEAMS_TENANTS": TENANT,
            "COPBOT_ADMINS": f"slack:UADMIN,teams:{ADMIN_AAD}",
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with log_file("fault-kills") as log:
            self.process = await asyncio.create_subprocess_exec(
                *copbot_command(), "serve", "--port", str(self.port), "--db", str(self.db_path),
                env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await until_healthy(f"{self.url}/healthz", self.process, timeout=60)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 15)


Send = Callable[[int], Awaitable[int]]


class Platform:
    """One platform's stream of replies: each is sent until it is answered 200."""

    def __init__(self, name: str, send: Send) -> None:
        self.name, self._send = name, send
        self.acknowledged: set[int] = set()
        self.refused = 0
        self._next = 0
        self._rng = random.Random(name)

    def text(self, n: int) -> str:
        return f"{self.name} reply {n}"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            n = self._next
            try:
                status = await self._send(n)
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)  # copbot is down: send it again (same id) later
                continue
            if status != 200:
                # Refused (copbot starting or stopping, say): not acknowledged, so the
                # platform sends it again, as it would.
                self.refused += 1
                await asyncio.sleep(0.05)
                continue
            self.acknowledged.add(n)
            self._next += 1
            if self._rng.random() < 0.02:  # the platform's own redelivery
                await self._send(n)


async def test_three_kills_lose_nothing_acknowledged_and_double_nothing(
    slack: FakeSlack, teams: FakeConnector, tmp_path: Path
) -> None:
    server = Server(tmp_path / "copbot.db", slack)
    session = aiohttp.ClientSession()
    try:
        await server.start()
        slack_root, teams_root = await prompts(server, session, slack, teams)
        await server.kill()
        await check_kills(server, session, slack_send_for(server, session, slack_root),
                          teams_send_for(server, session, teams, teams_root))  # fmt: skip
    finally:
        await server.stop()
        await session.close()


def slack_send_for(server: Server, session: aiohttp.ClientSession, root: str) -> Send:

    async def send(n: int) -> int:
        body, kind = signing.event_body(
            message(f"EvK{n}", "U1", f"slack reply {n}", f"18{n:08d}.000100", root)
        )
        headers = signing.headers(SIGNING_SECRET, body, kind)
        async with session.post(f"{server.url}/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r.status

    return send


def teams_send_for(
    server: Server, session: aiohttp.ClientSession, teams: FakeConnector, root: str
) -> Send:
    async def send(n: int) -> int:
        activity = in_thread(
            teams, "channel_reply", f"r-{n}", root, PEOPLE["ade"], f"<p>teams reply {n}</p>"
        )
        async with session.post(f"{server.url}/api/messages", json=activity) as r:
            await r.read()
            return r.status

    return send


async def check_kills(
    server: Server, session: aiohttp.ClientSession, slack_send: Send, teams_send: Send
) -> None:
    platforms = [Platform("slack", slack_send), Platform("teams", teams_send)]
    stop = asyncio.Event()
    load = [asyncio.create_task(p.run(stop)) for p in platforms]
    for life in range(1, KILLS + 1):
        await server.start()
        async with asyncio.timeout(120):  # generous: CI machines are shared
            while any(len(p.acknowledged) < life * PER_LIFE for p in platforms):
                await asyncio.sleep(0.02)
        await server.kill()
    await server.start()  # the load's unanswered sends get through now
    stop.set()
    await asyncio.gather(*load)

    expected = {p.text(n) for p in platforms for n in p.acknowledged}
    assert len(expected) >= KILLS * PER_LIFE * 2
    async with asyncio.timeout(120):
        while True:
            records = await export(server.db_path)
            texts = [r["text"] for r in records if " reply " in r["text"]]
            if expected <= set(texts):
                break
            await asyncio.sleep(0.3)
    assert sorted(texts) == sorted(set(texts)), "an event was archived twice"
    assert set(texts) == expected


async def prompts(
    server: Server, session: aiohttp.ClientSession, slack: FakeSlack, teams: FakeConnector
) -> tuple[str, str]:
    """A prompt on each platform, whose threads the load replies in."""
    fields = slack_fixture("slash_command") | {
        "text": "prompt",
        "user_id": "UADMIN",
        "channel_id": C1,
        "channel_name": "ips-north",
        "trigger_id": "trigger-kills",
        "response_url": f"{slack.api_url}unused",
    }
    body, kind = signing.command_body(fields)
    headers = signing.headers(SIGNING_SECRET, body, kind)
    async with session.post(f"{server.url}/slack/events", data=body, headers=headers) as r:
        assert r.status == 200
    [post] = await slack.until(lambda: slack.of("chat.postMessage"))

    install: dict[str, Any] = teams_fixture("installed_in_team") | {"serviceUrl": teams.url}
    async with session.post(f"{server.url}/api/messages", json=install) as r:
        assert r.status == 200
    command = in_thread(
        teams, "channel_command", "1700000009000", "1700000009000", ADMIN, "<at>copbot</at> prompt"
    )
    command["entities"] = teams_fixture("channel_command")["entities"]
    async with session.post(f"{server.url}/api/messages", json=command) as r:
        assert r.status == 200
    async with asyncio.timeout(20):
        while not (created := [c for c in teams.of("create") if c.body.get("isGroup")][1:]):
            await asyncio.sleep(0.05)
    return str(post.answer["ts"]), created[-1].activity_id
