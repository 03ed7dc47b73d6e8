"""The whole copbot app with the real Slack adapter (slack-bolt and slack_sdk), served on an
ephemeral port and pointed at a fake Slack Web API on another."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SlackAdapter
from adapters.slack.pacing import Pacer
from bot.app import CORE, create_app
from bot.clock import SystemClock
from bot.core import Core
from bot.model import (
    BotAddedToChannel,
    ChannelRenamed,
    HomeOpened,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.settings import Settings, SlackSettings
from storage import sqlite
from tests.slack import signing
from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack

FIXTURES = Path(__file__).parent / "fixtures"
ADMIN = "UADMIN"
WATCHED = (
    MessagePosted,
    MessageEdited,
    MessageDeleted,
    BotAddedToChannel,
    ChannelRenamed,
    MemberJoined,
    HomeOpened,
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Sleeps:
    """An injected sleep: records what was asked for and returns at once."""

    asked: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@dataclass
class SlackBot:
    client: TestClient
    fake: FakeSlack
    db_path: Path
    sleeps: Sleeps
    seen: list[Any] = field(default_factory=list)

    @property
    def core(self) -> Core:
        return self.client.server.app[CORE]  # type: ignore[union-attr]

    @property
    def adapter(self) -> SlackAdapter:
        adapter = self.core.chat.adapter("slack")
        assert isinstance(adapter, SlackAdapter)
        return adapter

    def watch(self) -> None:
        for kind in WATCHED:
            self.core.registry.listen(kind, self._record)

    async def _record(self, event: Any) -> None:
        self.seen.append(event)

    # -- Slack calling copbot -----------------------------------------------------------

    async def deliver(
        self,
        body: str,
        content_type: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        retry: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        signed = signing.headers(secret, body, content_type, timestamp, retry)
        return await self.client.post("/slack/events", data=body, headers=headers or signed)

    async def event(self, envelope: dict[str, Any], retry: int | None = None) -> ClientResponse:
        body, kind = signing.event_body(envelope)
        return await self.deliver(body, kind, retry=retry)

    async def command(
        self,
        text: str,
        user: str = "U1SAM",
        channel: str = "C1NORTH",
        channel_name: str = "north",
        trigger: str | None = None,
    ) -> ClientResponse:
        fields = fixture("slash_command") | {
            "text": text,
            "user_id": user,
            "user_name": user.lower(),
            "channel_id": channel,
            "channel_name": channel_name,
            "trigger_id": trigger or f"trigger-{time.monotonic_ns()}",
        }
        body, kind = signing.command_body(fields)
        return await self.deliver(body, kind)

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        body, kind = signing.interaction_body(payload)
        return await self.deliver(body, kind)

    # -- looking -------------------------------------------------------------------------

    def inbox_count(self) -> int:
        # The project's own SQLite (storage.sqlite): a second SQLite library in the same
        # process would not share its locks, and closing it would unlink the live WAL.
        conn = sqlite.connect(self.db_path)
        try:
            return int(conn.execute("select count(*) from inbox").fetchall()[0][0])
        finally:
            conn.close()

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll ``check`` until it is truthy: for effects that reach the core, not the fake."""
        async with asyncio.timeout(timeout):
            while not (result := check()):
                await asyncio.sleep(0.01)
            return result

    async def until_async(self, check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
        """``until``, for a check that must ask copbot (say, its /healthz)."""
        async with asyncio.timeout(timeout):
            while not (result := await check()):
                await asyncio.sleep(0.02)
            return result


def settings(db_path: Path, fake: FakeSlack, *, socket_mode: bool = False) -> Settings:
    slack = SlackSettings(
        BOT_TOKEN,
        "" if socket_mode else SIGNING_SECRET,
        APP_TOKEN if socket_mode else "",
        fake.api_url,
    )
    return Settings(
        db_path=db_path, playground=False, admins=frozenset({f"slack:{ADMIN}"}), slack=slack
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={
            "UBOT": "copbot",
            "U1SAM": "Sam Okafor",
            "U2PRIYA": "Priya Shah",
            ADMIN: "Alex Morgan",
        },
        channels={"C1NORTH": "north", "C3MIDLANDS": "ips-midlands"},
    ).start()
    yield slack
    await slack.close()


@pytest.fixture
async def slack(db_path: Path, fake: FakeSlack) -> AsyncIterator[SlackBot]:
    """copbot with a Slack adapter whose pacing sleeps are recorded instead of slept."""
    sleeps = Sleeps()
    config = settings(db_path, fake)
    assert config.slack is not None
    pacer = Pacer(sleep=sleeps, clock=lambda: 100.0)  # a clock that stands still
    adapter = SlackAdapter(config.slack, SystemClock(), pacer=pacer)
    app = create_app(config, adapters=[adapter])
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, sleeps)
        bot.watch()
        yield bot
