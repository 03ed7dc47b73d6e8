"""Capture with consent, in step with edits and deletes; opting out; real erasure;
retention; search in chat; export links."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.archive_ports import HistoryUnreadable
from bot.markup import ESCAPED
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ChannelKind,
    ChannelRef,
    CommandReceived,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
    Role,
    UserRef,
)
from bot.ranking import HIT_END, HIT_START, SNIPPET_CHARACTERS
from bot.records import ArchivedMessage
from bot.search_query import parse_terms
from bot.settings import Settings
from storage.archive_reader import SqliteArchiveReader
from tests.support.harness import ALEX, GENERAL, NORTH, PRIYA, SAM, Harness
from tests.support.history import ListHistory

SECRET_WORD = "quizzaciously"  # unlike any other word here, so a byte scan can find it


async def prompt_thread(bot: Harness, channel: ChannelRef = NORTH) -> MessageRef:
    await bot.join(channel)
    sent = await bot.command("prompt language", ALEX, channel=channel)
    [post] = [s for s in sent if s.kind == "post"]
    assert post.ref is not None
    return post.ref


async def say(
    bot: Harness,
    text: str,
    root: MessageRef | None,
    user: UserRef = SAM,
    channel: ChannelRef = NORTH,
    ident: str | None = None,
) -> MessageRef:
    ident = ident or bot.event_id()
    ref = MessageRef(channel, ident, root.id if root else None)
    await bot.deliver(MessagePosted(f"ev-{ident}", ref, user, text, bot.clock.now()))
    return ref


def archived(bot: Harness) -> list[dict]:
    from bot.archive_export import FIELDS

    return [
        dict(zip(FIELDS, row, strict=False))
        for row in SqliteArchiveReader(bot.core.db.path).rows(_all(), by_thread=False)
    ]


def _all():
    from bot.records import ArchiveFilter

    return ArchiveFilter()


def file_bytes(path: Path) -> bytes:
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_replies_in_prompt_threads_are_kept_with_their_prompt(bot: Harness) -> None:
    root = await prompt_thread(bot)
    await say(bot, "We ask people how they describe themselves.", root)
    await say(bot, "A top-level message, not in a prompt thread", None)
    other_root = await say(bot, "someone's own thread", None, PRIYA)
    await say(bot, "a reply in someone's own thread", other_root)
    [kept] = archived(bot)
    assert kept["text"] == "We ask people how they describe themselves."
    assert kept["thread_id"] == root.id
    assert kept["author_id"] == "test:sam" and kept["author_name"] == "Sam"
    assert kept["prompt_id"].startswith("language-") and kept["topic"] == "language"
    assert kept["region"] == "north" and kept["channel_name"] == "north"
    assert kept["created_at"] == "2026-11-25T09:00:00.000000Z"


async def test_bots_and_direct_messages_are_never_kept(bot: Harness) -> None:
    root = await prompt_thread(bot)
    ref = MessageRef(NORTH, "b1", root.id)
    await bot.deliver(
        MessagePosted(
            "ev-b1", ref, UserRef("test", "B0"), "a bot reply", bot.clock.now(), from_bot=True
        )
    )
    dm = ChannelRef("test", "D1", "T1", kind=ChannelKind.DIRECT)
    await say(bot, "a direct message", None, channel=dm)
    assert archived(bot) == []


async def test_a_retried_event_is_kept_once(bot: Harness) -> None:
    root = await prompt_thread(bot)
    await say(bot, "once only", root, ident="m1")
    await say(bot, "once only", root, ident="m1")  # same message, new delivery
    assert [r["text"] for r in archived(bot)] == ["once only"]


async def test_edits_replace_the_text_and_deletes_remove_it(bot: Harness) -> None:
    root = await prompt_thread(bot)
    first = await say(bot, "first draft", root)
    second = await say(bot, f"this has {SECRET_WORD} in it", root)
    await bot.deliver(
        MessageEdited("ev-edit", first, "second draft", bot.clock.now() + timedelta(minutes=1))
    )
    await bot.deliver(MessageDeleted("ev-del", second, bot.clock.now()))
    [kept] = archived(bot)
    assert kept["text"] == "second draft" and kept["edited_at"] == "2026-11-25T09:01:00.000000Z"
    assert await bot.core.archive.get(first) is not None
    assert (await bot.core.archive.get(first)).edit_count == 1  # type: ignore[union-attr]
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)
    assert b"first draft" not in file_bytes(bot.core.db.path)


async def test_an_older_edit_delivered_late_does_not_bring_back_what_was_taken_out(
    bot: Harness,
) -> None:
    root = await prompt_thread(bot)
    first = await say(bot, "first draft", root)
    now = bot.clock.now()
    # 10:05 an edit with something regretted; 10:06 it is taken out again. The platform
    # delivers the 10:06 one first, then retries the 10:05 one after an outage.
    newer = MessageEdited("edit-at-0906", first, "all fine now", now + timedelta(minutes=6))
    older = MessageEdited(
        "edit-at-0905", first, f"{SECRET_WORD} regretted", now + timedelta(minutes=5)
    )
    await bot.deliver(newer)
    await bot.deliver(older)
    [kept] = archived(bot)
    assert kept["text"] == "all fine now"
    assert kept["edited_at"] == "2026-11-25T09:06:00.000000Z"


async def test_the_same_edit_delivered_again_is_counted_once(bot: Harness) -> None:
    """A platform may deliver one edit twice under different event ids (a retry after an
    outage): it is one edit. Two different edits in the same moment are two."""
    root = await prompt_thread(bot)
    first = await say(bot, "first draft", root)
    at = bot.clock.now() + timedelta(minutes=1)
    await bot.deliver(MessageEdited("edit-a", first, "second draft", at))
    await bot.deliver(MessageEdited("edit-a-again", first, "second draft", at))
    kept = await bot.core.archive.get(first)
    assert kept is not None and (kept.text, kept.edit_count) == ("second draft", 1)
    await bot.deliver(MessageEdited("edit-b", first, "third draft", at))
    kept = await bot.core.archive.get(first)
    assert kept is not None and (kept.text, kept.edit_count) == ("third draft", 2)


async def test_an_early_edit_delivered_again_is_counted_once(bot: Harness) -> None:
    root = await prompt_thread(bot)
    posted = bot.clock.now()
    ref = MessageRef(NORTH, "m-early", root.id)
    at = posted + timedelta(minutes=1)
    for event_id in ("edit-early", "edit-early-again"):
        await bot.deliver(MessageEdited(event_id, ref, "all fine now", at, SAM, SAM, posted))
    kept = await bot.core.archive.get(ref)
    assert kept is not None and (kept.text, kept.edit_count) == ("all fine now", 1)


async def test_an_edit_delivered_before_its_message_is_kept_and_the_original_cannot_undo_it(
    bot: Harness,
) -> None:
    """A platform's retries after an outage may bring an edit before the message it changed:
    kept as edited, so that the late original (kept once) can't bring the old words back."""
    root = await prompt_thread(bot)
    posted = bot.clock.now()
    ref = MessageRef(NORTH, "m-early", root.id)
    edit = MessageEdited(
        "edit-early", ref, "all fine now", posted + timedelta(minutes=1), SAM, SAM, posted
    )
    await bot.deliver(edit)
    await bot.deliver(MessagePosted("ev-late", ref, SAM, f"{SECRET_WORD} regretted", posted))
    [kept] = archived(bot)
    assert (kept["text"], kept["author_id"], kept["message_id"]) == (
        "all fine now",
        SAM.identity,
        "m-early",
    )
    assert kept["created_at"] == "2026-11-25T09:00:00.000000Z"
    assert kept["edited_at"] == "2026-11-25T09:01:00.000000Z"
    assert kept["prompt_id"] and kept["thread_id"] == root.id
    await bot.core.db.checkpoint()
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)


async def test_an_early_edit_keeps_nothing_where_its_message_would_not_be_kept(
    bot: Harness,
) -> None:
    root = await prompt_thread(bot)
    now = bot.clock.now()
    outside = MessageRef(NORTH, "m-outside", None)  # not in a prompt's thread
    await bot.deliver(MessageEdited("early-1", outside, "no thread", now, SAM, SAM, now))
    deleted = MessageRef(NORTH, "m-deleted", root.id)
    await bot.deliver(MessageDeleted("early-d2", deleted, now))
    await bot.deliver(MessageEdited("early-2", deleted, "deleted first", now, SAM, SAM, now))
    await bot.command("optout", PRIYA, channel=NORTH)
    opted = MessageRef(NORTH, "m-opted", root.id)
    await bot.deliver(MessageEdited("early-3", opted, "opted out", now, PRIYA, PRIYA, now))
    await bot.deliver(MessageEdited("early-4", MessageRef(NORTH, "m-old", root.id), "unknown", now))
    assert [(m["message_id"], m["text"]) for m in archived(bot)] == []


async def test_a_mistyped_command_is_kept_though_its_hint_cannot_be_sent(bot: Harness) -> None:
    """The hint that a message looks like a command is a courtesy: the platform failing to
    take it must not keep the message out of the archive, or send the hint again on retry."""
    root = await prompt_thread(bot)
    bot.adapter.fail_responses = 1
    await say(bot, f"/cops search {SECRET_WORD}", root)
    assert [m["text"] for m in archived(bot)] == [f"/cops search {SECRET_WORD}"]
    assert bot.rows("select count(*) from inbox where state != 'done'") == [(0,)]


async def test_opting_out_erases_for_real_and_stops_capture(bot: Harness) -> None:
    root = await prompt_thread(bot)
    await say(bot, f"I said {SECRET_WORD} once", root)
    await say(bot, "Priya's reply stays", root, PRIYA)
    text = await bot.reply_text("optout", SAM)
    assert "I've erased the 1 message of yours" in text
    await say(bot, "written after opting out", root)
    assert [r["author_id"] for r in archived(bot)] == ["test:priya"]
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)
    assert await bot.core.archive.search(parse_terms(SECRET_WORD), _all(), 5) == []
    assert "already opted out" in await bot.reply_text("optout", SAM)
    assert "kept again" in await bot.reply_text("optin", SAM)
    await say(bot, "written after opting in", root)
    assert "written after opting in" in [r["text"] for r in archived(bot)]


async def test_nothing_written_before_opting_in_again_comes_back(bot: Harness) -> None:
    """Opting in keeps what someone writes from then on: not an erased message they edit
    later, nor one written while opted out, edited or delivered late after they opt in."""
    root = await prompt_thread(bot)
    start = bot.clock.now()
    erased = await say(bot, f"{SECRET_WORD} before opting out", root)
    await bot.command("optout", SAM)
    bot.clock.advance(timedelta(minutes=1))
    meanwhile = MessageRef(NORTH, "m-meanwhile", root.id)
    written = bot.clock.now()
    await bot.deliver(MessageEdited("ed-0", meanwhile, "draft", written, SAM, SAM, written))
    bot.clock.advance(timedelta(minutes=1))
    late = MessageRef(NORTH, "m-late", root.id)  # written now; delivered after the opt-in
    late_at = bot.clock.now()
    bot.clock.advance(timedelta(minutes=1))
    assert "kept again" in await bot.reply_text("optin", SAM)
    bot.clock.advance(timedelta(minutes=1))
    now = bot.clock.now()
    await bot.deliver(MessageEdited("ed-1", erased, f"{SECRET_WORD} fixed", now, SAM, SAM, start))
    await bot.deliver(MessageEdited("ed-2", meanwhile, "edited", now, SAM, SAM, written))
    await bot.deliver(MessagePosted("ev-late", late, SAM, "written while opted out", late_at))
    after = await say(bot, "written after opting in", root)
    await bot.deliver(MessageEdited("ed-3", after, "and edited", now, SAM, SAM, now))
    early = MessageRef(NORTH, "m-early", root.id)
    await bot.deliver(MessageEdited("ed-4", early, "edit came first", now, SAM, SAM, now))
    assert sorted(r["text"] for r in archived(bot)) == ["and edited", "edit came first"]
    await bot.core.db.checkpoint()
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)
    assert "I've erased the 2 messages" in await bot.reply_text("optout", SAM)
    assert "already opted out" in await bot.reply_text("optout", SAM)
    await say(bot, "written after opting out again", root)
    assert archived(bot) == []


async def test_an_admin_opts_a_channel_in_with_a_notice_and_out_again(bot: Harness) -> None:
    await bot.join(GENERAL)
    assert "is for admins" in await bot.reply_text("archive on", PRIYA)
    sent = await bot.command("archive on", ALEX)
    [notice] = [s for s in sent if s.kind == "post"]
    assert notice.channel == GENERAL and "`/cop optout`" in notice.text
    await say(bot, "a top-level message", None, channel=GENERAL)
    assert "every message in this channel" in await bot.reply_text("archive", SAM, channel=GENERAL)
    await bot.command("archive off", ALEX)
    await say(bot, "after it was turned off", None, channel=GENERAL)
    assert [r["text"] for r in archived(bot)] == ["a top-level message"]
    await bot.join(GENERAL)  # rejoining does not turn it back on
    await say(bot, "after rejoining", None, channel=GENERAL)
    assert len(archived(bot)) == 1


async def test_opting_in_a_channel_copbot_is_not_in_says_how_to_add_it(bot: Harness) -> None:
    assert await bot.reply_text("archive on", ALEX, channel=NORTH) == (
        "I'm not in this channel, so I can't keep its messages. Add me to it first "
        "(in Slack: `/invite @copbot`; in Teams: add copbot to the team), then try again."
    )
    assert await bot.reply_text("archive off", ALEX, channel=NORTH) == (
        "I'm not in this channel, so I'm not keeping any of its messages now."
    )
    assert "only the replies in threads" in await bot.reply_text("archive", SAM, channel=NORTH)


async def test_archive_off_in_a_channel_copbot_was_removed_from_holds_when_it_is_back(
    bot: Harness,
) -> None:
    """Slack's slash commands work in a channel copbot has left: switching keeping off
    there must hold, or copbot would keep every message again once it is added back."""
    await bot.join(NORTH)
    await bot.reply_text("archive on", ALEX, channel=NORTH)
    await bot.deliver(BotRemovedFromChannel("left-north", NORTH, bot.clock.now()))
    # Added back while it is kept, copbot says so: people who joined meanwhile never heard.
    bot.adapter.sent.clear()
    await bot.deliver(BotAddedToChannel("back-north", NORTH, bot.clock.now()))
    [greeting] = bot.adapter.of_kind("post")
    assert "I keep every message in this channel in the community's archive" in greeting.text
    await bot.deliver(BotRemovedFromChannel("left-north-2", NORTH, bot.clock.now()))
    status = await bot.reply_text("archive", SAM, channel=NORTH)
    assert "I keep every message" not in status
    assert status.startswith("I'm not in this channel now, so I'm keeping none of its messages")
    said = await bot.reply_text("archive off", ALEX, channel=NORTH)
    assert said.startswith("Done: #north is no longer kept in the archive")
    await bot.deliver(BotAddedToChannel("back-north-2", NORTH, bot.clock.now()))
    await say(bot, "a word in the channel itself", None, channel=NORTH)
    assert archived(bot) == []


async def test_prompts_tell_people_replies_are_kept(bot: Harness) -> None:
    await bot.join(NORTH)
    [post] = [s for s in await bot.command("prompt", ALEX, channel=NORTH) if s.kind == "post"]
    assert (
        "Replies here are kept in the community archive (`/cop optout` to leave yours out)."
        in post.text
    )


async def test_retention_purges_old_messages_daily(db_path: Path) -> None:
    h = Harness.open(
        db_path, Settings(db_path=db_path, admins=frozenset({ALEX.identity}), retention_days=30)
    )
    try:
        for step in h.core.registry.startup:
            await step()
        for step in h.core.registry.startup:  # a restart doesn't queue a second purge
            await step()
        [job] = await h.core.scheduler.recurrences("archive.retention")
        root = await prompt_thread(h)
        await say(h, f"old {SECRET_WORD}", root)
        h.clock.advance(timedelta(days=31))
        await say(h, "recent", root)
        h.clock.set(datetime(2026, 12, 27, 3, 30, tzinfo=UTC))
        await h.tick()
        assert [r["text"] for r in archived(h)] == ["recent"]
        assert SECRET_WORD.encode() not in file_bytes(db_path)
        assert job.description == "erase archived messages older than 30 days"
    finally:
        h.close()


async def test_search_in_chat_is_private_ranked_and_linked(bot: Harness) -> None:
    root = await prompt_thread(bot)
    await say(bot, "Bias shows up in job matching", root)
    await say(bot, "bias, bias, bias: first impressions and **bias**", root, PRIYA)
    await say(bot, "nothing relevant", root)
    sent = await bot.command("search bias", SAM)
    [answer] = sent
    assert answer.kind == "respond" and answer.user == SAM
    lines = answer.text.splitlines()
    assert lines[0] == "**Top 2 from the archive**"
    assert lines[1].startswith(
        "**#north** · Priya · Wed 25 Nov 2026 · [open Priya's message](https://chat.example/C-north/"
    )
    assert "[open Sam's message](" in lines[3]  # each link named for its message
    assert "\\*\\*" in lines[2]  # what people wrote is escaped, never formatting
    assert "**bias**" in lines[2]  # the match is highlighted
    assert "Only you can see these results." in answer.text
    nothing = await bot.reply_text('search "unbalanced', SAM)
    assert nothing.startswith("Nothing in the archive matches")
    assert "Give me a word or two" in await bot.reply_text("search ***", SAM)


@pytest.mark.parametrize("query", ["bias", "bia*"])  # ranked by SQLite, and here
async def test_a_huge_message_shows_as_a_short_snippet(bot: Harness, query: str) -> None:
    root = await prompt_thread(bot)
    await say(bot, "bias " + "!" * 40_000 + " end", root)
    await say(bot, "x" * 40_000 + " bias " + "y" * 20_000, root, PRIYA)
    await say(bot, "a " * 20_000 + "bias" + " b" * 20_000, root, ALEX)
    [answer] = await bot.command(f"search {query}", SAM)
    assert answer.text.count("**bias") == 3  # every match is shown
    assert len(answer.text) < 2_000
    hits = await bot.core.archive.search(parse_terms(query), _all(), 5)
    for hit in hits:
        shown = hit.snippet.replace(HIT_START, "").replace(HIT_END, "")
        assert len(shown) <= SNIPPET_CHARACTERS + 2  # and its "…" either side
        assert hit.snippet.count(HIT_START) == hit.snippet.count(HIT_END) >= 1


async def test_search_results_keep_right_to_left_words_in_their_place(bot: Harness) -> None:
    """An override in a name or a message runs on into nothing copbot says after it."""
    root = await prompt_thread(bot)
    spoofer = UserRef("test", "lee", "Lee\u202e")
    await say(bot, "about bias \u202e reversed", root, spoofer)
    [answer] = await bot.command("search bias", SAM)
    header, snippet = answer.text.splitlines()[1:3]
    assert (
        "· \u2068Lee\u202e\u2069 ·" in header and "open \u2068Lee\u202e\u2069's message" in header
    )
    assert snippet.startswith("\u2068") and snippet.endswith("\u2069")


async def test_a_search_longer_than_copbot_reads_is_refused_in_chat(bot: Harness) -> None:
    root = await prompt_thread(bot)
    await say(bot, "Bias shows up in job matching", root)
    many = " ".join(f"word{i}" for i in range(20))
    answer = await bot.reply_text(f"search {many}", SAM)
    assert answer.startswith("That search has 20 words and phrases; search for at most 16")
    phrase = " ".join(["bias"] * 17)
    assert "that one has 17" in await bot.reply_text(f'search "{phrase}"', SAM)
    # The same word pasted again and again is one word, and is searched.
    answer = await bot.reply_text("search " + "bias " * 500, SAM)
    assert answer.startswith("**The best match from the archive**")


async def test_a_prefix_search_in_chat_finds_every_word_it_starts(bot: Harness) -> None:
    """Through the server's own read connections, which read the index's vocabulary."""
    root = await prompt_thread(bot)
    await say(bot, "Recruitment fairs went well", root)
    await say(bot, "We recruit from the job centre", root, PRIYA)
    await say(bot, "Nothing about it", root)
    answer = await bot.reply_text("search recr*", SAM)
    assert answer.startswith("**Top 2 from the archive**")
    assert "**Recruitment**" in answer and "**recruit**" in answer
    assert (await bot.reply_text("search zzq*", SAM)).startswith("Nothing in the archive matches")


@pytest.mark.parametrize("typed", ["zzq*", '"no such phrase"', "it's_odd (or not)", "a\\b"])
async def test_a_search_that_finds_nothing_quotes_what_was_typed_as_it_was_typed(
    bot: Harness, typed: str
) -> None:
    # Read as every adapter reads the markup: each escape shows its character alone.
    answer = ESCAPED.sub(r"\1", await bot.reply_text(f"search {typed}", SAM))
    assert answer.startswith(f"Nothing in the archive matches '{typed}'. "), answer


async def test_export_links_work_once_and_expire(db_path: Path) -> None:
    h = Harness.open(
        db_path,
        Settings(
            db_path=db_path, admins=frozenset({ALEX.identity}), public_url="http://copbot.test"
        ),
    )
    try:
        root = await prompt_thread(h)
        await say(h, "kept for the export", root)
        assert "is for admins" in await h.reply_text("export", SAM)
        assert "isn't a format" in await h.reply_text("export pdf", ALEX)
        assert "direct message" in await h.reply_text("export jsonl", ALEX)
        [dm] = h.adapter.of_kind("direct")
        assert dm.user == ALEX and "works once" in dm.text
        # Asked in the direct chat itself, the link is the answer: no "sent you" beside it.
        asked_there = await h.command("export jsonl", ALEX, channel=dm.channel)  # type: ignore[arg-type]
        assert [s.kind for s in asked_there] == ["direct"] and "works once" in asked_there[0].text
        url = dm.text.split("](", 1)[1].split(")", 1)[0]
        path = url.removeprefix("http://copbot.test")
        app = web.Application()
        app.router.add_routes(h.core.registry.routes)
        async with TestClient(TestServer(app)) as client:
            tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
            assert (await client.get(tampered)).status == 404
            assert (await client.post(tampered)).status == 404
            # opening the link (as a link checker would, too) uses nothing up
            for _ in range(2):
                page = await client.get(path)
                assert page.status == 200 and '<form method="post">' in await page.text()
            first = await client.post(path)
            assert first.status == 200
            assert "kept for the export" in await first.text()
            assert first.headers["Content-Disposition"].startswith(
                'attachment; filename="copbot-archive-'
            )
            again = await client.post(path)
            assert again.status == 410 and "used already" in await again.text()
            # The page can't know the platform: each way to ask again is named.
            assert "/cop export in Slack, or export in your chat" in await again.text()
            await h.reply_text("export html", ALEX)
            url2 = h.adapter.of_kind("direct")[-1].text.split("](", 1)[1].split(")", 1)[0]
            h.clock.advance(timedelta(minutes=16))
            late = await client.post(url2.removeprefix("http://copbot.test"))
            assert late.status == 410 and "expired" in await late.text()
            # Who asked for a link that expired unused is forgotten once it has.
            from bot.services.exports import ExportsFeature

            await h.reply_text("export html", ALEX)
            assert len(h.core.feature(ExportsFeature)._asked) == 1  # the new link's alone
    finally:
        h.close()


async def test_a_chat_export_tells_uk_time_and_opens_with_what_it_is(db_path: Path) -> None:
    h = Harness.open(
        db_path,
        Settings(
            db_path=db_path, admins=frozenset({ALEX.identity}), public_url="http://copbot.test"
        ),
    )
    try:
        h.clock.set(datetime(2026, 7, 1, 13, 50, tzinfo=UTC))  # 14:50 in London (BST)
        root = await prompt_thread(h)
        await say(h, "kept for the export", root)
        await h.reply_text("export markdown", ALEX)
        [dm] = h.adapter.of_kind("direct")
        assert "until Wed 1 Jul 2026, 15:05." in dm.text  # not "14:05 UTC"
        path = dm.text.split("](", 1)[1].split(")", 1)[0].removeprefix("http://copbot.test")
        app = web.Application()
        app.router.add_routes(h.core.registry.routes)
        async with TestClient(TestServer(app)) as client:
            text = await (await client.post(path)).text()
        opening = text.split("\n## ", 1)[0]
        assert "- **Community:** test workspace T1" in opening
        # An admin's export in chat holds what they can see: private channels they are in.
        assert (
            "- **Filters:** members-only channels: only those the person who asked is in" in opening
        )
        assert "- **Messages:** 1" in opening
        assert "- **Exported:** Wed 1 Jul 2026, 14:50 by Alex" in opening
        assert "colleagues' words" in opening
        assert "*Reflection prompt on Use of language*" in text  # the name, not the slug
        assert "> Follow-up questions:" in text
        assert "**Sam**, Wed 1 Jul 2026, 14:50" in text
    finally:
        h.close()


async def test_export_without_a_public_address_says_what_to_do(bot: Harness) -> None:
    text = await bot.reply_text("export", ALEX)
    assert "COPBOT_PUBLIC_URL isn't set" in text and "`copbot export`" in text


def test_the_search_query_plan_uses_the_index_and_no_temporary_sort(db_path: Path) -> None:
    from storage.database import Database, connect

    Database.open(db_path).close()
    conn = connect(db_path)
    plan = " | ".join(
        row[3]
        for row in conn.execute(
            "explain query plan select m.id from archive_fts f join archive_messages m"
            " on m.id = f.rowid where archive_fts match ? and f.rowid >= ? order by f.rank limit 5",
            ['text : ("bias")', 1],
        )
    )
    conn.close()
    assert "VIRTUAL TABLE INDEX" in plan and ":M" in plan
    assert "TEMP B-TREE" not in plan
    assert "SCAN m" not in plan


@pytest.mark.parametrize("role", [Role.STAFF])
async def test_anyone_can_ask_what_is_kept(bot: Harness, role: Role) -> None:
    await bot.join(NORTH)
    text = await bot.reply_text("archive", SAM, channel=NORTH)
    assert "only the replies in threads under my prompts" in text
    assert "`/cop optout` stops that" in text


async def test_a_message_deleted_before_it_arrives_is_never_kept(bot: Harness) -> None:
    root = await prompt_thread(bot)
    late = MessageRef(NORTH, "late-1", root.id)
    # Slack's retry of the message comes after the delete (or the first try failed)
    await bot.deliver(MessageDeleted("ev-del-first", late, bot.clock.now()))
    await bot.deliver(MessagePosted("ev-late", late, SAM, f"gone {SECRET_WORD}", bot.clock.now()))
    assert archived(bot) == []
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)


async def test_the_archive_takes_only_batches_its_own_preparer_made(bot: Harness) -> None:
    with pytest.raises(TypeError, match="RowBatch"):
        await bot.core.archive.capture_prepared([("slack", "T1", "C1")])
    assert archived(bot) == []


async def test_an_import_never_brings_back_a_message_deleted_here(bot: Harness) -> None:
    from bot.records import ArchivedMessage
    from bot.services.history import HistoryImport

    gone, kept = (
        ArchivedMessage(
            NORTH.platform, NORTH.workspace, NORTH.id, "north", mid, mid, "test:U9", "Sam",
            False, f"{word} {SECRET_WORD}" if mid == "old-1" else word,
            datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        )
        for mid, word in (("old-1", "deleted"), ("old-2", "kept"))
    )  # fmt: skip
    await bot.deliver(MessageDeleted("ev-del-old", gone.ref, bot.clock.now()))
    result = await HistoryImport(bot.core.archive).run(ListHistory([gone, kept]))
    assert (result.read, result.added) == (2, 1)
    assert await bot.core.archive.get(gone.ref) is None
    assert await bot.core.archive.get(kept.ref) is not None
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)


async def test_an_import_counts_what_it_leaves_out_before_an_opt_in_apart(bot: Harness) -> None:
    from bot.services.history import HistoryImport

    await bot.command("optout", SAM)
    await bot.command("optout", PRIYA)
    bot.clock.advance(timedelta(days=1))
    assert "kept again" in await bot.reply_text("optin", SAM)
    opted_in = bot.clock.now()

    def message(mid: str, author: UserRef, at: datetime) -> ArchivedMessage:
        return ArchivedMessage(
            NORTH.platform, NORTH.workspace, NORTH.id, "north", mid, mid, author.identity,
            author.display, False, f"words {mid}", at,
        )  # fmt: skip

    history = ListHistory(
        [
            message("before", SAM, opted_in - timedelta(hours=1)),
            message("after", SAM, opted_in + timedelta(hours=1)),
            message("priya", PRIYA, opted_in + timedelta(hours=1)),
        ]
    )
    result = await HistoryImport(bot.core.archive).run(history)
    assert (result.read, result.added, result.opted_out, result.before_opt_in) == (3, 1, 1, 1)
    assert result.skipped == 2
    assert [r["message_id"] for r in archived(bot)] == ["after"]


async def test_search_in_chat_stays_in_the_askers_community(bot: Harness) -> None:
    root = await prompt_thread(bot)
    await say(bot, "interpreters help here", root)
    elsewhere = ChannelRef("test", "C-x", "T2", "other-trust")
    await bot.join(elsewhere)
    other_root = await prompt_thread(bot, elsewhere)
    await say(bot, "interpreters in another workspace", other_root, channel=elsewhere)
    text = await bot.reply_text("search interpreters", SAM, channel=NORTH)
    assert "help here" in text and "another workspace" not in text
    assert "The best match from the archive" in text


async def test_erasure_waits_out_a_long_read_then_clears_the_journal(bot: Harness) -> None:
    from storage.database import connect

    root = await prompt_thread(bot)
    await say(bot, f"words with {SECRET_WORD}", root)
    reader = connect(bot.core.db.path)
    reader.execute("begin")
    reader.execute("select count(*) from archive_messages").fetchone()  # holds a snapshot
    await bot.reply_text("optout", SAM)
    reader.execute("commit")
    reader.close()
    for _ in range(100):  # the checkpoint is retried in the background
        if SECRET_WORD.encode() not in file_bytes(bot.core.db.path):
            break
        await asyncio.sleep(0.05)
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)


async def test_an_edit_leaves_no_trace_of_what_it_replaced(bot: Harness) -> None:
    root = await prompt_thread(bot)
    ref = await say(bot, f"first said {SECRET_WORD}", root)
    await bot.deliver(MessageEdited("ev-edit-only", ref, "said better", bot.clock.now()))
    assert [r["text"] for r in archived(bot)] == ["said better"]
    assert SECRET_WORD.encode() not in file_bytes(bot.core.db.path)


async def test_the_nightly_purge_runs_late_rather_than_not_at_all(db_path: Path) -> None:
    h = Harness.open(
        db_path, Settings(db_path=db_path, admins=frozenset({ALEX.identity}), retention_days=30)
    )
    try:
        for step in h.core.registry.startup:
            await step()
        root = await prompt_thread(h)
        await say(h, "old words", root)
        h.clock.set(datetime(2026, 12, 27, 9, 0, tzinfo=UTC))  # copbot was down at 03:30
        await h.tick()
        assert archived(h) == []
    finally:
        h.close()


async def test_an_export_link_dies_with_its_admins_role(db_path: Path) -> None:
    h = Harness.open(db_path, Settings(db_path=db_path, public_url="http://copbot.test"))
    try:
        await h.core.roles.grant(PRIYA.identity, Role.ADMIN, by="test")
        await h.core.roles.grant(ALEX.identity, Role.ADMIN, by="test")
        await h.reply_text("export", PRIYA)
        url = h.adapter.of_kind("direct")[-1].text.split("](", 1)[1].split(")", 1)[0]
        await h.core.roles.revoke(PRIYA.identity, Role.ADMIN, by="cli")
        app = web.Application()
        app.router.add_routes(h.core.registry.routes)
        path = url.removeprefix("http://copbot.test")
        async with TestClient(TestServer(app)) as client:
            # Its page says so, rather than that the export is ready.
            page = await client.get(path)
            assert page.status == 403 and "no longer an admin" in await page.text()
            refused = await client.post(path)
            assert refused.status == 403 and "no longer an admin" in await refused.text()
            # Refused, the link is not used up: with the role back, it works.
            await h.core.roles.grant(PRIYA.identity, Role.ADMIN, by="cli")
            assert (await client.get(path)).status == 200
            assert (await client.post(path)).status == 200
    finally:
        h.close()


async def test_search_results_are_dated_in_copbots_time_zone(bot: Harness) -> None:
    # 23:30 UTC on 1 July is already 2 July in London (BST).
    bot.clock.set(datetime(2026, 7, 1, 23, 30, tzinfo=UTC))
    root = await prompt_thread(bot)
    await say(bot, "A late thought about quokkanomics", root, PRIYA)
    [answer] = await bot.command("search quokkanomics", SAM)
    assert "· Priya · Thu 2 Jul 2026 ·" in answer.text


async def test_control_characters_are_not_kept(bot: Harness) -> None:
    root = await prompt_thread(bot)
    ref = await say(bot, "a NUL\x00 and an escape\x1b[31m, kept\tas\nwords", root)
    kept = await bot.core.archive.get(ref)
    assert kept is not None and kept.text == "a NUL and an escape[31m, kept\tas\nwords"


CONTROLS = "".join(map(chr, [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]))


def _has_controls(text: str) -> bool:
    text = text.replace("\r\n", "\n")  # CSV's own line ends
    return any(c in text for c in CONTROLS) or "\\u00" in text  # raw, or escaped in JSON


async def test_no_name_or_word_keeps_a_control_character_in_search_or_any_export(
    bot: Harness,
) -> None:
    import io

    from bot.archive_export import ENCODINGS, FORMATS, write, write_encoded

    channel = ChannelRef(NORTH.platform, NORTH.id, NORTH.workspace, "north\x1b[31m\x85")
    root = await prompt_thread(bot, channel)
    author = UserRef(SAM.platform, SAM.id, "Sam\x00 \x9bOkafor\n")
    assert (channel.name, author.name) == ("north[31m", "Sam Okafor")
    await say(bot, "line one\x85line\ttwo\nthree\x07", root, author, channel)
    [kept] = archived(bot)
    assert (kept["author_name"], kept["channel_name"]) == ("Sam Okafor", "north[31m")
    assert kept["text"] == "line one\nline\ttwo\nthree"  # a NEL ends its line still
    assert not _has_controls(await bot.reply_text("search three", SAM, channel=channel))
    reader = SqliteArchiveReader(bot.core.db.path)
    for fmt in FORMATS:
        out = io.StringIO()
        write(fmt, reader.rows(_all(), by_thread=True), out)
        assert "Sam Okafor" in out.getvalue() and not _has_controls(out.getvalue()), fmt
    for encoding in ENCODINGS:
        out = io.StringIO()
        write_encoded(encoding, reader.encoded(_all(), encoding), out)
        assert "Sam Okafor" in out.getvalue() and not _has_controls(out.getvalue()), encoding


async def test_imported_history_loses_control_characters_too(bot: Harness) -> None:
    from bot.records import ArchivedMessage
    from bot.services.history import HistoryImport

    message = ArchivedMessage(
        "slack", "T1", "C1", "gen\x1beral", "1", "1", "slack:U1", "Sam\x85\x07", False,
        "bell\x07, NUL\x00 and NEL\x85 gone", datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )  # fmt: skip
    await HistoryImport(bot.core.archive).run(ListHistory([message]))
    kept = await bot.core.archive.get(message.ref)
    assert kept is not None and kept.text == "bell, NUL and NEL\n gone"
    assert (kept.author_name, kept.channel_name) == ("Sam", "general")


@dataclass(frozen=True)
class _BreaksAfterOneBatch(ListHistory):
    """An export that changes under the import: one batch read, then an error."""

    def batches(
        self,
        work: Callable[[list[ArchivedMessage]], Any],
        size: int,
        progress: Callable[[int], None] | None = None,
        region_of: Callable[[str], str] | None = None,
    ) -> Iterator[Any]:
        yield work(self.messages)
        raise HistoryUnreadable("the export changed while it was being read")


async def test_an_import_that_fails_part_way_finishes_the_batch_it_was_writing(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.history import HistoryImport

    archive = bot.core.archive
    write = archive.capture_prepared

    async def slow_write(batch: object) -> int:
        await asyncio.sleep(0.05)  # still writing when the reading fails
        return await write(batch)

    monkeypatch.setattr(archive, "capture_prepared", slow_write)
    message = ArchivedMessage(
        "slack", "T1", "C1", "general", "1", "1", "slack:U1", "Sam", False,
        "read before the export changed", datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )  # fmt: skip
    with pytest.raises(HistoryUnreadable):
        await HistoryImport(archive).run(_BreaksAfterOneBatch([message]))
    assert await archive.get(message.ref) is not None  # as the error says: what was read is in


async def test_opting_in_counts_from_when_it_was_asked_not_when_its_turn_came(
    bot: Harness,
) -> None:
    root = await prompt_thread(bot)
    await bot.command("optout", SAM)
    asked = bot.clock.now()
    await bot.core.inbox.accept(CommandReceived("optin-1", Origin(SAM, NORTH), "optin", asked))
    ref = MessageRef(NORTH, "m-after", root.id)
    written = asked + timedelta(seconds=5)
    await bot.core.inbox.accept(MessagePosted("ev-after", ref, SAM, "written after", written))
    bot.clock.advance(timedelta(minutes=1))  # a busy inbox: the opt-in's turn comes later
    await bot.core.inbox.drain()
    assert [r["text"] for r in archived(bot)] == ["written after"]
