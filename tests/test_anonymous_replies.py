"""Anonymous replies under a prompt on the fake platform: the button, the anonymous form,
the post after a random delay (kept across a restart, never twice), the archive row with
no author, facilitators removing a reply, admins switching them off, and bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import from_text
from bot.model import Form, FormSubmitted, MessageDeleted, MessageRef, Origin, Role, UserRef
from bot.ports import FormInvalid
from bot.services.anonymous_replies import (
    ALTERED,
    AUTHOR,
    EMPTY,
    EXPIRED,
    FORM_LIFETIME,
    NOT_HERE,
    NOT_REMOVABLE,
    OFF,
    POST_JOB,
    REMOVE,
    REPLY,
    REPLY_FORM,
    AnonymousRepliesFeature,
    encode_thread,
)
from bot.settings import ConfigError, Settings
from bot.signing import Signer
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM, Harness
from tests.test_anonymity import stored_bytes

WORDS = "I have felt unheard when raising this in team meetings"


async def post_prompt(bot: Harness) -> MessageRef:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    [post] = [s for s in await bot.command("prompt language", PRIYA) if s.kind == "post"]
    assert post.ref is not None
    return post.ref


async def open_form(bot: Harness, prompt: MessageRef, user: UserRef = SAM) -> Form:
    sent = await bot.press(REPLY, "", user, message=prompt)
    [form] = [s.form for s in sent if s.kind == "form"]
    assert form is not None
    return form


async def submit(bot: Harness, form: Form, text: str) -> None:
    """What an adapter does with an anonymous form: the person is gone before the event."""
    origin = Origin(UserRef("test", "ignored"), GENERAL).anonymised()
    await bot.deliver(
        FormSubmitted(
            bot.event_id(), origin, form.id, (("text", text),), bot.clock.now(), form.context
        )
    )


def due_times(bot: Harness) -> list[datetime]:
    found = bot.rows(f"select due_at from jobs where kind = '{POST_JOB}' and state = 'pending'")
    return [from_text(str(r[0])) for r in found]


def replies(bot: Harness) -> list[str]:
    return [s.text for s in bot.adapter.of_kind("reply")]


async def test_a_prompt_offers_an_anonymous_form_that_names_the_thread_not_the_person(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    form = await open_form(bot, prompt)
    assert form.id == REPLY_FORM and form.anonymous
    assert "nobody, admins included" in form.intro and "cannot hide" in form.intro
    assert "carries what you send, with your name" in form.intro
    assert "within 2 minutes" in (form.thanks or "")
    assert signer(bot).unsign(form.context) == encode_thread(prompt)
    assert SAM.id not in form.context and SAM.name not in form.context
    # Private: the press leaves no note of Sam in the people directory.
    assert await bot.core.roles.role_of(SAM.identity) is Role.STAFF
    assert not [r for r in bot.rows("select * from people") if SAM.id in str(r)]


async def test_the_form_says_the_reply_is_archived_as_it_is_even_for_someone_opted_out(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    form = await open_form(bot, prompt)
    assert "kept in the discussion archive, without your name" in form.intro
    assert "search" in form.intro and "exports" in form.intro
    assert "even if you have opted out" in form.intro
    # What it says is what happens: Sam opted out, and the channel keeps only prompt
    # threads, yet the reply is archived (it names nobody) and found by search.
    assert "won't keep what you write" in await bot.reply_text("optout", SAM)
    assert not bot.rows("select archive from channels where archive = 1")
    await submit(bot, form, WORDS)
    await bot.tick(timedelta(minutes=3))
    assert bot.rows("select text from archive_messages where anonymous = 1") == [(WORDS,)]
    assert "open the anonymous reply" in await bot.reply_text("search unheard", SAM)


async def test_a_reply_is_posted_once_after_its_random_delay_and_archived_with_no_author(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    await submit(bot, await open_form(bot, prompt), f"  {WORDS}  ")
    assert replies(bot) == []  # not the instant Submit was pressed
    [due] = due_times(bot)
    wait = due - bot.clock.now()
    assert timedelta(0) <= wait <= timedelta(seconds=120)
    [payload] = bot.rows(f"select payload, owner from jobs where kind = '{POST_JOB}'")
    assert "sam" not in str(payload).lower() and payload[1] == ""
    # While it waits, its row says nothing of when it was sent: created at its due time,
    # with an id drawn at random rather than the next one counting up.
    [(ident, created, due_text)] = bot.rows(
        f"select id, created_at, due_at from jobs where kind = '{POST_JOB}'"
    )
    assert created == due_text and int(str(ident)) >= 2**61

    if wait > timedelta(seconds=1):
        await bot.tick(wait - timedelta(seconds=1))
        assert replies(bot) == []
    await bot.tick(due - bot.clock.now())
    [sent] = bot.adapter.of_kind("reply")
    assert sent.thread == prompt.as_thread and AUTHOR in sent.text and WORDS in sent.text
    await bot.tick(timedelta(minutes=30))
    assert len(replies(bot)) == 1  # never twice

    [kept] = bot.rows(
        "select author_id, author_name, anonymous, text, thread_id, prompt_id"
        " from archive_messages where anonymous = 1",
    )
    assert kept[:5] == (None, AUTHOR, 1, WORDS, prompt.id) and kept[5]
    # The job is gone whole: its id and finishing time would line the post up with the
    # submission (ids count up in the order people press Submit).
    assert bot.rows(f"select * from jobs where kind = '{POST_JOB}'") == []
    await bot.core.db.checkpoint()
    data = stored_bytes(bot.core.db.path)
    assert b"test:sam" not in data


async def test_no_delay_posts_at_once(db_path: Path) -> None:
    settings = Settings(db_path=db_path, admins=frozenset({ALEX.identity}))
    bot = Harness.open(db_path, Settings(**{**settings.__dict__, "anonymous_delay": timedelta(0)}))
    try:
        prompt = await post_prompt(bot)
        form = await open_form(bot, prompt)
        assert "in a moment" in form.thanks
        await submit(bot, form, WORDS)
        await bot.tick()
        assert len(replies(bot)) == 1
    finally:
        bot.close()


async def test_a_restart_loses_no_queued_reply(db_path: Path) -> None:
    bot = Harness.open(db_path)
    prompt = await post_prompt(bot)
    for n in range(3):
        await submit(bot, await open_form(bot, prompt), f"{WORDS} {n}")
    bot.close()

    again = Harness.open(db_path)  # a new process, with nothing in memory
    try:
        await again.tick(timedelta(hours=1))  # late after the stop: posted, not missed
        assert sorted(t.split("\n")[1] for t in replies(again)) == [
            f"{WORDS} {n}" for n in range(3)
        ]
        await again.tick(timedelta(hours=1))
        assert len(replies(again)) == 3
    finally:
        again.close()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", EMPTY),
        ("   \n ", EMPTY),
        ("x" * 3001, "That's 3,001 characters; please keep it to 3,000"),
    ],
)
async def test_bad_replies_keep_the_form_open_and_store_nothing(
    bot: Harness, text: str, problem: str
) -> None:
    prompt = await post_prompt(bot)
    form = await open_form(bot, prompt)
    with pytest.raises(FormInvalid) as refused:
        await submit(bot, form, text)
    assert problem in refused.value.errors["text"]
    assert due_times(bot) == []


def signer(bot: Harness) -> Signer:
    return bot.core.signing.signer("anonymous-reply")


@pytest.mark.parametrize("context", ["not json", '["test","T1","C-general","p999"]', "[1]"])
async def test_a_signed_form_for_no_known_prompt_is_refused(bot: Harness, context: str) -> None:
    await post_prompt(bot)
    form = Form(REPLY_FORM, "x", (), context=signer(bot).sign(context), anonymous=True)
    with pytest.raises(FormInvalid) as refused:
        await submit(bot, form, WORDS)
    assert refused.value.errors == {"text": NOT_HERE}
    assert due_times(bot) == []


async def test_an_unsigned_or_altered_thread_is_refused_and_nothing_is_queued(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    other = MessageRef(GENERAL, "p-other")
    genuine = (await open_form(bot, prompt)).context
    value, issued, signature = genuine.split(".")
    forged = [
        "",
        encode_thread(prompt),  # the right thread, but not signed
        signer(bot).sign(encode_thread(other))[: -len(signature)] + signature,
        f"{value}.{issued}.{signature[::-1]}",
        f"{value}.{signature}",  # its time of issue left out
        bot.core.signing.signer("another purpose").sign(encode_thread(prompt)),
    ]
    for context in forged:
        form = Form(REPLY_FORM, "x", (), context=context, anonymous=True)
        with pytest.raises(FormInvalid) as refused:
            await submit(bot, form, WORDS)
        assert refused.value.errors == {"text": ALTERED}, context
    assert due_times(bot) == []
    await bot.tick(timedelta(minutes=5))
    assert replies(bot) == []


async def test_a_form_open_too_long_is_refused_kindly_and_nothing_is_posted(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    over_lunch, forgotten = await open_form(bot, prompt), await open_form(bot, prompt)
    bot.clock.advance(FORM_LIFETIME - timedelta(minutes=1))
    await submit(bot, over_lunch, "Sent after lunch")
    assert len(due_times(bot)) == 1
    # The same context, kept and sent again past its lifetime: refused, nothing queued.
    bot.clock.advance(timedelta(minutes=2))
    for form in (forgotten, over_lunch):
        with pytest.raises(FormInvalid) as refused:
            await submit(bot, form, WORDS)
        assert refused.value.errors == {"text": EXPIRED}
    await bot.tick(timedelta(minutes=5))
    assert [r for r in replies(bot) if WORDS in r] == []
    assert len([r for r in replies(bot) if "Sent after lunch" in r]) == 1
    # A fresh press works again.
    await submit(bot, await open_form(bot, prompt), WORDS)
    assert len(due_times(bot)) == 1


async def test_only_facilitators_remove_an_anonymous_reply_and_its_archive_row_goes(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    await submit(bot, await open_form(bot, prompt), WORDS)
    await bot.tick(timedelta(minutes=3))
    [posted] = bot.adapter.of_kind("reply")
    assert posted.ref is not None

    refused = await bot.press(REMOVE, "", SAM, message=posted.ref)
    assert [s.kind for s in refused] == ["respond"] and "facilitator" in refused[0].text
    assert len(bot.rows("select 1 from archive_messages where anonymous = 1")) == 1

    not_anonymous = await bot.press(REMOVE, "", PRIYA, message=prompt)
    assert [s.text for s in not_anonymous] == [NOT_REMOVABLE]

    done = await bot.press(REMOVE, "", PRIYA, message=posted.ref)
    assert [s.kind for s in done] == ["delete", "respond"] and done[0].ref == posted.ref
    assert bot.rows("select 1 from archive_messages where anonymous = 1") == []


async def test_an_anonymous_reply_deleted_on_the_platform_leaves_the_archive(
    bot: Harness,
) -> None:
    prompt = await post_prompt(bot)
    await submit(bot, await open_form(bot, prompt), WORDS)
    await bot.tick(timedelta(minutes=3))
    [posted] = bot.adapter.of_kind("reply")
    assert posted.ref is not None
    await bot.deliver(MessageDeleted("ev-admin-deleted", posted.ref, bot.clock.now()))
    assert bot.rows("select 1 from archive_messages where anonymous = 1") == []


async def test_an_admin_switches_anonymous_replies_off_in_a_channel(bot: Harness) -> None:
    prompt = await post_prompt(bot)
    queued = await open_form(bot, prompt)
    assert "admin" in await bot.reply_text("anonymous off", PRIYA)  # facilitators can't
    assert (await bot.reply_text("anonymous off", ALEX)).startswith("Done")

    [answer] = await bot.press(REPLY, "", SAM, message=prompt)
    assert answer.kind == "respond" and answer.text == OFF
    with pytest.raises(FormInvalid) as refused:  # a form opened before it was switched off
        await submit(bot, queued, WORDS)
    assert refused.value.errors == {"text": OFF}

    assert (await bot.reply_text("anonymous on", ALEX)).startswith("Done")
    await submit(bot, await open_form(bot, prompt), WORDS)
    await bot.reply_text("anonymous off", ALEX)  # off again before it is posted: dropped
    await bot.tick(timedelta(minutes=3))
    assert replies(bot) == []
    assert bot.rows(f"select * from jobs where kind = '{POST_JOB}'") == []


@pytest.mark.parametrize(("value", "seconds"), [("", 120), ("0", 0), (" 30 ", 30)])
def test_the_delay_setting(value: str, seconds: int) -> None:
    settings = Settings.from_env({"COPBOT_ANONYMOUS_DELAY": value})
    assert settings.anonymous_delay == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["-1", "two", "3601", "²"])
def test_a_bad_delay_setting_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match="COPBOT_ANONYMOUS_DELAY"):
        Settings.from_env({"COPBOT_ANONYMOUS_DELAY": value})


def test_the_form_context_is_the_thread_only() -> None:
    assert json.loads(encode_thread(MessageRef(GENERAL, "p1"))) == ["test", "T1", "C-general", "p1"]


async def test_a_reply_that_cannot_be_posted_leaves_nothing_behind(bot: Harness) -> None:
    prompt = await post_prompt(bot)
    await submit(bot, await open_form(bot, prompt), WORDS)
    bot.adapter.fail_next = 10  # the platform refuses every try
    for _ in range(6):
        await bot.tick(timedelta(minutes=15))
    assert replies(bot) == []
    # Failed for good: its words and its submission time go, as a posted reply's job does.
    assert bot.rows(f"select * from jobs where kind = '{POST_JOB}'") == []
    await bot.core.db.checkpoint()
    assert WORDS.encode() not in stored_bytes(bot.core.db.path)


async def test_a_press_refused_leaves_no_trace_of_who_pressed(bot: Harness) -> None:
    prompt = await post_prompt(bot)
    await bot.reply_text("anonymous off", ALEX)
    [answer] = await bot.press(REPLY, "", SAM, message=prompt)
    assert answer.text == OFF
    # The press named Sam in the inbox until it was handled: gone from the file and its log.
    assert SAM.identity.encode() not in stored_bytes(bot.core.db.path)


async def test_a_reply_refused_after_its_check_leaves_no_words_behind(bot: Harness) -> None:
    """Switched off between the form's check and its keeping: nothing is queued, and the
    inbox's copy of the words leaves the write-ahead log as a queued reply's does."""
    prompt = await post_prompt(bot)
    form = await open_form(bot, prompt)
    origin = Origin(UserRef("test", "ignored"), GENERAL).anonymised()
    event = FormSubmitted(
        bot.event_id(), origin, form.id, (("text", WORDS),), bot.clock.now(), form.context
    )
    assert await bot.core.inbox.accept(event)  # checked, and waiting in the inbox
    await bot.core.feature(AnonymousRepliesFeature)._repo.switch(GENERAL, on=False)
    await bot.core.inbox.drain()
    assert bot.rows(f"select * from jobs where kind = '{POST_JOB}'") == []
    assert WORDS.encode() not in stored_bytes(bot.core.db.path)
