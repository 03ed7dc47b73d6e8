"""A schedule's channel named by a name several channels share (two workspaces' #general,
every Teams team's General): the asker's own workspace's if that settles it, never a guess."""

from __future__ import annotations

import json

from bot.model import ChannelRef, Role
from tests.support.harness import ALEX, GENERAL, PRIYA, Harness

ELSEWHERE = ChannelRef("test", "C-general-2", "T2", "general")  # another workspace's #general
THERE = ChannelRef("test", "C-there", "T3", "there")  # a third workspace
SPACED = ChannelRef("test", "C-ipsn", "T1", "IPS North")  # as Teams names channels


def scheduled_in(bot: Harness) -> list[str]:
    return [json.loads(p)["channel"]["id"] for (p,) in bot.rows("select payload from jobs")]


async def test_a_shared_name_means_the_channel_in_the_askers_own_workspace(bot: Harness) -> None:
    await bot.join(GENERAL)
    await bot.join(ELSEWHERE)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    made = await bot.reply_text("schedule prompt any every tuesday at 10:00 in #general", PRIYA)
    assert "#general" in made
    assert scheduled_in(bot) == [GENERAL.id]


async def test_a_shared_name_elsewhere_is_not_guessed(bot: Harness) -> None:
    await bot.join(GENERAL)
    await bot.join(ELSEWHERE)
    await bot.join(THERE)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    # Asked from a third workspace's channel: neither #general is more hers than the other.
    sent = await bot.command("schedule prompt any every tuesday at 10:00 in #general", PRIYA, THERE)
    [answer] = [s.text for s in sent if s.kind == "respond"]
    assert "More than one channel you and I are both in is called #general" in answer
    assert scheduled_in(bot) == []


async def test_a_channel_whose_name_has_spaces_is_found_without_quotes(bot: Harness) -> None:
    await bot.join(GENERAL)
    await bot.join(SPACED)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    made = await bot.reply_text("schedule prompt any every tuesday at 10:00 in #IPS North", PRIYA)
    assert "every Tuesday at 10:00, in #IPS North" in made
    made = await bot.reply_text("schedule prompt any in IPS North every wed at 10:00", PRIYA)
    assert "every Wednesday at 10:00, in #IPS North" in made
    assert scheduled_in(bot) == [SPACED.id, SPACED.id]
