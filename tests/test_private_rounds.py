"""A private channel's feedback rounds and region links stay with its members: listings,
answer buttons and results follow what the platform shows each person."""

from __future__ import annotations

from bot.model import ChannelRef, Role
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM, Harness

LEADS = ChannelRef("test", "C-leads", "T1", "leads")


async def test_regions_name_a_private_channel_only_to_its_members(bot: Harness) -> None:
    bot.adapter.private_channels[LEADS.id] = {PRIYA.id}
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    for channel, region in ((LEADS, "North"), (GENERAL, "London")):
        await bot.join(channel)
        await bot.command(f"region link {region}", PRIYA, channel)

    outsider = await bot.reply_text("regions", SAM)
    assert "leads" not in outsider and "**North**: no channel yet" in outsider
    assert "**London**: #general" in outsider
    assert "**North**: #leads" in await bot.reply_text("regions", PRIYA)
