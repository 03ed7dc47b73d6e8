"""A person's command, click or submission: answered in its own words, and run at most once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.commands import Args
from bot.interaction import Interaction
from bot.model import ButtonPressed, FormSubmitted, Role
from bot.ports import DeliveryError, OutcomeUnknown
from tests.support.harness import GENERAL, PRIYA, SAM, Harness

WORDS = "I'm not in #north yet: invite me there first."


async def _pending(bot: Harness) -> int:
    return len(await bot.core.inbox._repo.pending(100, bot.clock.now() + timedelta(days=1)))  # type: ignore[attr-defined]


async def test_a_button_handler_s_delivery_error_shows_its_own_words(bot: Harness) -> None:
    async def press(ix: Interaction, event: ButtonPressed) -> None:
        raise DeliveryError(WORDS)

    bot.core.registry.action("trouble", press)
    [answer] = await bot.press("trouble")
    assert answer.kind == "respond" and answer.text == WORDS


async def test_a_form_handler_s_delivery_error_shows_its_own_words(bot: Harness) -> None:
    async def submitted(ix: Interaction, event: FormSubmitted) -> None:
        raise DeliveryError(WORDS)

    bot.core.registry.form("trouble", submitted)
    [answer] = await bot.submit("trouble", {"text": "hello"})
    assert answer.kind == "respond" and answer.text == WORDS


async def test_a_post_that_may_have_gone_out_says_to_look_before_trying_again(
    bot: Harness,
) -> None:
    async def verb(ix: Interaction, args: Args) -> None:
        raise OutcomeUnknown("Slack didn't answer whether the message was posted (TimeoutError)")

    bot.core.registry.verb("flaky", "A verb whose post times out", verb)
    text = await bot.reply_text("flaky")
    assert "may already be there" in text and "look before trying again" in text
    assert "try again in a minute" not in text
    assert "TimeoutError" not in text  # the log's wording, not the person's


async def test_a_submission_runs_once_even_when_copbot_cannot_answer(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    stored: list[str] = []

    async def submitted(ix: Interaction, event: FormSubmitted) -> None:
        stored.append(event.value("text"))
        await ix.reply("Thank you!")

    bot.core.registry.form("note", submitted)
    bot.adapter.fail_responses = 10  # the thank-you and the apology both fail
    with caplog.at_level(logging.ERROR):
        await bot.submit("note", {"text": "private words"})
        for _ in range(6):  # past every retry the inbox would make
            bot.clock.advance(timedelta(minutes=10))
            await bot.core.inbox.drain()
    assert stored == ["private words"]
    assert await _pending(bot) == 0
    assert "could not answer a FormSubmitted" in caplog.text
    assert "private words" not in caplog.text


async def test_a_prompt_is_posted_once_when_private_answers_fail(bot: Harness) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    bot.adapter.fail_responses = 2  # the facilitator note, then the apology
    await bot.command("prompt language", PRIYA)
    for _ in range(6):
        bot.clock.advance(timedelta(minutes=10))
        await bot.core.inbox.drain()
    assert len(bot.adapter.of_kind("post")) == 1
    assert await _pending(bot) == 0


class Died(BaseException):
    """The process dies half-way: not an Exception, so nothing in copbot catches it."""


async def test_a_crash_while_handling_a_command_does_not_run_it_again(bot: Harness) -> None:
    runs: list[str] = []

    async def verb(ix: Interaction, args: Args) -> None:
        runs.append(args.text)
        raise Died

    bot.core.registry.verb("crash", "A verb that dies half-way", verb)
    with pytest.raises(Died):
        await bot.command("crash now", SAM, GENERAL)
    await bot.core.inbox.drain()  # what a restart does first
    assert runs == ["now"]
