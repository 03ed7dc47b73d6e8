"""Regional events on the fake platform: regions linked to channels, events planned in a
form or by the service the command line uses, announced once per channel, answered,
reminded across clock changes, changed, cancelled, and followed by feedback."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.clock import to_text
from bot.events import Answer, LedgerState, Plan, PlanProblems
from bot.feedback_messages import ANSWER
from bot.model import (
    ButtonPressed,
    Buttons,
    Channel,
    ChannelRef,
    Choice,
    MessageRef,
    Origin,
    OutgoingMessage,
    Role,
    ThreadRef,
    UserRef,
)
from bot.ports import Capability, FormInvalid
from bot.records import JobState
from bot.services.event_delivery import mark_of
from bot.services.event_forms import NO_TOPIC
from bot.services.event_planning import END
from bot.services.events import EventsFeature
from bot.settings import Settings
from storage.regions import SqliteRegionLinkRepository
from tests.support.fakes import Sent
from tests.support.harness import ALEX, GENERAL, NORTH, PRIYA, SAM, Harness

LONDON = ChannelRef("test", "C-london", "T1", "london")
LEEDS = ChannelRef("test", "C-leeds", "T1", "ips-leeds")
PEOPLE = [UserRef("test", f"p{n}", f"Person {n}") for n in range(6)]


def feature(bot: Harness) -> EventsFeature:
    return bot.core.feature(EventsFeature)


async def facilitator(bot: Harness) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)


async def link(bot: Harness, channel: ChannelRef, region: str) -> str:
    await facilitator(bot)
    await bot.join(channel)
    sent = await bot.command(f"region link {region}", PRIYA, channel)
    [answer] = [s for s in sent if s.kind == "respond"]
    return answer.text


def plan(**overrides: str) -> Plan:
    values = {
        "title": "Race equity: conversations with clients",
        "region": "North",
        "start": "2026-12-03 10:00",
        "duration": "90",
        "location": "Leeds, Room 2",
    } | overrides
    return Plan(**values)


async def announced(bot: Harness, **overrides: str) -> int:
    event = await feature(bot).create(plan(**overrides), PRIYA.identity)
    await bot.tick()
    return event.id


def posts_in(bot: Harness, channel: ChannelRef) -> list[str]:
    """Announcements posted in a channel (not copbot's hello on joining)."""
    return [
        s.text
        for s in bot.adapter.of_kind("post")
        if s.channel == channel and not s.text.startswith("Hello")
    ]


def first_announcement(bot: Harness) -> Sent:
    return next(s for s in bot.adapter.of_kind("post") if not s.text.startswith("Hello"))


# -- regions -------------------------------------------------------------------------


async def test_a_facilitator_links_a_channel_to_regions_whatever_the_case(bot: Harness) -> None:
    assert "North events will be announced in #north" in await link(bot, NORTH, "nOrTh")
    assert "already" in await link(bot, NORTH, "NORTH")
    assert "London events" in await link(bot, NORTH, "london")
    listing = await bot.reply_text("regions", SAM)
    assert "**North**: #north" in listing and "**London**: #north" in listing
    assert "**South**: no channel yet" in listing
    # National events go to every linked channel, so none of its own is needed.
    assert "**National**: every channel linked to a region" in listing
    unlinked = await bot.reply_text("region unlink London", PRIYA, channel=NORTH)
    assert "won't hear about new London events" in unlinked
    assert "**London**: no channel yet" in await bot.reply_text("regions", SAM)


async def test_an_unknown_region_or_staff_linking_changes_nothing(bot: Harness) -> None:
    await facilitator(bot)
    refused = await bot.reply_text("region link Narnia", PRIYA, channel=NORTH)
    assert "I don't know the region 'Narnia'" in refused and "Midlands" in refused
    staff = await bot.reply_text("region link North", SAM, channel=NORTH)
    assert "facilitator" in staff.lower()
    assert "No channel is linked" in await bot.reply_text("regions", SAM)


async def test_linking_a_channel_copbot_has_left_is_refused_and_changes_nothing(
    bot: Harness,
) -> None:
    # A slash command works in channels copbot has left: their announcements would fail,
    # and the channel must not be taken for one copbot is in (schedules "in #north" look).
    await facilitator(bot)
    await bot.core.channels.save(Channel(NORTH, "north", bot_member=False))
    refused = await bot.reply_text("region link North", PRIYA, channel=NORTH)
    assert refused.startswith("I'm not in this channel, so I couldn't announce events here.")
    assert "No channel is linked" in await bot.reply_text("regions", SAM)
    known = await bot.core.channels.get(NORTH)
    assert known is not None and not known.bot_member
    assert "Done: North events" in await link(bot, NORTH, "North")


async def test_the_archive_region_follows_the_link_and_falls_back_to_the_name(
    bot: Harness,
) -> None:
    await link(bot, LEEDS, "South")
    channel = await bot.core.channels.get(LEEDS)
    assert channel is not None and channel.region == "south"
    await bot.command("region unlink South", PRIYA, LEEDS)
    await bot.join(NORTH)
    named = await bot.core.channels.get(NORTH)
    assert named is not None and named.region == "north"  # the guess from the name
    await link(bot, NORTH, "Midlands")
    await bot.command("region unlink Midlands", PRIYA, NORTH)
    back = await bot.core.channels.get(NORTH)
    assert back is not None and back.region == "north"


# -- planning and bad input ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("start", "2026-11-20 10:00", "already passed"),
        ("start", "9999-12-31 23:30", "more than five years away"),  # 90 minutes: past 9999
        ("start", "next tuesday", "like 2027-04-08 10:00"),
        ("start", "2026-12-03 02:00 pm", "like 2027-04-08 10:00"),  # not 02:00
        ("start", "2026-12-03 10:00+05", "like 2027-04-08 10:00"),  # not 10:00 here
        ("duration", "0", "at least a minute"),
        ("duration", "1441", "up to a day"),
        ("region", "Narnia", "I don't know the region 'Narnia'"),
        ("capacity", "0", "Give at least 1 place"),
        ("title", "x" * 151, "150 characters (this one has 151)"),
        # As long as the chat forms take: longer, the form that changes it would cut it.
        ("location", "x" * 501, "500 characters (this one has 501)"),
        ("description", "x" * 2001, "2,000 characters (this has 2,001)"),
        ("topic", "astrology", "no prompt topic 'astrology'. Leave it empty, or pick one of: "),
    ],
)
async def test_every_bad_plan_gets_its_own_words_and_nothing_is_kept(
    bot: Harness, field: str, value: str, words: str
) -> None:
    with pytest.raises(PlanProblems) as refused:
        await feature(bot).create(plan(**{field: value}), PRIYA.identity)
    assert list(refused.value.problems) == [field]
    assert words in refused.value.problems[field]
    assert await feature(bot).repository.upcoming_and_recent(None) == []
    assert await bot.tick() == 0


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "Pacific/Kiritimati"])
def test_a_start_years_away_is_refused_in_words_in_any_time_zone(zone: str) -> None:
    """Near the calendar's end a start can't be moved to UTC (west of it) or lengthened:
    refused before either is tried. Four years ahead is fine."""
    from zoneinfo import ZoneInfo

    from bot.events import check_plan

    def check(start: str) -> datetime:
        now, tz = datetime(2026, 12, 1, 9, 0, tzinfo=UTC), ZoneInfo(zone)
        return check_plan(plan(start=start), regions=["North"], topics=[], now=now, tz=tz).starts_at

    for start in ("9999-12-31 23:30", "2032-01-01 10:00"):
        with pytest.raises(PlanProblems) as refused:
            check(start)
        assert "more than five years away" in refused.value.problems["start"]
    assert check("2030-11-30 10:00").year == 2030


async def test_the_form_opens_for_facilitators_and_keeps_problems_beside_fields(
    bot: Harness,
) -> None:
    await facilitator(bot)
    [opened] = await bot.command("event new", PRIYA)
    assert opened.kind == "form" and opened.form is not None
    assert [f.id for f in opened.form.fields] == [
        "title", "region", "start", "duration", "location", "capacity", "description", "topic",
    ]  # fmt: skip
    with pytest.raises(FormInvalid) as invalid:
        await bot.submit("event-new", {"title": "T", "region": "North",
                                       "start": "2026-12-03T10:00", "capacity": "-2"}, PRIYA)  # fmt: skip
    assert "capacity" in invalid.value.errors
    assert await feature(bot).repository.upcoming_and_recent(None) == []
    await bot.submit(
        "event-new",
        {"title": "Workshop", "region": "north", "start": "2026-12-03T10:00", "duration": "60"},
        PRIYA,
    )
    [event] = await feature(bot).repository.upcoming_and_recent(None)
    assert event.organiser == PRIYA.identity and event.region == "north"
    [told] = [s for s in bot.adapter.of_kind("respond") if "is planned" in s.text]
    assert "No channel is linked to North yet" in told.text


# -- announcements -------------------------------------------------------------------


async def test_an_event_is_announced_once_in_each_channel_of_its_region(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    await link(bot, LEEDS, "North")
    await link(bot, LONDON, "London")
    event_id = await announced(bot)
    assert len(posts_in(bot, NORTH)) == 1 and len(posts_in(bot, LEEDS)) == 1
    assert posts_in(bot, LONDON) == []
    text = posts_in(bot, NORTH)[0]
    assert "Race equity: conversations with clients" in text
    assert "Thu 3 Dec 2026, 10:00 to 11:30" in text and "Leeds, Room 2" in text
    assert "Going 0 · Maybe 0 · Can't go 0" in text
    # Running the announcing again (a restart, an edit) posts nothing new.
    for step in bot.core.registry.startup:
        await step()
    await feature(bot).create(plan(region="National", title="National"), PRIYA.identity)
    await bot.tick()
    assert len(posts_in(bot, NORTH)) == 2 and len(posts_in(bot, LONDON)) == 1
    ledger = await feature(bot).repository.announcements(event_id)
    assert {a.state for a in ledger} == {LedgerState.POSTED}


async def test_an_announcement_links_to_its_calendar_file_and_the_link_resolves(
    db_path: Path,
) -> None:
    public = "https://copbot.example.org"
    bot = Harness.open(db_path, Settings(db_path=db_path, public_url=public))
    client = TestClient(TestServer(web.Application()))
    client.app.router.add_routes(bot.core.registry.routes)
    await client.start_server()
    try:
        await link(bot, NORTH, "North")
        event_id = await announced(bot)
        [text] = posts_in(bot, NORTH)
        address = f"{public}/calendar/event/{event_id}.ics"
        assert (
            f"[Add 'Race equity: conversations with clients' to your calendar]({address})" in text
        )
        async with client.get(address.removeprefix(public)) as response:
            assert response.status == 200
            [vevent] = icalendar.Calendar.from_ical(await response.read()).events
        assert vevent["UID"] == f"event-{event_id}@copbot.example.org"
        assert vevent.start.astimezone(UTC) == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    finally:
        await client.close()
        bot.close()


async def test_a_change_or_cancelling_says_how_to_update_the_calendar_it_was_added_to(
    db_path: Path,
) -> None:
    public = "https://copbot.example.org"
    bot = Harness.open(db_path, Settings(db_path=db_path, public_url=public))
    try:
        await link(bot, NORTH, "North")
        event_id = await announced(bot, title="Use of language")
        address = f"{public}/calendar/event/{event_id}.ics"
        await bot.press("event.rsvp", f"{event_id}:going", SAM)
        await feature(bot).edit(event_id, {"start": "2026-12-03 11:00"}, PRIYA.identity, Role.STAFF)
        await bot.tick()
        [moved] = [s for s in bot.adapter.of_kind("direct") if "has changed" in s.text]
        assert f"[Update 'Use of language' in your calendar]({address})" in moved.text
        await feature(bot).cancel_event(event_id, PRIYA.identity, Role.STAFF)
        await bot.tick()
        [told] = [s for s in bot.adapter.of_kind("direct") if "has been cancelled" in s.text]
        assert f"[Remove 'Use of language' from your calendar]({address})" in told.text
        # The announcement, where it was added from, says so too.
        cancelled = bot.adapter.of_kind("update")[-1].text
        assert "Cancelled: Use of language" in cancelled
        assert f"[Remove 'Use of language' from your calendar]({address})" in cancelled
    finally:
        bot.close()


def notices(bot: Harness) -> dict[str, str]:
    """Who was told an event has changed, and what they were told."""
    return {
        s.user.identity: s.text for s in bot.adapter.of_kind("direct") if "has changed" in s.text
    }


async def test_a_change_notice_says_what_changed_and_only_what_people_care_about_is_told(
    bot: Harness,
) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="5", description="Bring a story")
    going, maybe = PEOPLE[:2]
    await bot.press("event.rsvp", f"{event_id}:going", going)
    await bot.press("event.rsvp", f"{event_id}:maybe", maybe)
    edit = feature(bot).edit
    # More places, another region or another prompt topic: nothing people need a message
    # for (the announcement shows the new numbers).
    for change in ({"capacity": "8"}, {"region": "National"}, {"topic": "language"}):
        await edit(event_id, change, PRIYA.identity, Role.STAFF)
        await bot.tick()
        assert notices(bot) == {}, change
    assert "Going 1 of 8 places" in bot.adapter.of_kind("update")[-1].text
    await edit(
        event_id, {"description": "Bring a story *and* a question"}, PRIYA.identity, Role.STAFF
    )
    await bot.tick()
    told = notices(bot)
    assert set(told) == {going.identity, maybe.identity}
    text = told[going.identity]
    assert "What it's about: Bring a story \\*and\\* a question" in text
    assert "When:" not in text and "Where:" not in text and "Places:" not in text
    bot.adapter.sent.clear()
    # Two changes before the job runs (the second of places alone): one notice saying both.
    await edit(event_id, {"start": "2026-12-03 13:00", "location": ""}, PRIYA.identity, Role.STAFF)
    await edit(event_id, {"capacity": "6"}, PRIYA.identity, Role.STAFF)
    await bot.tick()
    told = notices(bot)
    assert set(told) == {going.identity, maybe.identity}
    lines = told[going.identity].split("\n")
    assert lines[1:] == [
        "• When: Thu 3 Dec 2026, 13:00 to 14:30 (it was Thu 3 Dec 2026, 10:00 to 11:30).",
        "• Where: no place is given now (it was Leeds, Room 2).",
        "• Places: 6 (it was 8).",
    ]
    assert len([s for s in bot.adapter.of_kind("direct") if s.user == going]) == 1


async def test_a_channel_linked_after_planning_hears_of_the_events_to_come(bot: Harness) -> None:
    """As planning tells a facilitator whose region has no channel yet: link one, and the
    events already planned are announced there, once, and nowhere twice."""
    await facilitator(bot)
    north = await feature(bot).create(plan(), PRIYA.identity)
    national = await feature(bot).create(
        plan(region="National", title="All regions"), PRIYA.identity
    )
    await feature(bot).create(plan(region="London", title="London only"), PRIYA.identity)
    await bot.tick()
    done = await link(bot, NORTH, "North")
    assert "I'm announcing the 2 events already planned here now." in done
    await bot.tick()
    assert [t.split("\n")[0] for t in posts_in(bot, NORTH)] == [
        f"**{north.title}**",
        f"**{national.title}**",
    ]
    assert "the 2 events already planned" in await link(bot, LEEDS, "London")
    await bot.tick()
    assert len(posts_in(bot, LEEDS)) == 2  # London's and the national one
    again = await bot.reply_text("region link London", PRIYA, channel=NORTH)
    assert "I'm announcing the event already planned here now." in again
    await bot.tick()
    assert len(posts_in(bot, NORTH)) == 3  # London's joins; none posted twice


async def test_a_failed_post_is_retried_and_still_posted_once(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    await link(bot, LEEDS, "North")
    bot.adapter.fail_next = 1
    await feature(bot).create(plan(), PRIYA.identity)
    await bot.tick()
    # The failure holds no other channel up; the failed one waits for the job's retry.
    assert len(posts_in(bot, NORTH) + posts_in(bot, LEEDS)) == 1
    await bot.tick(timedelta(seconds=31))
    assert len(posts_in(bot, NORTH)) == 1 and len(posts_in(bot, LEEDS)) == 1


async def test_killed_mid_announcement_where_copbot_cant_look_no_channel_gets_two(
    db_path: Path,
) -> None:
    channels = [ChannelRef("test", f"C{n:02}", "T1", f"north-{n}") for n in range(20)]
    bot = Harness.open(db_path)
    links = SqliteRegionLinkRepository(bot.core.db, bot.clock)
    for channel in channels:
        await links.link(channel, "north", PRIYA.identity)
    bot.adapter.hang_after_post = asyncio.Event()
    event = await feature(bot).create(plan(), PRIYA.identity)
    # The first post goes out, and copbot "dies" before it can note it.
    ticking = asyncio.create_task(bot.tick())
    while not any(posts_in(bot, channel) for channel in channels):
        await asyncio.sleep(0)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    first = bot.adapter.of_kind("post")
    bot.close()  # a ledger write under way when the task was cancelled still lands

    again = Harness.open(db_path)
    try:
        in_flight = {
            a.channel
            for a in await feature(again).repository.announcements(event.id)
            if a.state is LedgerState.POSTING
        }
        again.adapter.sent = list(first)
        for step in again.core.registry.startup:
            await step()
        await again.tick(timedelta(minutes=11))  # the dead run's lease has lapsed
        # The posts in flight at the kill are marked unsure for a person to check (posted
        # or not), never posted a second time; every other channel has exactly one.
        ledger = await feature(again).repository.announcements(event.id)
        unsure = {a.channel for a in ledger if a.state is LedgerState.UNKNOWN}
        assert unsure == in_flight and {s.channel for s in first} <= unsure
        went_out = {s.channel for s in first}
        for channel in channels:
            expected = 0 if channel in unsure - went_out else 1
            assert len(posts_in(again, channel)) == expected, channel
        assert {a.state for a in ledger if a.channel not in unsure} == {LedgerState.POSTED}
    finally:
        again.close()


async def test_a_half_done_post_found_after_restart_is_not_posted_again(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    await link(bot, LEEDS, "North")
    event = await feature(bot).create(plan(), PRIYA.identity)
    repo = feature(bot).repository
    # The ledger says a post was on its way to #north when copbot stopped.
    assert await repo.begin_announcement(event.id, NORTH) is None
    await bot.tick()
    assert posts_in(bot, NORTH) == [] and len(posts_in(bot, LEEDS)) == 1
    states = {a.channel.id: a.state for a in await repo.announcements(event.id)}
    assert states == {NORTH.id: LedgerState.UNKNOWN, LEEDS.id: LedgerState.POSTED}


def can_look(bot: Harness) -> None:
    """The platform can show copbot its recent posts (Slack can; Teams can't)."""
    bot.adapter.capabilities = bot.adapter.capabilities | {Capability.FIND_POSTS}


async def test_killed_mid_fan_out_where_copbot_can_look_every_channel_has_exactly_one(
    db_path: Path,
) -> None:
    channels = [ChannelRef("test", f"C{n:02}", "T1", f"north-{n}") for n in range(20)]
    bot = Harness.open(db_path)
    can_look(bot)
    links = SqliteRegionLinkRepository(bot.core.db, bot.clock)
    for channel in channels:
        await links.link(channel, "north", PRIYA.identity)
    bot.adapter.hang_after_post = asyncio.Event()
    event = await feature(bot).create(plan(), PRIYA.identity)
    # Several posts are in flight at once; copbot "dies" with none of them noted.
    ticking = asyncio.create_task(bot.tick())
    while len(bot.adapter.of_kind("post")) < 3:
        await asyncio.sleep(0)
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    first = bot.adapter.of_kind("post")
    in_doubt = {
        a.channel.id
        for a in await feature(bot).repository.announcements(event.id)
        if a.state is LedgerState.POSTING
    }
    assert len(in_doubt) > 1 and {s.channel.id for s in first if s.channel} <= in_doubt
    bot.close()

    again = Harness.open(db_path)
    try:
        can_look(again)
        again.adapter.sent = list(first)
        for step in again.core.registry.startup:
            await step()
        await again.tick(timedelta(minutes=11))
        for channel in channels:
            assert len(posts_in(again, channel)) == 1, channel
        # The posts that went out before the kill are found and kept, not posted again.
        ledger = await feature(again).repository.announcements(event.id)
        assert {a.state for a in ledger} == {LedgerState.POSTED}
        kept = {a.channel.id: a.message_id for a in ledger}
        assert all(s.ref is not None and kept[s.ref.channel.id] == s.ref.id for s in first)
    finally:
        again.close()


async def test_a_post_in_doubt_is_looked_for_and_posted_only_if_missing(bot: Harness) -> None:
    can_look(bot)
    await link(bot, NORTH, "North")
    await link(bot, LEEDS, "North")
    await link(bot, LONDON, "North")
    event = await feature(bot).create(plan(), PRIYA.identity)
    repo = feature(bot).repository
    # #north: the post went out and copbot stopped before noting it.
    assert await repo.begin_announcement(event.id, NORTH) is None
    announcement = OutgoingMessage.of(f"**{event.title}**")
    there = await bot.adapter.post(NORTH, replace(announcement, mark=mark_of(event)))
    # #ips-leeds: copbot stopped before posting. #london: the platform never answered.
    assert await repo.begin_announcement(event.id, LEEDS) is None
    assert await repo.begin_announcement(event.id, LONDON) is None
    await repo.settle_announcement(event.id, LONDON, LedgerState.UNKNOWN)
    await bot.tick()
    assert [len(posts_in(bot, c)) for c in (NORTH, LEEDS, LONDON)] == [1, 1, 1]
    states = {a.channel.id: (a.state, a.message_id) for a in await repo.announcements(event.id)}
    assert states[NORTH.id] == (LedgerState.POSTED, there.id)
    assert {states[c.id][0] for c in (LEEDS, LONDON)} == {LedgerState.POSTED}


async def test_when_looking_fails_a_post_in_doubt_is_left_for_a_person(bot: Harness) -> None:
    can_look(bot)
    await link(bot, NORTH, "North")
    event = await feature(bot).create(plan(), PRIYA.identity)
    repo = feature(bot).repository
    assert await repo.begin_announcement(event.id, NORTH) is None

    async def unreachable(channel: ChannelRef, mark: str) -> None:
        raise ConnectionError("the platform is unavailable")

    bot.adapter.find_post = unreachable  # type: ignore[method-assign,assignment]
    await bot.tick()
    assert posts_in(bot, NORTH) == []
    [row] = await repo.announcements(event.id)
    assert row.state is LedgerState.UNKNOWN


# -- answers -------------------------------------------------------------------------


async def test_answers_update_the_counts_in_place_and_can_change(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    post = first_announcement(bot)
    [buttons] = [b for b in post.message.blocks if isinstance(b, Buttons)]  # type: ignore[union-attr]
    assert [b.label for b in buttons.buttons] == ["Going", "Maybe", "Can't go"]
    sent = await bot.press("event.rsvp", f"{event_id}:going", SAM, post.ref)
    [answer] = [s for s in sent if s.kind == "respond"]
    assert "You're going" in answer.text and "Thu 3 Dec 2026, 10:00" in answer.text
    [update] = [s for s in sent if s.kind == "update"]
    assert update.ref == post.ref and "Going 1 · Maybe 0" in update.text
    sent = await bot.press("event.rsvp", f"{event_id}:maybe", SAM, post.ref)
    [update] = [s for s in sent if s.kind == "update"]
    assert "Going 0 · Maybe 1 · Can't go 0" in update.text
    rsvps = await feature(bot).repository.rsvps(event_id)
    assert [(r.person, r.answer) for r in rsvps] == [(SAM.identity, Answer.MAYBE)]


async def test_a_full_event_keeps_a_waiting_list_promoted_in_order(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="1")
    first, second, third = PEOPLE[:3]
    await bot.press("event.rsvp", f"{event_id}:going", first)
    waiting = await bot.press("event.rsvp", f"{event_id}:going", second)
    assert "waiting list (number 1)" in next(s.text for s in waiting if s.kind == "respond")
    waiting = await bot.press("event.rsvp", f"{event_id}:going", third)
    assert "waiting list (number 2)" in next(s.text for s in waiting if s.kind == "respond")
    assert "Going 1 of 1 places · waiting list 2" in waiting[-1].text
    freed = await bot.press("event.rsvp", f"{event_id}:not_going", first)
    [told] = [s for s in freed if s.kind == "direct"]
    assert told.user == second and "a place has come up" in told.text


async def test_a_place_given_up_as_someone_else_answers_is_offered_once(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Presses in different conversations (the announcement in two channels, or the events
    list in each person's own chat) run side by side: each must judge who moved up by its
    own change alone, not by one another press made meanwhile."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="1")
    first, second, bystander = PEOPLE[:3]
    for person in (first, second):
        await bot.press("event.rsvp", f"{event_id}:going", person)
    repository = feature(bot).repository
    answering = repository.answer
    arrived: list[str] = []
    both = asyncio.Event()

    async def together(event: int, person: str, answer: Answer) -> Any:
        arrived.append(person)
        if len(arrived) == 2:
            both.set()
        with contextlib.suppress(TimeoutError):  # run one after the other: still a test
            await asyncio.wait_for(both.wait(), 5)
        return await answering(event, person, answer)

    monkeypatch.setattr(repository, "answer", together)
    before = len(bot.adapter.sent)
    for person, answer, channel in ((first, "not_going", NORTH), (bystander, "maybe", GENERAL)):
        await bot.core.inbox.accept(
            ButtonPressed(
                bot.event_id(),
                Origin(person, channel),
                "event.rsvp",
                f"{event_id}:{answer}",
                bot.clock.now(),
            )
        )
    await bot.core.inbox.drain()
    assert len(arrived) == 2 and both.is_set()
    told = [s for s in bot.adapter.sent[before:] if s.kind == "direct"]
    assert [s.user.identity for s in told] == [second.identity]
    assert "a place has come up" in told[0].text


async def test_more_places_as_someone_gives_theirs_up_tell_each_person_moved_up_once(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A press landing while the number of places changes: the change judges who moved up
    by its own readings, taken in its write, not by one from before the press."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="1")
    first, second, third = PEOPLE[:3]
    for person in (first, second, third):
        await bot.press("event.rsvp", f"{event_id}:going", person)
    repository = feature(bot).repository
    saving = repository.save

    async def after_a_press(event: Any) -> Any:
        await bot.press("event.rsvp", f"{event_id}:not_going", first)  # second moves up
        return await saving(event)

    monkeypatch.setattr(repository, "save", after_a_press)
    before = len(bot.adapter.sent)
    await feature(bot).edit(event_id, {"capacity": "2"}, PRIYA.identity, Role.STAFF)
    told = [
        s.user.identity
        for s in bot.adapter.sent[before:]
        if s.kind == "direct" and "a place has come up" in s.text
    ]
    assert sorted(told) == sorted([second.identity, third.identity])


@pytest.mark.parametrize("meanwhile", ["cancelled", "over"])
async def test_a_press_racing_a_cancellation_or_the_end_is_refused_and_kept_nowhere(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    repository = feature(bot).repository
    answering = repository.answer

    async def after_the_change(event: int, person: str, answer: Answer) -> Any:
        if meanwhile == "cancelled":
            await feature(bot).cancel_event(event_id, PRIYA.identity, Role.STAFF)
        else:
            bot.clock.set(datetime(2026, 12, 3, 11, 30, tzinfo=UTC))  # its end
        return await answering(event, person, answer)

    monkeypatch.setattr(repository, "answer", after_the_change)
    sent = await bot.press("event.rsvp", f"{event_id}:going", SAM, first_announcement(bot).ref)
    [answer] = [s.text for s in sent if s.user == SAM]
    assert "You're going" not in answer
    assert (
        "has been cancelled, so it isn't taking answers"
        if meanwhile == "cancelled"
        else "has already taken place, so it isn't taking answers"
    ) in answer
    assert await repository.rsvps(event_id) == []


async def test_maybe_on_a_full_event_says_the_place_has_gone_to_the_next_person(
    bot: Harness,
) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="1")
    first, second = PEOPLE[:2]
    await bot.press("event.rsvp", f"{event_id}:going", first)
    await bot.press("event.rsvp", f"{event_id}:going", second)
    said = await bot.press("event.rsvp", f"{event_id}:maybe", first)
    answer = next(s.text for s in said if s.kind == "respond")
    assert "your place has gone to the next person on the waiting list" in answer
    # With room to spare, a maybe gives nothing up and says nothing of it.
    other = await announced(bot, title="Roomy session")
    await bot.press("event.rsvp", f"{other}:going", first)
    said = await bot.press("event.rsvp", f"{other}:maybe", first)
    answer = next(s.text for s in said if s.kind == "respond")
    assert "Noted: maybe" in answer and "waiting list" not in answer


async def test_fewer_places_tell_those_moved_to_the_waiting_list_their_number(
    bot: Harness,
) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="3")
    for person in PEOPLE[:3]:
        await bot.press("event.rsvp", f"{event_id}:going", person)
    await feature(bot).edit(event_id, {"capacity": "1"}, PRIYA.identity, Role.FACILITATOR)
    told = {s.user: s.text for s in bot.adapter.of_kind("direct") if "fewer than before" in s.text}
    assert set(told) == {PEOPLE[1], PEOPLE[2]}
    assert "waiting list (number 1)" in told[PEOPLE[1]]
    assert "waiting list (number 2)" in told[PEOPLE[2]]


async def test_answers_to_cancelled_or_past_events_are_refused_kindly(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    await feature(bot).cancel_event(event_id, PRIYA.identity, Role.FACILITATOR)
    [refused] = await bot.press("event.rsvp", f"{event_id}:going", SAM)
    assert "has been cancelled" in refused.text
    past = await announced(bot, title="Past")
    bot.clock.advance(timedelta(days=9))
    [refused] = await bot.press("event.rsvp", f"{past}:going", SAM)
    assert "already taken place" in refused.text
    assert await feature(bot).repository.rsvps(event_id) == []
    assert await feature(bot).repository.rsvps(past) == []


# -- reminders across the clock changes --------------------------------------------


@pytest.mark.parametrize(
    ("created", "start", "utc"),
    [
        # Planned in winter time for a date after the clocks go forward (28 March 2027).
        (datetime(2027, 3, 20, 9, tzinfo=UTC), "2027-04-08 10:00", datetime(2027, 4, 8, 9, 0)),
        # Planned in summer time for a date after they go back (25 October 2026).
        (datetime(2026, 10, 20, 9, tzinfo=UTC), "2026-11-05 10:00", datetime(2026, 11, 5, 10, 0)),
    ],
)
async def test_10_london_stays_10_local_across_a_clock_change(
    bot: Harness, created: datetime, start: str, utc: datetime
) -> None:
    bot.clock.set(created)
    await link(bot, NORTH, "North")
    event_id = await announced(bot, start=start)
    event = await feature(bot).repository.event(event_id)
    assert event is not None and event.starts_at == utc.replace(tzinfo=UTC)
    assert event.timezone == "Europe/London"
    [text] = posts_in(bot, NORTH)
    assert ", 10:00 to 11:30" in text
    post = first_announcement(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, post.ref)
    jobs = await bot.core.scheduler._jobs.jobs(states=[JobState.PENDING])
    due = sorted(j.due_at for j in jobs if j.kind == "event.remind")
    starts = utc.replace(tzinfo=UTC)
    assert due == [
        starts - timedelta(days=7),
        starts - timedelta(days=1),
        starts - timedelta(hours=1),
    ]
    for moment in due:
        bot.clock.set(moment)
        await bot.tick()
    threads = [s for s in bot.adapter.of_kind("reply") if s.thread == post.ref.as_thread]
    directs = [s for s in bot.adapter.of_kind("direct") if s.user == SAM]
    assert len(threads) == 3 and len(directs) == 3
    assert all("10:00 to 11:30" in s.text for s in threads + directs)
    # Never twice: running the scheduler again sends nothing more.
    await bot.tick()
    assert len(bot.adapter.of_kind("reply")) == 3


async def test_a_reminder_failing_in_one_channel_is_sent_once_in_the_others(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await link(bot, NORTH, "North")
    await link(bot, LEEDS, "North")
    event_id = await announced(bot)
    post = first_announcement(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, post.ref)
    replies = 0
    reply = bot.adapter.reply

    async def second_fails(thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        nonlocal replies
        replies += 1
        if replies == 2:
            raise ConnectionError("the platform is unavailable")
        return await reply(thread, message)

    monkeypatch.setattr(bot.adapter, "reply", second_fails)
    jobs = await bot.core.scheduler._jobs.jobs(states=[JobState.PENDING])
    bot.clock.set(min(j.due_at for j in jobs if j.kind == "event.remind"))
    await bot.tick()
    for _ in range(4):  # past every retry
        await bot.tick(timedelta(minutes=15))
    assert replies == 2 and len(bot.adapter.of_kind("reply")) == 1
    assert len([s for s in bot.adapter.of_kind("direct") if s.user == SAM]) == 1


async def test_a_change_whose_new_announcement_fails_tells_people_once(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    await link(bot, LONDON, "London")
    event_id = await announced(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, first_announcement(bot).ref)
    bot.adapter.fail_next = 1  # London's announcement: the platform is away a moment
    await feature(bot).edit(
        event_id,
        {"region": "London", "location": "London, Room 1"},
        PRIYA.identity,
        Role.FACILITATOR,
    )
    await bot.tick()
    for _ in range(4):
        await bot.tick(timedelta(minutes=15))
    assert len([s for s in bot.adapter.of_kind("direct") if s.user == SAM]) == 1
    assert len(posts_in(bot, LONDON)) == 1  # announced there all the same, on its retry


async def test_an_edit_moves_reminders_and_a_cancellation_removes_them(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    post = first_announcement(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, post.ref)
    await bot.press("event.rsvp", f"{event_id}:maybe", ALEX, post.ref)
    await bot.press("event.rsvp", f"{event_id}:not_going", PRIYA, post.ref)
    moved = await feature(bot).edit(
        event_id, {"start": "2026-12-04 14:00"}, PRIYA.identity, Role.FACILITATOR
    )
    assert moved.sequence == 1
    await bot.tick()
    [told] = [s for s in bot.adapter.of_kind("direct") if s.user == SAM]
    assert "Fri 4 Dec 2026, 14:00 to 15:30" in told.text
    # Maybe may still come, at the new time; Can't go is left in peace.
    [maybe] = [s for s in bot.adapter.of_kind("direct") if s.user == ALEX]
    assert maybe.text == told.text
    assert [s for s in bot.adapter.of_kind("direct") if s.user == PRIYA] == []
    assert "Fri 4 Dec 2026, 14:00" in bot.adapter.of_kind("update")[-1].text
    bot.clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))  # 1h before the old time
    await bot.tick()
    assert bot.adapter.of_kind("reply") == []
    bot.clock.set(datetime(2026, 12, 4, 13, 0, tzinfo=UTC))  # 1h before the new one
    await bot.tick()
    assert len(bot.adapter.of_kind("reply")) == 1
    cancelled = await feature(bot).cancel_event(event_id, PRIYA.identity, Role.FACILITATOR)
    assert cancelled.sequence == 2
    await bot.tick()
    assert "Cancelled" in bot.adapter.of_kind("update")[-1].text
    assert "has been cancelled" in bot.adapter.of_kind("direct")[-1].text
    bot.clock.set(datetime(2026, 12, 4, 14, 0, tzinfo=UTC))
    await bot.tick()
    assert len(bot.adapter.of_kind("reply")) == 1


async def test_only_the_organiser_or_an_admin_may_cancel(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by=ALEX.identity)
    refused = await bot.reply_text(f"event cancel {event_id}", SAM)
    assert "Only the facilitator who planned this event, or an admin" in refused
    event = await feature(bot).repository.event(event_id)
    assert event is not None and not event.cancelled and event.sequence == 0
    done = await bot.reply_text(f"event cancel {event_id}", ALEX)
    assert "is cancelled" in done
    assert "telling the people who were going, waiting or maybe." in done


@pytest.mark.parametrize("verb", ["edit", "cancel"])
async def test_an_event_not_named_or_not_there_is_pointed_to_the_events_command(
    bot: Harness, verb: str
) -> None:
    # Typed on its own in a Slack channel, `events` is an ordinary message: say the command.
    await facilitator(bot)
    assert (await bot.reply_text(f"event {verb}", PRIYA)).startswith(
        "Which event? Give its number, as `/cop events` shows it."
    )
    assert await bot.reply_text(f"event {verb} 99", PRIYA) == (
        "There's no event 99; `/cop events` shows what's coming."
    )


# -- the start and the end ------------------------------------------------------------


async def test_the_topic_prompt_is_posted_in_the_thread_when_it_starts(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    library = await bot.core.prompts.current()
    topic = library.topics[0]
    await announced(bot, topic=topic.slug)
    post = first_announcement(bot)
    bot.clock.set(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    await bot.tick()
    [prompt] = [s for s in bot.adapter.of_kind("reply") if s.thread == post.ref.as_thread]
    assert "Reflection prompt" in prompt.text and topic.title in prompt.text


async def test_after_the_end_people_going_get_the_feedback_button(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    await bot.press("event.rsvp", f"{event_id}:maybe", PEOPLE[0])
    bot.clock.set(datetime(2026, 12, 3, 11, 30, tzinfo=UTC))
    await bot.tick()
    [dm] = [s for s in bot.adapter.of_kind("direct") if "Thank you for coming" in s.text]
    assert dm.user == SAM
    [buttons] = [b for b in dm.message.blocks if isinstance(b, Buttons)]  # type: ignore[union-attr]
    [button] = buttons.buttons
    round_id = await feature(bot).repository.feedback_round(event_id)
    assert button.action_id == ANSWER and button.value == str(round_id)
    # The button opens the feedback service's anonymous form.
    [form] = [s for s in await bot.press(ANSWER, button.value, SAM) if s.kind == "form"]
    assert form.form is not None and form.form.anonymous
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    listing = await bot.reply_text("events", PRIYA)
    assert f"feedback round {round_id}, open, 0 answer(s)" in listing


async def test_an_end_that_fails_part_way_opens_one_round_and_thanks_people_once(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round is opened and named the event's in one write; the job tried again after a
    failure that follows it finds that round, queues its closing and thanks people once."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    once = bot.core.scheduler.once
    failures = []

    async def closing_fails_once(kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "feedback.close" and not failures:
            failures.append(kind)
            raise ConnectionError("the disk was away a moment")
        return await once(kind, *args, **kwargs)

    monkeypatch.setattr(bot.core.scheduler, "once", closing_fails_once)
    bot.clock.set(datetime(2026, 12, 3, 11, 30, tzinfo=UTC))
    await bot.tick()
    for _ in range(4):
        await bot.tick(timedelta(minutes=15))
    assert failures == ["feedback.close"]
    assert bot.rows("select count(*) from feedback_rounds") == [(1,)]
    [round_id] = [r[0] for r in bot.rows("select id from feedback_rounds")]
    assert await feature(bot).repository.feedback_round(event_id) == round_id
    closing = await bot.core.scheduler._jobs.jobs(states=[JobState.PENDING])
    assert [j.key for j in closing if j.kind == "feedback.close"] == [f"feedback-close:{round_id}"]
    thanked = [s for s in bot.adapter.of_kind("direct") if "Thank you for coming" in s.text]
    assert [s.user for s in thanked] == [SAM]


async def test_the_feedback_message_names_the_last_day_it_takes_answers(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)  # Thu 3 Dec 2026, 10:00 to 11:30
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    bot.clock.set(datetime(2026, 12, 3, 11, 30, tzinfo=UTC))
    await bot.tick()
    [dm] = [s for s in bot.adapter.of_kind("direct") if "Thank you for coming" in s.text]
    assert bot.rows("select closes_on from feedback_rounds") == [("2026-12-17",)]
    assert "until the end of Thu 17 Dec 2026" in dm.text  # its last day, not the 18th


async def test_a_longer_event_is_thanked_at_its_new_end_not_its_old_one(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)  # Thu 3 Dec 2026, 10:00 to 11:30
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    await feature(bot).edit(event_id, {"duration": "180"}, PRIYA.identity, Role.FACILITATOR)
    bot.clock.set(datetime(2026, 12, 3, 11, 35, tzinfo=UTC))  # the old end: mid-session now
    await bot.tick()
    assert not [s for s in bot.adapter.of_kind("direct") if "Thank you for coming" in s.text]
    assert await feature(bot).repository.feedback_round(event_id) is None
    bot.clock.set(datetime(2026, 12, 3, 13, 0, tzinfo=UTC))  # the new end
    await bot.tick()
    assert [s for s in bot.adapter.of_kind("direct") if "Thank you for coming" in s.text]


async def test_an_end_queued_before_ends_were_keyed_does_nothing_once_made_longer(
    bot: Harness,
) -> None:
    """An end job from an older copbot carries only the start: it still waits for the end."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot)  # Thu 3 Dec 2026, 10:00 to 11:30
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    old_end = datetime(2026, 12, 3, 11, 30, tzinfo=UTC)
    starts = to_text(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    await bot.core.scheduler.once(
        END, {"event": event_id, "starts": starts}, old_end, f"event-end:{event_id}@{starts}"
    )
    await feature(bot).edit(event_id, {"duration": "180"}, PRIYA.identity, Role.FACILITATOR)
    bot.clock.set(old_end + timedelta(minutes=5))
    await bot.tick()
    assert not [s for s in bot.adapter.of_kind("direct") if "Thank you for coming" in s.text]


async def test_events_lists_what_is_coming_with_buttons(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    assert "There are no events planned yet" in await bot.reply_text("events", SAM)
    north = await announced(bot)
    await announced(bot, region="London", title="London session")
    [answer] = [s for s in await bot.command("events north", SAM) if s.kind == "respond"]
    assert "Race equity" in answer.text and "London session" not in answer.text
    [buttons] = [b for b in answer.message.blocks if isinstance(b, Buttons)]  # type: ignore[union-attr]
    assert buttons.buttons[0].value == f"{north}:going"
    assert "I don't know the region" in await bot.reply_text("events Narnia", SAM)
    assert answer.channel == GENERAL  # privately, where it was asked


async def test_events_says_what_the_asker_answered(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    full = await announced(bot, capacity="1")
    other = await announced(bot, title="London session", region="London")
    await bot.press("event.rsvp", f"{full}:going", PRIYA, first_announcement(bot).ref)
    await bot.press("event.rsvp", f"{full}:going", SAM, first_announcement(bot).ref)
    await bot.press("event.rsvp", f"{other}:maybe", SAM, first_announcement(bot).ref)
    listed = await bot.reply_text("events", SAM)
    assert "You're on the waiting list (number 1)." in listed and "You said maybe." in listed
    assert "You're going." in await bot.reply_text("events north", PRIYA)
    assert "You" not in await bot.reply_text("events north", ALEX)  # no answer, no line


async def test_the_edit_form_is_filled_in_and_saves_changes(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="12")
    await bot.core.roles.grant(SAM.identity, Role.FACILITATOR, by=ALEX.identity)
    refused = await bot.reply_text(f"event edit {event_id}", SAM)
    assert "Only the facilitator who planned this event" in refused
    [opened] = await bot.command(f"event edit {event_id}", PRIYA)
    assert opened.form is not None and opened.form.context == str(event_id)
    # Those who said Maybe, or wait for a place, are told too.
    assert "People going, waiting or maybe are told of a new title, time" in opened.form.intro
    initial = {f.id: getattr(f, "initial", "") for f in opened.form.fields}
    assert initial["title"] == "Race equity: conversations with clients"
    assert initial["start"] == "2026-12-03T10:00" and initial["capacity"] == "12"
    values = {k: v for k, v in initial.items() if v} | {"start": "2026-12-03T13:00"}
    with pytest.raises(FormInvalid):
        await bot.submit("event-edit", values | {"duration": "0"}, PRIYA, context=str(event_id))
    saved = await bot.submit("event-edit", values, PRIYA, context=str(event_id))
    assert "People going, waiting or maybe are told what has changed." in saved[-1].text
    event = await feature(bot).repository.event(event_id)
    assert event is not None and event.sequence == 1
    assert event.starts_at == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    await bot.tick()
    assert "13:00 to 14:30" in bot.adapter.of_kind("update")[-1].text


async def test_saving_the_edit_form_unchanged_tells_nobody(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, first_announcement(bot).ref)
    [opened] = await bot.command(f"event edit {event_id}", PRIYA)
    assert opened.form is not None
    values = {f.id: getattr(f, "initial", "") for f in opened.form.fields}
    before = len(bot.adapter.sent)
    sent = await bot.submit("event-edit", values, PRIYA, context=str(event_id))
    assert "Nothing has changed in **Race equity" in sent[-1].text
    await bot.tick()
    assert [s.kind for s in bot.adapter.sent[before:]] == ["respond"]
    event = await feature(bot).repository.event(event_id)
    assert event is not None and event.sequence == 0


async def test_the_edit_form_can_take_an_events_prompt_topic_away(bot: Harness) -> None:
    """Slack's select and Teams' choices can't be emptied once picked: "No prompt" is an
    option of its own, read as no topic."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot, topic="language")
    [opened] = await bot.command(f"event edit {event_id}", PRIYA)
    assert opened.form is not None
    [topic] = [f for f in opened.form.fields if isinstance(f, Choice) and f.id == "topic"]
    assert topic.options[0] == (NO_TOPIC, "No prompt") and topic.initial == "language"
    values = {f.id: getattr(f, "initial", "") for f in opened.form.fields}
    saved = await bot.submit(
        "event-edit", values | {"topic": NO_TOPIC}, PRIYA, context=str(event_id)
    )
    assert "Saved:" in saved[-1].text
    event = await feature(bot).repository.event(event_id)
    assert event is not None and event.topic == "" and event.sequence == 1
    # Opened again, the form shows "No prompt" picked, and saving it changes nothing.
    [again] = await bot.command(f"event edit {event_id}", PRIYA)
    assert again.form is not None
    values = {f.id: getattr(f, "initial", "") for f in again.form.fields}
    assert values["topic"] == NO_TOPIC
    unchanged = await bot.submit("event-edit", values, PRIYA, context=str(event_id))
    assert "Nothing has changed" in unchanged[-1].text


async def test_an_event_that_has_taken_place_cant_be_changed_in_chat(bot: Harness) -> None:
    """As in the console: nobody who went is told a session they've been to has "changed",
    and its reminders and feedback aren't queued again."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, first_announcement(bot).ref)
    [opened] = await bot.command(f"event edit {event_id}", PRIYA)  # opened before the end
    assert opened.form is not None
    values = {f.id: getattr(f, "initial", "") for f in opened.form.fields}
    bot.clock.set(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    await bot.tick()
    refused = await bot.reply_text(f"event edit {event_id}", PRIYA)
    assert f"Event {event_id} has already taken place, so it can't be changed." in refused
    sent = await bot.submit(
        "event-edit", values | {"title": "Renamed"}, PRIYA, context=str(event_id)
    )
    assert "already taken place" in sent[-1].text
    event = await feature(bot).repository.event(event_id)
    assert event is not None and event.title != "Renamed" and event.sequence == 0
    before = len(bot.adapter.sent)
    await bot.tick()
    assert bot.adapter.sent[before:] == []


async def test_what_facilitators_write_is_shown_as_written_never_as_markup(bot: Harness) -> None:
    """A title, place or description holding markup characters shows them literally: no
    bold, no link smuggled into an announcement, a reminder or a change notice."""
    from adapters.local.render import markup

    await link(bot, NORTH, "North")
    sly = "Race *and* work [join](https://evil.example)"
    event_id = await announced(bot, title=sly, location="Room_2 (back) [map](https://evil.example)")
    await feature(bot).edit(event_id, {"duration": "60"}, ALEX.identity, Role.ADMIN)
    await bot.tick()
    shown = [markup(s.text) for s in bot.adapter.sent if "Race" in s.text]
    assert len(shown) >= 2, "the announcement and the change notice"
    for html in shown:
        assert "<a " not in html and "<strong>and</strong>" not in html
        assert "Race *and* work [join](https://evil.example)" in html


@pytest.mark.parametrize("verb", ["edit", "cancel"])
async def test_a_number_that_is_no_number_says_where_the_numbers_are(
    bot: Harness, verb: str
) -> None:
    await facilitator(bot)
    text = await bot.reply_text(f"event {verb} 9{'9' * 40}", PRIYA)
    assert "isn't an event's number; `/cop events` shows them" in text


async def test_opting_out_of_the_archive_keeps_a_place_and_the_events_someone_planned(
    bot: Harness,
) -> None:
    """`optout` is about the messages copbot keeps: someone's place at an event, and the
    events they planned, stay theirs (only `copbot erase` removes those)."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="1")
    await bot.press("event.rsvp", f"{event_id}:going", SAM)
    await bot.press("event.rsvp", f"{event_id}:going", ALEX)
    assert "I had kept none of your messages" in await bot.reply_text("optout", SAM)
    assert "I had kept none of your messages" in await bot.reply_text("optout", PRIYA)
    rsvps = await feature(bot).repository.rsvps(event_id)
    going = [r.person for r in rsvps if r.answer is Answer.GOING]
    assert going == [SAM.identity, ALEX.identity]  # Sam's place, Alex still waiting
    event = await feature(bot).repository.event(event_id)
    assert event is not None and event.organiser == PRIYA.identity
    # Still Priya's to change: as its organiser, not as an admin.
    await feature(bot).cancel_event(event_id, PRIYA.identity, Role.FACILITATOR)


async def test_an_erasure_frees_a_place_and_the_next_on_the_waiting_list_is_told(
    bot: Harness,
) -> None:
    """`copbot erase` may run from the command line, which posts nothing: the place goes to
    the next on the waiting list at once, and `serve`'s job tells them (only them) and
    updates the announcement, as pressing Can't go would."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="2")
    for person in PEOPLE[:4]:
        await bot.press("event.rsvp", f"{event_id}:going", person)
    await bot.core.erasure.erase(PEOPLE[0].identity)
    bot.adapter.sent.clear()
    await bot.tick()
    assert [s.user for s in bot.adapter.of_kind("direct")] == [PEOPLE[2]]
    assert "a place has come up" in bot.adapter.of_kind("direct")[0].text
    assert "Going 2 of 2 places · waiting list 1" in bot.adapter.of_kind("update")[-1].text
    # Erasing someone who was only waiting frees nothing: no one is told, the counts change.
    await bot.core.erasure.erase(PEOPLE[3].identity)
    bot.adapter.sent.clear()
    await bot.tick()
    assert bot.adapter.of_kind("direct") == []
    last = bot.adapter.of_kind("update")[-1].text
    assert "Going 2 of 2 places" in last and "waiting list" not in last
    payloads = [p for (p,) in bot.rows("select payload from jobs where kind = 'event.freed'")]
    assert len(payloads) == 2
    assert all("test:" not in p for p in payloads)  # no identity in a job


async def _waiting_for_one(bot: Harness) -> int:
    """One place, PEOPLE[0] in it, PEOPLE[1] and PEOPLE[2] waiting in that order."""
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="1")
    for person in PEOPLE[:3]:
        await bot.press("event.rsvp", f"{event_id}:going", person)
    return event_id


async def test_a_place_freed_by_an_erasure_is_told_once_whatever_happens_before_the_job(
    bot: Harness,
) -> None:
    event_id = await _waiting_for_one(bot)
    await bot.core.erasure.erase(PEOPLE[0].identity)  # PEOPLE[1] moves up
    bot.adapter.sent.clear()
    # Before serve's job runs, PEOPLE[1] can't go after all: PEOPLE[2] is told by that.
    await bot.press("event.rsvp", f"{event_id}:not_going", PEOPLE[1])
    await bot.tick()
    assert [s.user for s in bot.adapter.of_kind("direct")] == [PEOPLE[2]]


async def test_two_erasures_before_the_job_tell_the_one_who_moved_up_once(bot: Harness) -> None:
    await _waiting_for_one(bot)
    await bot.core.erasure.erase(PEOPLE[0].identity)  # PEOPLE[1] moves up…
    await bot.core.erasure.erase(PEOPLE[1].identity)  # …and is erased: PEOPLE[2] moves up
    bot.adapter.sent.clear()
    await bot.tick()
    assert [s.user for s in bot.adapter.of_kind("direct")] == [PEOPLE[2]]


async def test_answering_again_after_an_erasure_is_not_a_place_come_up(bot: Harness) -> None:
    await link(bot, NORTH, "North")
    event_id = await announced(bot, capacity="2")
    for person in PEOPLE[:3]:
        await bot.press("event.rsvp", f"{event_id}:going", person)
    await bot.core.erasure.erase(PEOPLE[0].identity)  # PEOPLE[2] moves up
    await bot.press("event.rsvp", f"{event_id}:maybe", PEOPLE[1])
    await bot.press("event.rsvp", f"{event_id}:going", PEOPLE[1])  # a place, pressed anew
    bot.adapter.sent.clear()
    await bot.tick()
    assert [s.user for s in bot.adapter.of_kind("direct")] == [PEOPLE[2]]
