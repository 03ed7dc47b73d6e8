"""Private channels stay private: search, and an admin's export asked for in chat, show a
person public channels' messages and those of the private channels they belong to, as the
platform says; when it can't say, public channels only, and they are told why. Exports on
the server (``copbot export``) keep everything and say what was private."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.archive_export import Cover, write_csv, write_jsonl, write_markdown
from bot.chat import Chat
from bot.model import ChannelRef, MessagePosted, MessageRef, UserRef
from bot.ports import Capability
from bot.records import ArchiveFilter
from bot.settings import Settings
from bot.visibility import PARTLY_NOTE, UNSURE_NOTE, Visibility
from storage.archive_reader import SqliteArchiveReader
from tests.support.fakes import FakeAdapter, ManualClock
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM, Harness

LEADS = ChannelRef("test", "C-leads", "T1", "leads")
WORD = "zanzibarian"  # a word only the test's messages hold


async def private_leads(bot: Harness, members: set[str]) -> None:
    """#leads is private (with these members) and kept whole in the archive."""
    bot.adapter.private_channels[LEADS.id] = members
    await bot.join(LEADS)
    await bot.join(GENERAL)
    for channel in (LEADS, GENERAL):
        assert "Done" in await bot.reply_text("archive on", ALEX, channel=channel)


async def say(bot: Harness, text: str, user: UserRef, channel: ChannelRef) -> None:
    ident = bot.event_id()
    ref = MessageRef(channel, ident)
    await bot.deliver(MessagePosted(f"ev-{ident}", ref, user, text, bot.clock.now()))


async def found(bot: Harness, user: UserRef, words: str = WORD) -> list[str]:
    """The channels of what ``user``'s search shows."""
    answer = await bot.reply_text(f"search {words}", user)
    if answer.startswith("Nothing in the archive"):
        return []
    return sorted(line.split("**")[1] for line in answer.splitlines() if line.startswith("**#"))


SITE = "http://copbot.test"


@pytest.fixture
async def exporter(db_path: Path) -> AsyncIterator[Harness]:
    """A harness whose admin, Alex, is sent export links to download."""
    settings = Settings(db_path=db_path, admins=frozenset({ALEX.identity}), public_url=SITE)
    bot = Harness.open(db_path, settings)
    yield bot
    bot.close()


def export_path(text: str) -> str:
    """The download path of the link in a message sending an export."""
    return text.split("](", 1)[1].split(")", 1)[0].removeprefix(SITE)


async def download(bot: Harness, path: str) -> str:
    app = web.Application()
    app.router.add_routes(bot.core.registry.routes)
    async with TestClient(TestServer(app)) as client:
        return await (await client.post(path)).text()


async def test_someone_outside_a_private_channel_finds_nothing_from_it_a_member_does(
    bot: Harness,
) -> None:
    await private_leads(bot, {PRIYA.id})
    await say(bot, f"Between us leads: {WORD} budget worries", PRIYA, LEADS)
    await say(bot, f"Open to all: {WORD} job fair", PRIYA, GENERAL)

    # The attack: a staff member outside #leads searches a word from it.
    answer = await bot.reply_text(f"search {WORD}", SAM)
    assert "budget" not in answer and "#leads" not in answer and "C-leads" not in answer
    assert await found(bot, SAM) == ["#general"]
    assert await found(bot, SAM, "budget") == []
    # A member finds it, beside what everyone can see.
    assert await found(bot, PRIYA) == ["#general", "#leads"]
    # Admins are people too: in chat, search shows them what they can see, nothing more.
    assert await found(bot, ALEX) == ["#general"]


async def test_when_the_platform_cannot_say_everyone_sees_public_channels_only(
    bot: Harness,
) -> None:
    await private_leads(bot, {PRIYA.id})
    await say(bot, f"{WORD} in private", PRIYA, LEADS)
    await say(bot, f"{WORD} in public", PRIYA, GENERAL)
    bot.adapter.unsure = True
    assert await found(bot, PRIYA) == ["#general"]
    # ... and they are told why, in one line, whether anything is found or not.
    answer = await bot.reply_text(f"search {WORD}", PRIYA)
    assert answer.count(UNSURE_NOTE) == 1
    nothing = await bot.reply_text("search budget", PRIYA)
    assert nothing.startswith("Nothing in the archive") and nothing.count(UNSURE_NOTE) == 1
    bot.adapter.unsure = False
    assert UNSURE_NOTE not in await bot.reply_text(f"search {WORD}", PRIYA)


async def test_an_outage_fails_closed_with_one_short_log_line(
    bot: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await private_leads(bot, {PRIYA.id})
    await say(bot, f"{WORD} in private", PRIYA, LEADS)

    async def down(user: UserRef) -> frozenset[str] | None:
        raise ConnectionError(f"the platform is down for {user.id}")

    monkeypatch.setattr(bot.adapter, "channels_visible_to", down)
    with caplog.at_level(logging.WARNING):
        assert await found(bot, PRIYA) == []
    [line] = [r for r in caplog.records if r.name == "bot.visibility"]
    assert line.getMessage() == "could not ask which channels someone is in (ConnectionError)"
    assert line.exc_info is None and "priya" not in caplog.text


async def test_a_platform_without_the_capability_shows_public_channels_only(
    bot: Harness,
) -> None:
    await private_leads(bot, {PRIYA.id})
    await say(bot, f"{WORD} in private", PRIYA, LEADS)
    await say(bot, f"{WORD} in public", PRIYA, GENERAL)
    bot.adapter.capabilities = bot.adapter.capabilities - {Capability.CHANNEL_VISIBILITY}
    assert await found(bot, PRIYA) == ["#general"]


async def test_a_channel_of_unknown_kind_counts_as_private_until_the_platform_says(
    bot: Harness,
) -> None:
    bot.adapter.unsure = True  # the platform can't say what kind of channel #general is
    await bot.join(GENERAL)
    assert "Done" in await bot.reply_text("archive on", ALEX, channel=GENERAL)
    await say(bot, f"{WORD} said early", PRIYA, GENERAL)
    bot.adapter.unsure = False
    assert await found(bot, SAM) == []
    # The next message, a while later, learns the channel is public: what was kept before
    # is set right too.
    bot.clock.advance(timedelta(minutes=2))
    await say(bot, f"{WORD} said later", PRIYA, GENERAL)
    assert await found(bot, SAM) == ["#general", "#general"]
    assert (await bot.core.channels.get(GENERAL)).private is False  # type: ignore[union-attr]


async def test_who_sees_what_is_asked_once_a_minute_per_person(bot: Harness) -> None:
    await private_leads(bot, set())
    await say(bot, f"{WORD} in private", PRIYA, LEADS)
    assert await found(bot, PRIYA) == []
    bot.adapter.private_channels[LEADS.id].add(PRIYA.id)  # Priya joins #leads
    assert await found(bot, PRIYA) == []  # the answer of a moment ago still holds
    assert bot.adapter.visibility_asked == [PRIYA.id]
    bot.clock.advance(timedelta(seconds=61))
    assert await found(bot, PRIYA) == ["#leads"]
    assert bot.adapter.visibility_asked == [PRIYA.id, PRIYA.id]


async def test_the_cache_of_who_sees_what_is_bounded(bot: Harness) -> None:
    adapter = FakeAdapter()
    clock = ManualClock()
    core = bot.core
    seen = Visibility(Chat([adapter]), core.channels, core.archive, clock, size=2)
    people = [UserRef("test", f"u{n}") for n in range(3)]
    for person in people:
        await seen.channels_of(person)
    await seen.channels_of(people[2])  # still remembered
    await seen.channels_of(people[0])  # forgotten: the oldest of three, past the bound
    assert adapter.visibility_asked == ["u0", "u1", "u2", "u0"]


async def test_admins_exports_keep_private_channels_and_say_so(bot: Harness) -> None:
    await private_leads(bot, {PRIYA.id})
    await say(bot, f"{WORD} in private", PRIYA, LEADS)
    await say(bot, f"{WORD} in public", PRIYA, GENERAL)
    rows = list(SqliteArchiveReader(bot.core.db.path).rows(ArchiveFilter(), by_thread=True))
    assert len(rows) == 2

    jsonl = io.StringIO()
    write_jsonl(rows, jsonl)
    records = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert {r["channel_name"]: r["private"] for r in records} == {"leads": True, "general": False}

    csv_out = io.StringIO()
    write_csv(rows, csv_out)
    lines = csv_out.getvalue().splitlines()
    assert lines[0].endswith(",private")
    assert {line.split(",")[2]: line.rsplit(",", 1)[1] for line in lines[1:]} == {
        "leads": "true",
        "general": "false",
    }

    markdown = io.StringIO()
    write_markdown(rows, markdown, Cover())
    assert "Conversation in #leads (members only)" in markdown.getvalue()
    assert "Conversation in #general," in markdown.getvalue()


async def test_messages_kept_before_copbot_knew_count_as_private(bot: Harness) -> None:
    # What migration 0005 did to rows already there, and 0019 keeps: a row that doesn't
    # say otherwise is private.
    def legacy(db: Any) -> None:
        db.execute("insert into archive_labels (value) values ('test:T1')")
        db.execute(
            "insert into archive_channels (platform, workspace_id, channel_id, workspace)"
            " values ('test', 'T1', 'C-old', last_insert_rowid())"
        )
        db.execute(
            "insert into archive_entries (channel, thread_id, message_id, text, created_at)"
            " values (last_insert_rowid(), '1', '1', 'old', 1767225600000000)"
        )

    await bot.core.db.write(legacy)
    [row] = SqliteArchiveReader(bot.core.db.path).rows(ArchiveFilter(), by_thread=False)
    assert row[-1] == 1


async def test_a_private_channels_schedules_are_only_for_those_in_it(bot: Harness) -> None:
    from bot.model import Role

    await private_leads(bot, {PRIYA.id})
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by="test")  # not in #leads
    made = await bot.reply_text("schedule prompt any every tuesday at 10:00 in #leads", PRIYA)
    assert made.startswith("Scheduled #1")

    # To Sam, outside #leads, it is as if the channel and its schedule weren't there.
    assert "#leads" not in await bot.reply_text("schedule list", SAM)
    refused = await bot.reply_text("schedule prompt any every friday at 11:00 in #leads", SAM)
    nowhere = await bot.reply_text("schedule prompt any every friday at 11:00 in #nowhere", SAM)
    assert refused.startswith("I can't post in #leads: it isn't a channel you and I are both in")
    assert refused == nowhere.replace("#nowhere", "#leads")  # as if it weren't there
    assert "no active schedule #1" in await bot.reply_text("schedule cancel 1", SAM)
    assert "no active schedule #1" in await bot.reply_text("schedule pause 1", SAM)
    assert "#leads" in await bot.reply_text("schedule list", PRIYA)  # still there for her
    [recurrence] = await bot.core.scheduler.recurrences("prompt.post")
    assert not recurrence.paused
    assert "Paused schedule #1" in await bot.reply_text("schedule pause 1", PRIYA)
    assert "no active schedule #1" in await bot.reply_text("schedule resume 1", SAM)
    [recurrence] = await bot.core.scheduler.recurrences("prompt.post")
    assert recurrence.paused


async def test_a_schedules_owner_who_left_its_private_channel_hears_nothing_of_it(
    bot: Harness,
) -> None:
    """Its prompts go on for those still in #leads; its owner, gone from it, is sent
    neither the facilitator notes nor its troubles, which name #leads and what it talks of."""
    from datetime import UTC, datetime

    from bot.model import Role

    await private_leads(bot, {PRIYA.id, SAM.id})
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    made = await bot.reply_text("schedule prompt any every tuesday at 10:00 in #leads", PRIYA)
    assert made.startswith("Scheduled #1")
    bot.adapter.private_channels[LEADS.id].discard(PRIYA.id)  # Priya leaves #leads
    bot.adapter.sent.clear()
    await bot.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - bot.clock.now())
    assert [s.channel for s in bot.adapter.of_kind("post")] == [LEADS]
    bot.adapter.refuse_posts = "#leads has been archived, so I can't post there."
    await bot.tick(timedelta(days=7))
    assert bot.adapter.of_kind("direct") == []
    # Still in it, she would have had both.
    bot.adapter.private_channels[LEADS.id].add(PRIYA.id)
    bot.adapter.refuse_posts = ""
    await bot.tick(timedelta(minutes=2))  # past what copbot last heard of her channels
    assert "Resumed schedule #1" in await bot.reply_text("schedule resume 1", PRIYA)
    bot.adapter.sent.clear()
    await bot.tick(timedelta(days=7))
    [note] = bot.adapter.of_kind("direct")
    assert note.text.startswith("I've posted your scheduled prompt")


@pytest.mark.parametrize("alex_in_leads", [False, True])
async def test_an_admins_export_in_chat_holds_only_the_private_channels_they_are_in(
    exporter: Harness, alex_in_leads: bool
) -> None:
    bot = exporter
    await private_leads(bot, {PRIYA.id, ALEX.id} if alex_in_leads else {PRIYA.id})
    await say(bot, f"{WORD} budget worries", PRIYA, LEADS)
    await say(bot, f"{WORD} job fair", PRIYA, GENERAL)
    await bot.reply_text("export jsonl", ALEX)
    [dm] = bot.adapter.of_kind("direct")
    assert UNSURE_NOTE not in dm.text
    lines = (await download(bot, export_path(dm.text))).splitlines()
    kept = {json.loads(line)["channel_name"] for line in lines}
    assert kept == ({"leads", "general"} if alex_in_leads else {"general"})


async def test_a_private_channel_left_after_asking_is_not_in_the_download(
    exporter: Harness,
) -> None:
    bot = exporter
    await private_leads(bot, {PRIYA.id, ALEX.id})
    await say(bot, f"{WORD} budget worries", PRIYA, LEADS)
    await say(bot, f"{WORD} job fair", PRIYA, GENERAL)
    await bot.reply_text("export jsonl", ALEX)
    [dm] = bot.adapter.of_kind("direct")
    path = export_path(dm.text)
    bot.adapter.private_channels[LEADS.id] = {PRIYA.id}  # Alex leaves #leads
    bot.clock.advance(timedelta(minutes=2))  # past what copbot remembers of his channels
    lines = (await download(bot, path)).splitlines()
    assert {json.loads(line)["channel_name"] for line in lines} == {"general"}


async def test_an_export_asked_for_while_the_platform_cannot_say_tells_the_admin(
    exporter: Harness,
) -> None:
    bot = exporter
    await private_leads(bot, {ALEX.id})
    bot.adapter.unsure = True
    await bot.reply_text("export jsonl", ALEX)
    [dm] = bot.adapter.of_kind("direct")
    assert UNSURE_NOTE in dm.text
    [link] = await bot.core.db.read(
        lambda conn: conn.execute("select filters from export_links").fetchall()
    )
    assert '"viewer_channels": []' in link[0] or '"viewer_channels":[]' in link[0]


async def test_a_channel_made_private_stays_with_its_members_from_then_on(bot: Harness) -> None:
    """Made private on its platform: what copbot kept of it before, and keeps after, shows
    only to its members at once, as the platform's own history does; made public again,
    it shows to everyone again."""
    from bot.model import ChannelVisibilityChanged

    await private_leads(bot, set())
    bot.adapter.private_channels.pop(LEADS.id)  # #leads starts public
    await say(bot, f"{WORD} said while public", PRIYA, LEADS)
    assert await found(bot, SAM) == ["#leads"]

    bot.adapter.private_channels[LEADS.id] = {PRIYA.id}
    await bot.deliver(ChannelVisibilityChanged("made-private", LEADS, True, bot.clock.now()))
    await say(bot, f"{WORD} said once private", PRIYA, LEADS)
    assert await found(bot, SAM) == []  # neither before nor after
    assert "Nothing in the archive" in await bot.reply_text(f"search {WORD}", SAM)
    answer = await bot.reply_text(f"search {WORD}", PRIYA)
    assert "said while public" in answer and "said once private" in answer
    assert bot.rows("select private from archive_entries") == [(1,), (1,)]

    bot.adapter.private_channels.pop(LEADS.id)
    await bot.deliver(ChannelVisibilityChanged("made-public", LEADS, False, bot.clock.now()))
    assert await found(bot, SAM) == ["#leads", "#leads"]


QUIET = ChannelRef("test", "C-quiet", "T1", "quiet")


async def test_a_channel_the_platform_cannot_check_hides_only_itself(bot: Harness) -> None:
    """One channel's members unknown (a team copbot was taken out of, an error): its
    messages show to nobody, its members included, and every other channel's as usual."""
    await private_leads(bot, {PRIYA.id})
    bot.adapter.private_channels[QUIET.id] = {PRIYA.id}
    await bot.join(QUIET)
    assert "Done" in await bot.reply_text("archive on", ALEX, channel=QUIET)
    await say(bot, f"{WORD} in private", PRIYA, LEADS)
    await say(bot, f"{WORD} in public", PRIYA, GENERAL)
    await say(bot, f"{WORD} in the quiet room", PRIYA, QUIET)
    bot.adapter.unchecked = {QUIET.id}
    assert await found(bot, PRIYA) == ["#general", "#leads"]
    # The attack: the platform can't say who is in #quiet, so nobody gains it.
    assert await found(bot, SAM) == ["#general"]
    answer = await bot.reply_text(f"search {WORD}", PRIYA)
    assert answer.count(PARTLY_NOTE) == 1 and UNSURE_NOTE not in answer
    # Said whether or not anything was left out, so it gives nothing away.
    nothing = await bot.reply_text("search budget", SAM)
    assert nothing.startswith("Nothing in the archive") and nothing.count(PARTLY_NOTE) == 1
    # What copbot does about #quiet follows too: to Priya it is, for now, as if unseen.
    seen = Visibility(Chat([bot.adapter]), bot.core.channels, bot.core.archive, bot.clock)
    assert not await seen.may_see(PRIYA, QUIET)
    assert await seen.may_see(PRIYA, LEADS)
    # Not remembered: once the platform answers, #quiet is back for its members.
    bot.adapter.unchecked = set()
    assert await found(bot, PRIYA) == ["#general", "#leads", "#quiet"]
    assert PARTLY_NOTE not in await bot.reply_text(f"search {WORD}", PRIYA)


async def test_an_export_leaves_out_only_the_channels_the_platform_cannot_check(
    exporter: Harness,
) -> None:
    bot = exporter
    await private_leads(bot, {PRIYA.id, ALEX.id})
    bot.adapter.private_channels[QUIET.id] = {ALEX.id}
    await bot.join(QUIET)
    assert "Done" in await bot.reply_text("archive on", ALEX, channel=QUIET)
    await say(bot, f"{WORD} budget worries", PRIYA, LEADS)
    await say(bot, f"{WORD} job fair", PRIYA, GENERAL)
    await say(bot, f"{WORD} rota troubles", ALEX, QUIET)
    bot.adapter.unchecked = {QUIET.id}

    def link() -> str:
        return export_path(bot.adapter.of_kind("direct")[-1].text)

    await bot.reply_text("export markdown", ALEX)
    assert PARTLY_NOTE in bot.adapter.of_kind("direct")[-1].text
    made = await download(bot, link())
    assert "budget worries" in made and "job fair" in made and "rota troubles" not in made
    assert "**Left out:** messages from channels whose members copbot couldn't check" in made

    # Asked while #quiet couldn't be checked, downloaded once it could: it is in.
    await bot.reply_text("export markdown", ALEX)
    bot.adapter.unchecked = set()
    made = await download(bot, link())
    assert "rota troubles" in made and "Left out" not in made


async def test_a_list_of_schedules_says_when_some_channels_could_not_be_checked(
    bot: Harness,
) -> None:
    """A schedule in a channel whose members the platform can't give is hidden from its
    members too, for now: the list says some were left out (whether or not one was, so it
    gives nothing away), and shows it again once the platform answers."""
    from bot.model import Role
    from bot.visibility import PARTLY_LISTED, UNSURE_LISTED

    bot.adapter.private_channels[QUIET.id] = {PRIYA.id}
    await bot.join(QUIET)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by="test")
    made = await bot.reply_text("schedule prompt any every tuesday at 10:00 in #quiet", PRIYA)
    assert made.startswith("Scheduled #1")
    bot.adapter.unchecked = {QUIET.id}
    bot.clock.advance(timedelta(minutes=2))  # past what copbot last heard of her channels
    hidden = await bot.reply_text("schedule list", PRIYA)
    assert "#quiet" not in hidden and hidden.count(PARTLY_LISTED) == 1
    assert (await bot.reply_text("schedule list", SAM)).count(PARTLY_LISTED) == 1
    bot.adapter.unchecked = set()
    bot.adapter.unsure = True
    assert (await bot.reply_text("schedule list", PRIYA)).count(UNSURE_LISTED) == 1
    nothing = await bot.reply_text("schedule list", SAM)
    assert "No prompts are scheduled" in nothing and nothing.count(UNSURE_LISTED) == 1
    bot.adapter.unsure = False
    shown = await bot.reply_text("schedule list", PRIYA)
    assert "#quiet" in shown and PARTLY_LISTED not in shown and UNSURE_LISTED not in shown


async def test_the_open_feedback_rounds_say_when_some_channels_could_not_be_checked(
    bot: Harness,
) -> None:
    """As the schedules: a round opened in #quiet is left out while its members can't be
    checked, and the list says some may be, whether or not one was."""
    from bot.model import Role
    from bot.visibility import PARTLY_LISTED

    bot.adapter.private_channels[QUIET.id] = {PRIYA.id}
    await bot.join(QUIET)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    opened = await bot.reply_text('feedback open "Quiet room check-in"', PRIYA, channel=QUIET)
    assert "Quiet room check-in" in opened
    assert "Quiet room check-in" in await bot.reply_text("feedback", PRIYA)
    bot.adapter.unchecked = {QUIET.id}
    bot.clock.advance(timedelta(minutes=2))  # past what copbot last heard of her channels
    hidden = await bot.reply_text("feedback", PRIYA)
    assert "Quiet room" not in hidden and hidden.count(PARTLY_LISTED) == 1
    assert (await bot.reply_text("feedback", SAM)).count(PARTLY_LISTED) == 1
    bot.adapter.unchecked = set()
    bot.clock.advance(timedelta(minutes=2))
    assert PARTLY_LISTED not in await bot.reply_text("feedback", PRIYA)
