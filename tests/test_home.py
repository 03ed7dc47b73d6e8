from __future__ import annotations

from datetime import UTC, datetime

from bot.model import HomeOpened
from tests.support.harness import ALEX, NORTH, PRIYA, SAM, Harness
from tests.test_private_channels import LEADS, private_leads


async def test_home_shows_the_latest_prompts_with_links(bot: Harness) -> None:
    await bot.deliver(HomeOpened("home-1", SAM, bot.clock.now()))
    [empty] = bot.adapter.of_kind("home")
    assert "No prompts have been posted yet." in empty.text
    await bot.join(NORTH)
    [post] = [
        s for s in await bot.command("prompt language", ALEX, channel=NORTH) if s.kind == "post"
    ]
    await bot.deliver(HomeOpened("home-2", SAM, bot.clock.now()))
    home = bot.adapter.of_kind("home")[-1]
    assert home.user == SAM
    title = post.text.splitlines()[0].strip("*")
    assert (
        f"• **{title}** in #north, 25 Nov · [join the thread](https://chat.example/C-north/"
        in home.text
    )
    assert "facilitator" not in home.text  # staff see no facilitator hints
    await bot.deliver(HomeOpened("home-3", ALEX, bot.clock.now()))
    assert (
        "You're an admin: `/cop prompt` posts the next prompt"
        in bot.adapter.of_kind("home")[-1].text
    )


async def test_home_dates_a_prompt_by_the_communitys_calendar(bot: Harness) -> None:
    """Posted at 00:30 on 1 July in London (23:30 on 30 June in UTC): "1 Jul"."""
    bot.clock.set(datetime(2027, 6, 30, 23, 30, tzinfo=UTC))
    await bot.join(NORTH)
    await bot.command("prompt language", ALEX, channel=NORTH)
    await bot.deliver(HomeOpened("home-summer", SAM, bot.clock.now()))
    home = bot.adapter.of_kind("home")[-1]
    assert "in #north, 1 Jul" in home.text


async def test_home_shows_a_private_channels_prompts_only_to_its_members(bot: Harness) -> None:
    await private_leads(bot, {PRIYA.id})
    await bot.command("prompt language", ALEX, channel=LEADS)
    await bot.join(NORTH)
    await bot.command("prompt privilege", ALEX, channel=NORTH)
    await bot.deliver(HomeOpened("home-sam", SAM, bot.clock.now()))
    home = bot.adapter.of_kind("home")[-1].text
    assert "in #north" in home
    assert "leads" not in home
    await bot.deliver(HomeOpened("home-priya", PRIYA, bot.clock.now()))
    assert "in #leads" in bot.adapter.of_kind("home")[-1].text
