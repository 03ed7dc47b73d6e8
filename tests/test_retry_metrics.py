"""Retries and rate-limit answers (429) are counted by platform and status, from each
adapter's own retry path (slack_sdk's retry handler, the Teams delivery's backoff), through
the observer create_app hands the adapters it builds."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import replace
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import CORE, create_app
from bot.model import ChannelRef, OutgoingMessage
from bot.settings import Settings, TeamsSettings
from tests.slack import conftest as slack_conftest
from tests.slack.fake_slack import FakeSlack
from tests.teams.fake_connector import NORTH, TENANT, FakeConnector
from tests.test_metrics import scrape

FIXTURES = Path(__file__).parent / "teams" / "fixtures"


def retries(platform: str, reason: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("copbot_platform_retries_total", (("platform", platform), ("reason", reason)))


async def test_slack_429s_are_counted_as_retries(db_path: Path) -> None:
    fake = await FakeSlack(users={"UBOT": "copbot"}, channels={"C1NORTH": "north"}).start()
    try:
        settings = replace(slack_conftest.settings(db_path, fake), metrics=True)
        async with TestClient(TestServer(create_app(settings))) as client:
            assert retries("slack", "429") not in await scrape(client)
            fake.rate_limit("chat.postMessage", times=2, retry_after=0)
            north = ChannelRef("slack", "C1NORTH", "T1")
            await client.app[CORE].chat.post(north, OutgoingMessage.of("after two 429s"))
            assert len(fake.of("chat.postMessage")) == 1  # posted once, on the third try
            assert (await scrape(client))[retries("slack", "429")] == 2
    finally:
        await fake.close()


async def test_teams_retries_are_counted_by_status(db_path: Path) -> None:
    fake = await FakeConnector().start()
    try:
        settings = Settings(
            db_path=db_path,
            playground=False,
            teams=TeamsSettings(tenants=frozenset({TENANT})),
            public_url="http://copbot.test",
            metrics=True,
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            installed = json.loads((FIXTURES / "installed_in_team.json").read_text())
            installed = copy.deepcopy(installed) | {"serviceUrl": fake.url}
            assert (await client.post("/api/messages", json=installed)).status == 200
            async with asyncio.timeout(10):
                while not fake.of("create"):  # the hello in General
                    await asyncio.sleep(0.01)
            fake.fail("create", 502)
            fake.fail("create", 412)
            north = ChannelRef("teams", NORTH, TENANT)
            await client.app[CORE].chat.post(north, OutgoingMessage.of("after a 502 and a 412"))
            got = await scrape(client)
            assert got[retries("teams", "502")] == 1
            assert got[retries("teams", "412")] == 1
            assert retries("teams", "429") not in got
    finally:
        await fake.close()
