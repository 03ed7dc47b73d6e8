"""The Teams adapter keeps to Teams' published limits against a connector that enforces
them: replies sent as fast as copbot can in one thread meet no 429 (the adapter's retry
would hide one, so the fake's own count is what's asserted)."""

from __future__ import annotations

import asyncio

import pytest

from bot.model import ChannelRef, OutgoingMessage
from tests.support.rate_limits import TEAMS_PER_APP, TEAMS_PER_CONVERSATION, Limits
from tests.teams.conftest import TeamsBot
from tests.teams.fake_connector import NORTH, TENANT

pytestmark = pytest.mark.slow  # waits out Teams' 2-second window in real time


async def test_a_burst_of_replies_in_one_thread_is_paced_not_refused(teams: TeamsBot) -> None:
    await teams.install()
    root = await teams.adapter.post(ChannelRef("teams", NORTH, TENANT), OutgoingMessage.of("x"))
    teams.fake.limits = Limits(per_key=TEAMS_PER_CONVERSATION, overall=TEAMS_PER_APP)
    replies = [OutgoingMessage.of(f"reply {n}") for n in range(10)]  # over 8 in 2 s
    await asyncio.gather(*(teams.adapter.reply(root.as_thread, r) for r in replies))
    assert teams.fake.limits.refused == 0
    assert sorted(c.body["text"] for c in teams.fake.of("send")) == sorted(r.text for r in replies)
