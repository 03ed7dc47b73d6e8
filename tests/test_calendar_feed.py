"""Calendar files made from events, read back with the icalendar parser: zones across the
UK's clock changes, stable UIDs, SEQUENCE and STATUS, escaping, which events each feed
holds, and nothing about people."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calendar_feed import FeedSite, event_address, feed, feed_address, single
from bot.records import Event, EventStatus

SITE = FeedSite("https://copbot.example.org:8443", ("North", "Midlands", "London", "National"))
CREATED = datetime(2027, 3, 1, 9, tzinfo=UTC)


def event(event_id: int = 7, **changes: object) -> Event:
    base = Event(
        id=event_id,
        title="Unconscious bias: a reflection session",
        region="north",
        starts_at=datetime(2027, 4, 8, 9, 0, tzinfo=UTC),
        duration=timedelta(minutes=90),
        timezone="Europe/London",
        created_at=CREATED,
        updated_at=CREATED,
        location="Leeds, Room 2",
        description="Bring a colleague.",
        organiser="slack:T1:U-PRIYA",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def parsed(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def vevents(data: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in parsed(data).events}


@pytest.mark.parametrize(
    ("starts_at", "local"),
    [
        # 8 April 2027, after the clocks go forward (28 March): 10:00 BST is 09:00 UTC.
        (datetime(2027, 4, 8, 9, 0, tzinfo=UTC), "20270408T100000"),
        # 5 November 2026, after they go back (25 October): 10:00 GMT is 10:00 UTC.
        (datetime(2026, 11, 5, 10, 0, tzinfo=UTC), "20261105T100000"),
    ],
)
def test_a_session_at_10_london_is_10_local_in_its_zone_after_each_clock_change(
    starts_at: datetime, local: str
) -> None:
    data = single(event(starts_at=starts_at), SITE)
    assert f"DTSTART;TZID=Europe/London:{local}".encode() in data
    [vevent] = parsed(data).events
    assert (vevent.start.hour, vevent.start.minute) == (10, 0)
    assert vevent.start.astimezone(UTC) == starts_at
    assert vevent.end.astimezone(UTC) == starts_at + timedelta(minutes=90)
    # The zone travels with the file, so a calendar elsewhere needs no table of its own.
    [zone] = parsed(data).timezones
    assert zone.tz_name == "Europe/London"
    assert zone.to_tz().utcoffset(vevent.start.replace(tzinfo=None)) == (
        timedelta(hours=1) if starts_at.month == 4 else timedelta(0)
    )


def test_a_session_ending_in_the_hour_the_clocks_repeat_ends_when_it_does() -> None:
    """01:30 BST for an hour, on the night the clocks go back: it ends at 01:30 GMT, which
    a calendar can't tell from 01:30 BST written in the zone."""
    starts_at = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    [vevent] = parsed(single(event(starts_at=starts_at, duration=timedelta(hours=1)), SITE)).events
    assert vevent.start.astimezone(UTC) == starts_at
    assert vevent.end.astimezone(UTC) == starts_at + timedelta(hours=1)


def test_uids_are_stable_and_name_the_event_and_the_public_host() -> None:
    first = vevents(single(event(), SITE))
    assert list(first) == ["event-7@copbot.example.org"]
    edited = event(title="Moved", starts_at=datetime(2027, 5, 1, 9, tzinfo=UTC), sequence=3)
    assert list(vevents(single(edited, SITE))) == list(first)
    assert list(vevents(single(event(8), SITE))) == ["event-8@copbot.example.org"]
    # Moving copbot to another port keeps them; the same event is not added twice.
    moved = FeedSite("https://copbot.example.org", SITE.regions)
    assert list(vevents(single(event(), moved))) == list(first)


def test_sequence_and_status_follow_the_event() -> None:
    [planned] = parsed(single(event(), SITE)).events
    assert planned["SEQUENCE"] == 0 and planned["STATUS"] == "CONFIRMED"
    changed = event(sequence=2, starts_at=datetime(2027, 4, 9, 13, 30, tzinfo=UTC))
    [vevent] = parsed(single(changed, SITE)).events
    assert vevent["SEQUENCE"] == 2 and vevent.start.astimezone(UTC) == changed.starts_at
    [cancelled] = parsed(single(event(status=EventStatus.CANCELLED, sequence=3), SITE)).events
    assert cancelled["STATUS"] == "CANCELLED" and cancelled["SEQUENCE"] == 3


def test_the_events_own_file_updates_the_copy_added_from_it_and_once_cancelled_removes_it() -> None:
    """Someone who added the event from its link has a copy of their own: its file, opened
    again, publishes the change, or cancels the event (RFC 5546), under the same UID."""
    live = parsed(single(event(sequence=2), SITE))
    assert live["METHOD"] == "PUBLISH"
    gone = parsed(single(event(status=EventStatus.CANCELLED, sequence=3), SITE))
    assert gone["METHOD"] == "CANCEL"
    assert gone.events[0]["UID"] == live.events[0]["UID"] == "event-7@copbot.example.org"
    # A feed is subscribed to, never imported: no METHOD, its cancelled events only marked.
    assert "METHOD" not in parsed(feed([event(status=EventStatus.CANCELLED)], "north", SITE))


def test_an_event_carries_its_details_and_its_own_address() -> None:
    [vevent] = parsed(single(event(updated_at=CREATED + timedelta(days=2)), SITE)).events
    assert str(vevent["SUMMARY"]) == "Unconscious bias: a reflection session"
    assert str(vevent["LOCATION"]) == "Leeds, Room 2"
    assert str(vevent["DESCRIPTION"]) == "Bring a colleague."
    assert str(vevent["URL"]) == "https://copbot.example.org:8443/calendar/event/7.ics"
    assert vevent.stamp == CREATED + timedelta(days=2)  # when it last changed
    assert vevent.categories == ["North"]


# Every character people can type, and the ones iCalendar treats specially.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80) | st.sampled_from(
    ["a, b; c\nd", "\\n is not a newline", "semi;colon,comma\\back", "line\r\nbreak"]
)


def test_a_backslash_before_a_capital_n_stays_a_backslash() -> None:
    """A shared drive's name, not a line break in the middle of it."""
    share = "Slides: \\\\NHSFS01\\IPS\\North"
    data = single(event(location=share, description=share, title="A \\N"), SITE)
    [vevent] = parsed(data).events
    assert str(vevent["LOCATION"]) == str(vevent["DESCRIPTION"]) == share
    assert str(vevent["SUMMARY"]) == "A \\N"


@given(title=TEXT, description=TEXT, location=TEXT)
def test_text_survives_the_round_trip(title: str, description: str, location: str) -> None:
    data = single(event(title=title, description=description, location=location), SITE)
    [vevent] = parsed(data).events

    def kept(text: str) -> str:
        # Line breaks become one kind and control characters go (RFC 5545 allows no C0
        # others, and copbot keeps no C1 ones anywhere).
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        for line_end in "\x0b\x0c\x85":
            text = text.replace(line_end, "\n")
        return "".join(c for c in text if c in "\t\n" or not (ord(c) < 32 or 127 <= ord(c) < 160))

    assert str(vevent.get("SUMMARY", "")) == kept(title)
    assert str(vevent.get("DESCRIPTION", "")) == kept(description)
    assert str(vevent.get("LOCATION", "")) == kept(location)


def test_a_region_feed_holds_its_events_and_the_national_ones() -> None:
    north = event(1, region="north")
    london = event(2, region="london")
    national = event(3, region="national")
    cancelled = event(4, region="north", status=EventStatus.CANCELLED)
    every = [north, london, national, cancelled]
    in_north = vevents(feed(every, "north", SITE))
    assert sorted(in_north) == [f"event-{n}@copbot.example.org" for n in (1, 3, 4)]
    assert sorted(vevents(feed(every, "london", SITE))) == [
        f"event-{n}@copbot.example.org" for n in (2, 3)
    ]
    assert list(vevents(feed(every, "national", SITE))) == ["event-3@copbot.example.org"]
    assert len(vevents(feed(every, "all", SITE))) == 4
    assert vevents(feed(every, "midlands", SITE)).keys() == {"event-3@copbot.example.org"}


def test_a_feed_is_named_refreshes_and_reads_the_same_until_something_changes() -> None:
    data = feed([event(1), event(2, region="national")], "north", SITE)
    calendar = parsed(data)
    assert calendar["X-WR-CALNAME"] == "North events" and calendar.calendar_name == "North events"
    assert calendar.refresh_interval == timedelta(hours=1)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    assert "national ones included" in calendar.description
    assert feed([event(1), event(2, region="national")], "north", SITE) == data
    assert feed([event(1, sequence=1), event(2, region="national")], "north", SITE) != data
    empty = parsed(feed([], "london", SITE))
    assert empty.events == [] and empty["X-WR-CALNAME"] == "London events"


def test_nobody_is_named_in_a_calendar_file() -> None:
    data = feed([event(1), event(2)], "all", SITE) + single(event(), SITE)
    assert b"PRIYA" not in data.upper()
    assert b"ORGANIZER" not in data and b"ATTENDEE" not in data


def test_an_unknown_zone_keeps_the_instant_in_utc() -> None:
    [vevent] = parsed(single(event(timezone="Mars/Olympus_Mons"), SITE)).events
    assert vevent.start == datetime(2027, 4, 8, 9, 0, tzinfo=UTC)


def test_addresses_are_made_from_the_public_url_or_not_at_all() -> None:
    assert event_address("https://copbot.example.org/", 12) == (
        "https://copbot.example.org/calendar/event/12.ics"
    )
    assert feed_address("https://copbot.example.org", "North East") == (
        "https://copbot.example.org/calendar/north%20east.ics"
    )
    assert event_address("", 12) == "" and feed_address("", "north") == ""
