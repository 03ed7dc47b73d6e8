"""A private channel's feedback rounds and region links stay with its members: listings,
answer buttons and results follow what the platform shows each person."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.model import Buttons, ChannelRef, Form, Role, UserRef
from bot.services.feedback_answers import CLOSED
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM, Harness
from tests.test_events import announced, feature, link
from tests.test_feedback import form_for

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


async def leads_round(bot: Harness) -> int:
    """A round Priya opens in #leads, a private channel only she belongs to."""
    bot.adapter.private_channels[LEADS.id] = {PRIYA.id}
    await bot.join(LEADS)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    sent = await bot.command('feedback open "Leads budget worries"', PRIYA, LEADS)
    [post] = [s for s in sent if s.kind == "post"]
    [buttons] = [b for b in post.message.blocks if isinstance(b, Buttons)]  # type: ignore[union-attr]
    return int(buttons.buttons[0].value)


async def listed(bot: Harness, user: UserRef) -> str:
    return await bot.reply_text("feedback", user)


async def test_a_private_channels_round_is_offered_and_answered_only_by_its_members(
    bot: Harness,
) -> None:
    round_id = await leads_round(bot)
    # Outside #leads: not listed (in a channel or a direct message), and its button,
    # pressed with a guessed id, says what it says of a round that isn't there.
    assert "Leads budget" not in await listed(bot, SAM)
    assert await form_for(bot, SAM, round_id) == CLOSED
    assert await form_for(bot, SAM, 999) == CLOSED
    # A member is offered it and can answer.
    assert "Leads budget" in await listed(bot, PRIYA)
    assert isinstance(await form_for(bot, PRIYA, round_id), Form)


async def test_a_facilitator_outside_the_private_channel_cannot_reach_its_round(
    bot: Harness,
) -> None:
    round_id = await leads_round(bot)
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by=ALEX.identity)
    missing = f"There's no round {round_id}."
    for user in (SAM, ALEX):  # a facilitator and an admin, neither in #leads
        for verb in ("results", "close", "min"):
            extra = " 7" if verb == "min" else ""
            answer = await bot.reply_text(f"feedback {verb} {round_id}{extra}", user)
            assert answer.startswith(missing), answer
            assert "Leads budget" not in answer
    [(state, k)] = await bot.core.db.read(
        lambda conn: conn.execute("select state, threshold from feedback_rounds").fetchall()
    )
    assert (state, k) == ("open", 5)
    # Its member still can.
    assert "Leads budget" in await bot.reply_text(f"feedback results {round_id}", PRIYA)


async def test_an_events_round_is_answered_only_by_those_it_was_sent_to(bot: Harness) -> None:
    await link(bot, GENERAL, "North")
    event_id = await announced(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    bot.clock.set(datetime(2026, 12, 3, 11, 30, tzinfo=UTC))
    await bot.tick()
    round_id = await feature(bot).repository.feedback_round(event_id)
    assert round_id is not None
    # Priya (who organised it but didn't say Going) is neither offered it nor let in.
    assert "Race equity" not in await listed(bot, PRIYA)
    assert await form_for(bot, PRIYA, round_id) == CLOSED
    # Sam, who was going and was sent the button, is.
    assert "Race equity" in await listed(bot, SAM)
    assert isinstance(await form_for(bot, SAM, round_id), Form)
