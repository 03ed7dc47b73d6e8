"""The core as a conversation: commands, roles and help through the fake platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands import Args
from bot.interaction import Interaction
from bot.model import ButtonPressed, ChannelRef, FormSubmitted, Role
from bot.settings import Settings
from tests.support.harness import ALEX, GENERAL, NORTH, PRIYA, SAM, Harness


async def test_help_lists_only_what_the_caller_may_use(bot: Harness) -> None:
    staff_help = await bot.reply_text("help", SAM)
    assert "`/cop help [command]`" in staff_help and "`/cop whoami`" in staff_help
    assert "role grant" not in staff_help and "role revoke" not in staff_help
    assert "`/cop role list`" in staff_help  # so staff can find whom to ask
    assert "as staff" in staff_help

    admin_help = await bot.reply_text("help", ALEX)
    assert (
        "`/cop role grant ROLE @person`: Give someone the facilitator or admin role" in admin_help
    )
    assert "role list" in admin_help and "You're an admin" in admin_help


async def test_help_for_one_verb_shows_its_usage_and_details(bot: Harness) -> None:
    text = await bot.reply_text("help role", ALEX)
    assert "`/cop role grant ROLE @person`" in text and "`/cop role revoke ROLE @person`" in text
    assert "Admins can do everything facilitators can" in text
    assert await bot.reply_text("help role grant", SAM) == (
        "`/cop role grant` is for admins; your role is staff. If you need it, ask one of "
        "them, or ask an admin for the role: `/cop role list` shows who they are."
    )


async def test_unknown_verbs_get_a_friendly_specific_answer(bot: Harness) -> None:
    text = await bot.reply_text("hlep", SAM)
    assert text == (
        "I don't know the command `hlep`. Did you mean `/cop help`? "
        "Type `/cop help` to see what I can do."
    )


async def test_answers_are_private_and_in_place(bot: Harness) -> None:
    [sent] = await bot.command("whoami", SAM, channel=NORTH)
    assert sent.kind == "respond" and sent.user == SAM and sent.channel == NORTH
    assert sent.text == "You are Sam (test:sam), and your role is staff."


async def test_admin_grants_a_role_in_chat_and_it_takes_effect(bot: Harness) -> None:
    await bot.command("whoami", PRIYA)  # copbot has met Priya, and knows her name
    assert await bot.reply_text("role grant facilitator <@test:priya>", ALEX) == (
        "Priya (test:priya) is now a facilitator."
    )
    assert "your role is facilitator" in await bot.reply_text("whoami", PRIYA)
    assert "already a facilitator" in await bot.reply_text(
        "role grant facilitator test:priya", ALEX
    )
    listing = await bot.reply_text("role list", ALEX)
    assert "Alex (test:alex): admin (by COPBOT_ADMINS)" in listing
    assert "Priya (test:priya): facilitator (by Alex (test:alex))" in listing
    assert "no longer a facilitator" in await bot.reply_text(
        "role revoke facilitator test:priya", ALEX
    )
    assert "your role is staff" in await bot.reply_text("whoami", PRIYA)


async def test_privileged_verbs_are_refused_to_lower_roles_and_change_nothing(bot: Harness) -> None:
    text = await bot.reply_text("role grant admin test:sam", SAM)
    assert text.startswith("`/cop role grant` is for admins.")
    assert "your role is staff" in await bot.reply_text("whoami", SAM)
    assert "is for admins" in await bot.reply_text("role revoke admin test:alex", SAM)


async def test_bad_arguments_say_what_is_wrong_and_show_usage(bot: Harness) -> None:
    text = await bot.reply_text("role grant boss test:sam", ALEX)
    assert text == (
        "`boss` isn't a role. Roles are facilitator and admin.\n"
        "Usage: `/cop role grant ROLE @person`"
    )
    assert "I need a role and a person" in await bot.reply_text("role grant admin", ALEX)
    assert "couldn't tell who `sam`" in await bot.reply_text("role grant admin sam", ALEX)


async def test_settings_admins_cannot_be_revoked_in_chat(bot: Harness) -> None:
    text = await bot.reply_text("role revoke admin test:alex", ALEX)
    assert "listed in COPBOT_ADMINS" in text
    assert "your role is admin" in await bot.reply_text("whoami", ALEX)


async def test_the_last_admin_cannot_be_removed(db_path: Path) -> None:
    h = Harness.open(db_path, Settings(db_path=db_path))
    try:
        await h.core.roles.grant(PRIYA.identity, Role.ADMIN, by="cli")
        text = await h.reply_text("role revoke admin test:priya", PRIYA)
        assert "the only admin" in text
        assert await h.core.roles.role_of(PRIYA.identity) is Role.ADMIN
        assert "now an admin" in await h.reply_text("role grant admin test:sam", PRIYA)
        assert (
            await h.reply_text("role revoke admin test:priya", SAM)
            == "Priya (test:priya) is no longer an admin."
        )
    finally:
        h.close()


async def test_a_failing_handler_never_leaks_a_traceback(bot: Harness) -> None:
    async def broken(ix: Interaction, args: Args) -> None:
        raise RuntimeError("secret internals")

    bot.core.registry.verb("explode", "breaks", broken)
    text = await bot.reply_text("explode", SAM)
    assert text.startswith("Sorry, something went wrong on my side")
    assert "secret" not in text and "Traceback" not in text
    # the next command still works: the inbox loop survived
    assert "your role" in await bot.reply_text("whoami", SAM)


async def test_buttons_and_forms_are_routed_with_roles(bot: Harness) -> None:
    seen: list[object] = []

    async def on_press(ix: Interaction, event: ButtonPressed) -> None:
        seen.append((ix.role, event.value))

    async def on_form(ix: Interaction, event: FormSubmitted) -> None:
        seen.append((ix.user.identity, event.value("topic")))

    bot.core.registry.action("thing", on_press, role=Role.FACILITATOR)
    bot.core.registry.form("thing-form", on_form)
    await bot.press("thing:42", "v", user=ALEX)
    [refused] = await bot.press("thing:42", "v", user=SAM)
    assert "That button is for facilitators and admins" in refused.text
    [stale] = await bot.press("gone", "v", user=SAM)
    assert "no longer does anything" in stale.text
    await bot.submit("thing-form", {"topic": "language"}, user=SAM)
    [out_of_date] = await bot.submit("old-form", {}, user=SAM)
    assert "out of date" in out_of_date.text
    assert seen == [(Role.ADMIN, "v"), ("test:sam", "language")]


async def test_joining_a_channel_records_it_with_its_region_and_says_hello_once(
    bot: Harness,
) -> None:
    await bot.join(NORTH)
    await bot.join(NORTH)  # a retry of the same event
    channel = await bot.core.channels.get(NORTH)
    assert channel is not None and channel.region == "north"
    hellos = bot.adapter.of_kind("post")
    assert len(hellos) == 1 and hellos[0].channel == NORTH
    assert "Type `/cop help`" in hellos[0].text
    await bot.join(GENERAL)
    general = await bot.core.channels.get(GENERAL)
    assert general is not None and general.region == ""


async def test_a_joined_channel_s_region_is_guessed_from_the_configured_regions(
    db_path: Path,
) -> None:
    bot = Harness.open(db_path, Settings(db_path=db_path, regions=("Scotland", "North East")))
    try:
        scotland = ChannelRef("test", "C-scot", "T1", "ips-scotland")
        north_east = ChannelRef("test", "C-ne", "T1", "ips-north-east")
        for channel in (scotland, north_east, NORTH):
            await bot.join(channel)
        regions = [(await bot.core.channels.get(c)) for c in (scotland, north_east, NORTH)]
        assert [c.region if c else None for c in regions] == ["scotland", "north east", ""]
    finally:
        bot.close()


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("ips-north", "north"),
        ("Midlands_CoP", "midlands"),
        ("northern", ""),
        ("south-west", "south"),
    ],
)
def test_region_comes_from_a_whole_word_of_the_channel_name(name: str, region: str) -> None:
    from bot.services.channels import region_from_name
    from bot.settings import Settings

    assert region_from_name(name, Settings.regions) == region


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("ips-scotland", "scotland"),
        ("IPS_North_East_CoP", "north east"),  # the longer name wins
        ("north-team", "north"),
        ("east-north", "north"),  # words in the region's order only
        ("ips-london", ""),  # not configured here
        ("ips-wales-2", "wales"),
    ],
)
def test_the_guess_uses_the_configured_regions(name: str, region: str) -> None:
    from bot.services.channels import region_from_name

    regions = ("Scotland", "North", "North East", "Wales", "National")
    assert region_from_name(name, regions) == region
