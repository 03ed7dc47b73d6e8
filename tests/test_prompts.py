"""Posting prompts through the core, with the fake platform."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.model import Buttons, ChannelKind, ChannelRef, Context, Role
from bot.ports import FormInvalid
from bot.services.prompts import prompt_form_errors
from prompts import load_library
from tests.support.harness import ALEX, GENERAL, NORTH, PRIYA, SAM, Harness

LIBRARY = load_library()


async def facilitator(bot: Harness) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")


async def test_anyone_can_list_the_topics(bot: Harness) -> None:
    text = await bot.reply_text("prompts", SAM)
    for topic in LIBRARY.topics:
        assert f"`{topic.slug}`: {topic.title} ({len(topic.prompts)} prompts)" in text


async def test_staff_cannot_post_prompts(bot: Harness) -> None:
    assert "is for facilitators and admins" in await bot.reply_text("prompt", SAM)
    assert bot.adapter.of_kind("post") == []


async def test_prompt_any_posts_the_next_in_rotation_as_schedules_read_it(bot: Harness) -> None:
    await facilitator(bot)
    sent = await bot.command("prompt any", PRIYA, channel=NORTH)
    [post] = [s for s in sent if s.kind == "post"]
    [record] = await bot.core.prompts._repo.history(NORTH)  # type: ignore[attr-defined]
    assert record.message == post.ref and LIBRARY.prompt(record.prompt_id) is not None


async def test_a_facilitator_posts_a_prompt_as_a_new_thread_with_its_buttons(bot: Harness) -> None:
    await facilitator(bot)
    sent = await bot.command("prompt language", PRIYA, channel=NORTH)
    [post] = [s for s in sent if s.kind == "post"]
    [note] = [s for s in sent if s.kind == "respond"]
    first = LIBRARY.topic("language").prompts[0]  # type: ignore[union-attr]
    assert post.channel == NORTH and post.ref is not None and post.ref.thread_root is None
    assert first.title in post.text and first.text in post.text
    assert all(f"• {q}" in post.text for q in first.follow_ups)
    assert "Reply in this thread" in post.text
    buttons = [
        b.label
        for block in post.message.blocks
        if isinstance(block, Buttons)
        for b in block.buttons
    ]  # type: ignore[union-attr]
    # Nothing offered that does not exist yet.
    assert buttons == ["Reply anonymously", "Suggest a prompt"]
    assert first.facilitator_note in note.text and note.user == PRIYA
    assert first.facilitator_note not in post.text  # the note is for the facilitator only
    [record] = await bot.core.prompts._repo.history(NORTH)  # type: ignore[attr-defined]
    assert (record.prompt_id, record.message, record.posted_by) == (
        first.id,
        post.ref,
        PRIYA.identity,
    )


async def test_a_prompt_can_be_asked_for_by_id_and_shows_its_content_note(bot: Harness) -> None:
    noted = next(p for p in LIBRARY.prompts if p.content_note)
    sent = await bot.command(f"prompt {noted.id}", ALEX)
    [post] = [s for s in sent if s.kind == "post"]
    contexts = [b.text for b in post.message.blocks if isinstance(b, Context)]  # type: ignore[union-attr]
    assert f"Content note: {noted.content_note}" in contexts
    assert noted.title in post.text


async def test_unknown_topics_are_named_and_nothing_is_posted(bot: Harness) -> None:
    text = await bot.reply_text("prompt racism", ALEX)
    assert text.startswith("There's no topic or prompt `racism`. The topics are: ")
    assert "`equality-act`" in text
    assert bot.adapter.of_kind("post") == []


async def test_prompts_are_for_channels_not_direct_messages(bot: Harness) -> None:
    dm = ChannelRef("test", "D1", "T1", kind=ChannelKind.DIRECT)
    text = await bot.reply_text("prompt", ALEX, channel=dm)
    assert "they go in channels" in text
    assert bot.adapter.of_kind("post") == []


async def test_rotation_never_repeats_in_a_channel_until_all_are_seen(bot: Harness) -> None:
    total = len(LIBRARY.prompts)
    titles = []
    for _ in range(total + 1):
        [post] = [s for s in await bot.command("prompt", ALEX) if s.kind == "post"]
        titles.append(post.text.splitlines()[0])
    assert len(set(titles[:total])) == total
    assert titles[total] == titles[0]  # a new round starts where the first did
    # another channel has its own rotation
    [north] = [s for s in await bot.command("prompt", ALEX, channel=NORTH) if s.kind == "post"]
    assert north.text.splitlines()[0] == titles[0]
    # and the first prompts in a channel came from every topic before any topic repeated
    history = await bot.core.prompts._repo.history(GENERAL)  # type: ignore[attr-defined]
    first_round = [post.topic for post in history[: len(LIBRARY.topics)]]
    assert sorted(first_round) == sorted(t.slug for t in LIBRARY.topics)


async def test_rotation_within_one_topic(bot: Harness) -> None:
    topic = LIBRARY.topic("privilege")
    assert topic is not None
    posted = []
    for _ in range(len(topic.prompts) + 1):
        [post] = [s for s in await bot.command("prompt privilege", ALEX) if s.kind == "post"]
        posted.append(post.text.splitlines()[0])
    assert posted[: len(topic.prompts)] == [f"**{p.title}**" for p in topic.prompts]
    assert posted[-1] == posted[0]


async def test_preview_is_private_and_includes_the_facilitator_note(bot: Harness) -> None:
    prompt = LIBRARY.prompts[3]
    text = await bot.reply_text(f"prompt preview {prompt.id}", ALEX)
    assert "only you can see this" in text
    assert prompt.text in text and prompt.facilitator_note in text
    assert f"`/cop prompt {prompt.id}`" in text
    assert bot.adapter.of_kind("post") == []
    assert "There's no prompt `nope`" in await bot.reply_text("prompt preview nope", ALEX)


async def test_a_facilitator_adds_a_prompt_through_the_form_and_it_can_be_posted(
    bot: Harness,
) -> None:
    [form] = await bot.command("prompt add", ALEX)
    assert form.kind == "form" and form.form is not None
    assert [f.id for f in form.form.fields] == [
        "topic",
        "title",
        "text",
        "follow_ups",
        "facilitator_note",
        "content_note",
    ]
    values = {
        "topic": "language",
        "title": "Words at the front desk",
        "text": "What words greet people when they first arrive at your service?",
        "follow_ups": "Who chose them?\nWhat would you change?",
        "facilitator_note": "Invite examples rather than judgements.",
        "content_note": "",
    }
    [answer] = await bot.submit("prompt-add", values, user=ALEX)
    assert (
        "Added **Words at the front desk** to language as `language-words-at-the-front-desk`"
        in answer.text
    )
    sent = await bot.command("prompt language-words-at-the-front-desk", ALEX)
    [post] = [s for s in sent if s.kind == "post"]
    assert "• What would you change?" in post.text
    assert "language-words-at-the-front-desk" in (
        await bot.reply_text("prompt preview language-words-at-the-front-desk", ALEX)
    )


async def test_a_bad_prompt_form_stays_open_with_each_problem_beside_its_field(
    bot: Harness,
) -> None:
    values = {
        "topic": "language",
        "title": "A title",
        "text": "My carefully written question?",
        "follow_ups": "\n".join(["One?", "Two?", "Three?", "Four?"]),
        "facilitator_note": "Be kind.",
    }
    with pytest.raises(FormInvalid) as refused:
        await bot.submit("prompt-add", values, user=ALEX)
    assert "Give 1 to 3 follow-up questions (found 4)" in refused.value.errors["follow_ups"]
    assert bot.adapter.sent == []  # nothing dumped into the chat
    assert await bot.core.prompts.current() == LIBRARY
    assert await _pending(bot) == 0  # and nothing kept to handle later


async def test_an_unknown_topic_is_named_beside_the_topic_field(bot: Harness) -> None:
    with pytest.raises(FormInvalid) as refused:
        await bot.submit("prompt-add", {"topic": "nope", "title": "T"}, user=ALEX)
    assert refused.value.errors["topic"] == "Pick one of the topics."


async def test_the_prompt_form_is_checked_field_by_field_against_the_library_bar() -> None:
    values = {
        "topic": "language",
        "title": "Hm",
        "text": "Why?",
        "follow_ups": "\n".join(["One?", "Two?", "Three?", "Four?"]),
        "facilitator_note": "Be kind.",
        "content_note": "",
    }
    errors = prompt_form_errors(values, LIBRARY)
    # Every problem, each beside its field, worded for people (no internal names).
    assert errors == {
        "title": "Give it at least 5 characters (it has 2).",
        "text": ("Give the question at least 30 characters, enough to reflect on (it has 4)."),
        "follow_ups": (
            "Give 1 to 3 follow-up questions (found 4). "
            "Give each at least 10 characters (4 of them are shorter)."
        ),
        "facilitator_note": "Give it at least 25 characters (it has 8).",
    }
    assert prompt_form_errors({**values, "topic": "nope"}, LIBRARY)["topic"] == (
        "Pick one of the topics."
    )
    good = {
        **values,
        "title": "Words at the front desk",
        "text": "What words greet people when they first arrive at your service?",
        "follow_ups": "Who chose them?",
        "facilitator_note": "Invite examples rather than judgements.",
    }
    assert prompt_form_errors(good, LIBRARY) == {}


async def test_staff_suggest_a_prompt_from_the_button_and_facilitators_read_it(
    bot: Harness,
) -> None:
    [post] = [s for s in await bot.command("prompt language", ALEX) if s.kind == "post"]
    [form] = await bot.press("prompt.suggest", "language", user=SAM, message=post.ref)
    assert form.form is not None and form.form.id == "prompt-suggest"
    assert "will see your name" in form.form.intro
    # The form says thank you itself, where the person is (Form.thanks): no message in a
    # thread they may not have open.
    assert "passed your suggestion on" in form.form.thanks
    assert (
        await bot.submit("prompt-suggest", {"topic": "language", "text": "What is 'professional'?"})
        == []
    )
    with pytest.raises(FormInvalid):
        await bot.submit("prompt-suggest", {"topic": "language", "text": "  "})
    listing = await bot.reply_text("prompt suggestions", ALEX)
    assert "What is 'professional'? (language; from Sam, " in listing  # by name
    assert "is for facilitators" in await bot.reply_text("prompt suggestions", SAM)


async def _pending(bot: Harness) -> int:
    repo = bot.core.inbox._repo  # type: ignore[attr-defined]
    return len(await repo.pending(100, bot.clock.now() + timedelta(days=1)))


async def test_a_prompt_whose_author_was_erased_is_still_an_added_one_an_admin_can_remove(
    bot: Harness,
) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    values = {
        "topic": "language",
        "title": "Words at the front desk",
        "text": "What words greet people when they first arrive at your service?",
        "follow_ups": "Who chose them?",
        "facilitator_note": "Invite examples rather than judgements.",
    }
    await bot.submit("prompt-add", values, user=PRIYA)
    await bot.core.erasure.erase(PRIYA.identity)
    added = "language-words-at-the-front-desk"
    # Not passed off as the library's own, nor as added by a blank.
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by=ALEX.identity)
    assert await bot.reply_text(f"prompt remove {added}", SAM) == (
        f"`{added}` was added by someone else; you can remove the prompts you added, and "
        "admins can remove any."
    )
    assert await bot.reply_text(f"prompt remove {added}", ALEX) == (
        f"Removed **Words at the front desk** (`{added}`) from the library."
    )
    assert (await bot.core.prompts.current()).prompt(added) is None
