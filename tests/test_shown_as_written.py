"""What people write (an anonymous reply, a written feedback answer, a prompt suggestion,
a facilitator's own prompt) is shown as written: a link or bold in it never becomes
copbot's own link or bold in the playground's rendering, and the archive keeps the words
unchanged."""

from __future__ import annotations

from datetime import timedelta

from adapters.local.render import message_html
from bot.model import OutgoingMessage, Role
from bot.services.anonymous_replies import AUTHOR
from bot.services.prompts import SUGGEST_FORM
from tests.support.harness import ALEX, PRIYA, SAM, Harness
from tests.test_anonymous_replies import open_form, post_prompt, submit
from tests.test_feedback import PEOPLE, answer, answer_values, open_round

HOSTILE = "[Reset your NHS password](https://evil.example/login) **URGENT**"


def rendered(message: OutgoingMessage | None) -> str:
    assert message is not None
    return message_html(message, "m1")


def as_written(html: str) -> None:
    assert "<a " not in html and "<strong>URGENT" not in html, html
    assert "[Reset your NHS password](https://evil.example/login) **URGENT**" in html


async def test_an_anonymous_reply_is_posted_as_written_and_archived_unchanged(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    await submit(bot, await open_form(bot, prompt), HOSTILE)
    await bot.tick(timedelta(minutes=3))
    [reply] = [s for s in bot.adapter.of_kind("reply") if AUTHOR in s.text]
    as_written(rendered(reply.message))
    [(kept,)] = await bot.core.db.read(
        lambda conn: conn.execute("select text from archive_messages where anonymous").fetchall()
    )
    assert kept == HOSTILE


async def test_written_feedback_answers_are_shown_as_written(bot: Harness) -> None:
    round_id = await open_round(bot, " min 3")
    for n, person in enumerate(PEOPLE[:3]):
        await answer(bot, person, round_id, answer_values(n, impactful=HOSTILE))
    await bot.reply_text(f"feedback close {round_id}", PRIYA)
    [results] = [
        s for s in await bot.command(f"feedback results {round_id}", PRIYA) if s.kind == "respond"
    ]
    html = rendered(results.message)
    as_written(html)
    assert html.count("evil.example") == 3


async def test_prompt_suggestions_are_shown_as_written(bot: Harness) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    await bot.submit(SUGGEST_FORM, {"topic": "language", "text": HOSTILE}, SAM)
    [listing] = [s for s in await bot.command("prompt suggestions", PRIYA) if s.kind == "respond"]
    as_written(rendered(listing.message))


async def test_a_facilitators_own_prompt_is_posted_as_written(bot: Harness) -> None:
    values = {
        "topic": "language",
        "title": "Front desk",
        "text": HOSTILE,
        "follow_ups": HOSTILE,
        "facilitator_note": HOSTILE,
        "content_note": HOSTILE,
    }
    await bot.submit("prompt-add", values, user=ALEX)
    sent = await bot.command("prompt language-front-desk", ALEX)
    [post] = [s for s in sent if s.kind == "post"]
    html = rendered(post.message)
    as_written(html)
    assert html.count("evil.example") == 3  # the question, a follow-up, the content note
    [note] = [s for s in sent if s.kind == "respond"]
    as_written(rendered(note.message))
