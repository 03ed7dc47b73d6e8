"""Teams' connector having a bad time (429 with Retry-After, 412, 502, 504, 500, answers cut
short, no answer at all) while copbot posts a prompt, announces an event and replies:
what is safe to retry is retried, and posted once; what may have been done already is
never tried again blindly (OutcomeUnknown); every activity acknowledged meanwhile is
archived once; /healthz says Teams is degraded meanwhile and ok after, without a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.events import Plan
from bot.model import ChannelRef, OutgoingMessage, ThreadRef
from bot.ports import OutcomeUnknown
from bot.services.events import EventsFeature
from bot.settings import TeamsSettings
from tests.teams.conftest import TeamsBot, serve
from tests.teams.fake_connector import MALFORMED, NORTH, TENANT, FakeConnector
from tests.teams.test_contract import command, reply

RETRIED = (429, 412, 502, 504)


class Retries:
    """The retry observer the adapter is given: (platform, reason) for each retry."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, platform: str, reason: str) -> None:
        self.seen.append((platform, reason))


@pytest.fixture
def retries() -> Retries:
    return Retries()


@pytest.fixture
async def teams(db_path: Path, fake: FakeConnector, retries: Retries) -> AsyncIterator[TeamsBot]:
    settings = TeamsSettings(tenants=frozenset({TENANT}))
    async for bot in serve(db_path, fake, settings, observe_retry=retries, send_timeout=1.0):
        yield bot


async def health(teams: TeamsBot) -> dict[str, Any]:
    r = await teams.client.get("/healthz")
    assert r.status == 200
    body: dict[str, Any] = await r.json()
    return body


async def until_async(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.02)
        return result


def north_posts(teams: TeamsBot, words: str) -> list[Any]:
    return [
        c
        for c in teams.fake.of("create")
        if words in json.dumps(c.body) and c.body["channelData"]["channel"]["id"] == NORTH
    ]


def archived(teams: TeamsBot) -> list[str]:
    return [r[0] for r in teams.rows("select text from archive_messages order by text")]


async def prompt_root(teams: TeamsBot, ident: str) -> str:
    before = len(north_posts(teams, "card"))
    assert (await teams.send(command(teams, "prompt language", ident))).status == 200
    await teams.until(lambda: len(north_posts(teams, "card")) > before)
    return str(north_posts(teams, "card")[-1].activity_id)


async def test_refusals_safe_to_retry_are_retried_and_each_post_made_once(
    teams: TeamsBot, retries: Retries
) -> None:
    await teams.install()
    # A prompt, while every kind of retryable refusal comes first.
    for status in RETRIED:
        teams.fake.fail("create", status)
    root = await prompt_root(teams, "1700000100000")
    assert len(north_posts(teams, "card")) == 1
    # A reply in its thread, likewise.
    for status in RETRIED:
        teams.fake.fail("send", status)
    sent = await teams.core.chat.reply(
        ThreadRef(ChannelRef("teams", NORTH, TENANT), root), OutgoingMessage.of("a reply, once")
    )
    assert [c.activity_id for c in teams.fake.of("send") if "a reply, once" in str(c.body)] == [
        sent.id
    ]
    # An event's announcement, likewise.
    assert (await teams.send(command(teams, "region link North", "1700000100001"))).status == 200
    await teams.until(lambda: teams.rows("select region from region_links"))
    when = teams.core.clock.now().date() + timedelta(days=10)
    for status in RETRIED:
        teams.fake.fail("create", status)
    await teams.core.feature(EventsFeature).create(
        Plan("Peer support drop-in", "north", f"{when:%Y-%m-%d} 10:00", "60"), "teams:aad-admin"
    )
    await teams.core.scheduler.tick()
    await teams.until(lambda: north_posts(teams, "Peer support drop-in"))
    assert len(north_posts(teams, "Peer support drop-in")) == 1
    # Each refusal was waited out (Retry-After for the 429) and counted, by its status.
    assert sorted(retries.seen) == sorted([("teams", str(s)) for s in RETRIED] * 3)
    assert 1.0 <= teams.sleeps.asked[0] <= 1.5  # the fake's Retry-After: 1, plus jitter
    assert (await health(teams))["status"] == "ok"


async def test_a_send_that_may_have_happened_is_never_retried_blindly(
    teams: TeamsBot, retries: Retries
) -> None:
    await teams.install()
    north = ChannelRef("teams", NORTH, TENANT)
    teams.fake.fail("create", MALFORMED)  # done, and the answer lost
    with pytest.raises(OutcomeUnknown):
        await teams.core.chat.post(north, OutgoingMessage.of("cut short"))
    teams.fake.fail("create", 0)  # never answered
    with pytest.raises(OutcomeUnknown):
        await teams.core.chat.post(north, OutgoingMessage.of("unanswered"))
    assert retries.seen == []
    assert [c.status for c in teams.fake.calls if c.method == "create"][-1:] == [200]
    assert len(north_posts(teams, "cut short")) == 1
    body = await health(teams)
    assert body["status"] == "degraded" and "teams" in body["degraded"]


async def test_an_outage_loses_no_activity_and_heals_without_a_restart(
    teams: TeamsBot,
) -> None:
    await teams.install()
    root = await prompt_root(teams, "1700000200000")
    assert (await health(teams))["status"] == "ok"

    # The connector goes bad: errors it would be unsafe to retry, and answers cut short.
    for method in ("create", "send", "member"):
        for _ in range(4):
            teams.fake.fail(method, 500)
            teams.fake.fail(method, MALFORMED)
    for n in range(5):
        activity = reply(teams, root, f"17000002001{n:02d}", f"<p>outage reply {n}</p>")
        assert (await teams.send(activity)).status == 200
        assert (await teams.send(activity)).status == 200  # delivered again: kept once
    assert (await teams.send(command(teams, "prompt language", "1700000200200"))).status == 200

    async def degraded() -> dict[str, Any] | None:
        body = await health(teams)
        return body if body["status"] == "degraded" else None

    body = await until_async(degraded)
    assert "teams" in body["degraded"]
    assert "outage reply" not in json.dumps(body)

    # Well again: the same copbot posts, and /healthz says so.
    teams.fake.heal()
    await prompt_root(teams, "1700000200300")

    async def healed() -> dict[str, Any] | None:
        body = await health(teams)
        return body if body["status"] == "ok" else None

    assert "degraded" not in await until_async(healed)
    expected = [f"outage reply {n}" for n in range(5)]
    await teams.until(lambda: [t for t in archived(teams) if t.startswith("outage")] == expected)
    assert [t for t in archived(teams) if t.startswith("outage")] == expected
