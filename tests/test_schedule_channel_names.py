"""A schedule's channel named by a name several channels share (two workspaces' #general,
every Teams team's General): the asker's own workspace's if that settles it, never a guess."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.model import BotRemovedFromChannel, ChannelRef, ChannelRenamed, Role
from bot.services.schedules import SchedulesFeature
from tests.support.harness import ALEX, GENERAL, NORTH, PRIYA, Harness

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


RENAMED = ChannelRef("test", "C-north", "T1", "ips-north-east")  # #north, renamed


async def _renamed(bot: Harness) -> None:
    """#north renamed on the platform (as Slack and Teams say so): no hello, a new name."""
    await bot.deliver(ChannelRenamed("renamed", RENAMED, bot.clock.now()))


async def test_a_schedule_is_described_by_its_channels_name_now(bot: Harness) -> None:
    await bot.join(NORTH)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    await bot.reply_text("schedule prompt any every tuesday at 10:00 in #north", PRIYA)
    await _renamed(bot)
    listed = await bot.reply_text("schedule list", PRIYA)
    assert "#1: a prompt from any topic, every Tuesday at 10:00, in #ips-north-east;" in listed
    assert "#north" not in listed
    for said in (
        await bot.reply_text(
            "schedule prompt any every tuesday at 10:00 in #ips-north-east", PRIYA
        ),
        await bot.reply_text("schedule pause 1", PRIYA),
        await bot.reply_text("schedule resume 1", PRIYA),
    ):
        assert "in #ips-north-east." in said and "#north" not in said
    schedules = bot.core.feature(SchedulesFeature)
    [line] = await schedules.schedules()  # the console's and the command line's
    assert line.description.endswith("in #ips-north-east")
    # Its posts' notes name it so too.
    bot.adapter.sent.clear()
    await bot.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - bot.clock.now())
    [note] = bot.adapter.of_kind("direct")
    assert "in #ips-north-east (schedule #1)" in note.text and "#north" not in note.text
    assert await bot.reply_text("schedule cancel 1", PRIYA) == (
        "Cancelled schedule #1: a prompt from any topic, every Tuesday at 10:00, in "
        "#ips-north-east."
    )


async def test_the_owner_told_of_trouble_hears_the_channels_name_now(bot: Harness) -> None:
    await bot.join(NORTH)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    await bot.reply_text("schedule prompt any every tuesday at 10:00 in #north", PRIYA)
    await _renamed(bot)
    await bot.deliver(BotRemovedFromChannel("left", RENAMED, bot.clock.now()))
    bot.adapter.sent.clear()
    await bot.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - bot.clock.now())
    [told] = bot.adapter.of_kind("direct")
    assert "I'm no longer in #ips-north-east" in told.text and "#north" not in told.text
    refused = await bot.reply_text("schedule resume 1", PRIYA)
    assert "I'm still not in #ips-north-east" in refused and "#north" not in refused


async def test_a_renaming_told_late_leaves_copbot_out_of_a_channel_it_has_left(
    bot: Harness,
) -> None:
    """A notice delivered again after an outage can arrive after copbot was removed: the
    channel takes the new name and copbot stays out of it, so nothing is posted there."""
    await bot.join(NORTH)
    await bot.deliver(BotRemovedFromChannel("left", NORTH, bot.clock.now()))
    posted = len(bot.adapter.of_kind("post"))
    await _renamed(bot)
    [kept] = [c for c in await bot.core.channels.list() if c.ref.id == NORTH.id]
    assert kept.ref.name == "ips-north-east" and not kept.bot_member
    assert len(bot.adapter.of_kind("post")) == posted  # and no hello
