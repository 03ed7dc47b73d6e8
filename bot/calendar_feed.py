"""Events as iCalendar (.ics): a feed per region, one for every region, and one per event.

Pure: events in, bytes out. The ``icalendar`` library does the escaping, line folding and
time zones. A feed holds what a calendar needs and nothing about people: no organiser,
no answers, nobody's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.markup import kept_text
from bot.records import Event

if TYPE_CHECKING:
    import icalendar

# icalendar (and its time zone tables) is imported by the functions that build a calendar,
# on the first calendar asked for: most copbots serve none, and it weighs some 4 MB.

NATIONAL = "national"
ALL = "all"  # /calendar/all.ics: every region's events
PRODID = "-//copbot//Regional events//EN"
# How often a subscribed calendar should look again (RFC 7986, and Outlook's own name).
REFRESH = timedelta(hours=1)
UNNAMED_HOST = "copbot.invalid"  # UIDs when no public address is set (tests, first runs)


@dataclass(frozen=True)
class FeedSite:
    """Where copbot is reached, for UIDs and links; the region names, for titles."""

    public_url: str  # COPBOT_PUBLIC_URL, or what `copbot serve` bound; "" for none
    regions: tuple[str, ...]  # as configured: ("North", "Midlands", ...)

    @property
    def host(self) -> str:
        # The host alone (no port): a UID must not change when copbot moves port.
        return urlsplit(self.public_url).hostname or UNNAMED_HOST

    def label(self, slug: str) -> str:
        return next((r for r in self.regions if r.lower() == slug), slug.title())


def event_address(public_url: str, event_id: int) -> str:
    """Where one event's .ics is served, or "" when copbot has no public address."""
    base = public_url.rstrip("/")
    return f"{base}/calendar/event/{event_id}.ics" if base else ""


def feed_address(public_url: str, region: str) -> str:
    """Where a region's feed (or ``all``) is served, or "" without a public address."""
    base = public_url.rstrip("/")
    return f"{base}/calendar/{quote(region.lower())}.ics" if base else ""


def uid(event_id: int, site: FeedSite) -> str:
    """Stable for the event's life, so a calendar updates the event instead of adding one."""
    return f"event-{event_id}@{site.host}"


def in_feed(event: Event, region: str) -> bool:
    """National events appear in every region's feed; ``all`` holds every event."""
    return region in (ALL, event.region) or event.region == NATIONAL


def feed(events: Iterable[Event], region: str, site: FeedSite) -> bytes:
    """The feed for ``region`` (a lower-case slug, or ``all``) from these events."""
    chosen = [e for e in events if in_feed(e, region)]
    if region == ALL:
        name = "Regional events"
        about = "Every region's community of practice sessions, from copbot."
    elif region == NATIONAL:
        name = f"{site.label(region)} events"
        about = "National community of practice sessions, from copbot."
    else:
        label = site.label(region)
        name = f"{label} events"
        about = f"Community of practice sessions for {label}, from copbot, national ones included."
    calendar = _calendar(name, f"feed-{region}@{site.host}", site)
    calendar.description = about
    return _finished(calendar, chosen, site)


def single(event: Event, site: FeedSite) -> bytes:
    """One event, for "Add to calendar". No calendar name or refresh hint: with them, some
    calendars offer to add a whole new calendar rather than the event. A METHOD, unlike the
    feeds: opened again after a change it updates the copy added before (the same UID, a
    higher SEQUENCE), and once cancelled (CANCEL) removes it."""
    import icalendar

    calendar = icalendar.Calendar.new(
        prodid=PRODID,
        uid=f"calendar-event-{event.id}@{site.host}",
        method="CANCEL" if event.cancelled else "PUBLISH",
    )
    return _finished(calendar, [event], site)


def _calendar(name: str, calendar_uid: str, site: FeedSite) -> icalendar.Calendar:
    import icalendar

    calendar = icalendar.Calendar.new(
        prodid=PRODID,
        name=name,  # NAME and X-WR-CALNAME
        uid=calendar_uid,  # given, or the library makes a random one and every copy differs
        refresh_interval=REFRESH,
        url=site.public_url or None,
    )
    # The same hint in the name Outlook and Google read.
    calendar.add("X-PUBLISHED-TTL", icalendar.vDuration(REFRESH))
    return calendar


def _finished(calendar: icalendar.Calendar, events: Sequence[Event], site: FeedSite) -> bytes:
    for event in events:
        calendar.add_component(_vevent(event, site))
    if events:
        # Only the years these events need: a zone's whole history would weigh far more.
        first = date(min(e.starts_at for e in events).year - 1, 1, 1)
        last = date(min(max(e.ends_at for e in events).year + 2, MAXYEAR), 1, 1)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return bytes(calendar.to_ical())


def _vevent(event: Event, site: FeedSite) -> icalendar.Event:
    import icalendar
    from icalendar.enums import STATUS

    zone = _zone(event.timezone)
    return icalendar.Event.new(
        uid=uid(event.id, site),
        summary=_text(event.title),
        start=_local(event.starts_at, zone),
        end=_local(event.ends_at, zone),
        # When the event last changed (RFC 5545 3.8.7.2, as feeds have no METHOD; for the
        # one event's file, whose copy this is), which also keeps a calendar's bytes, and so
        # its ETag, the same until something changes.
        stamp=event.updated_at.astimezone(UTC),
        created=event.created_at.astimezone(UTC),
        last_modified=event.updated_at.astimezone(UTC),
        sequence=event.sequence,
        status=STATUS.CANCELLED if event.cancelled else STATUS.CONFIRMED,
        location=_text(event.location) or None,
        description=_text(event.description) or None,
        url=event_address(site.public_url, event.id) or None,
        categories=[site.label(event.region)],
    )


def _text(text: str) -> str:
    """Text as iCalendar may carry it: one kind of line break, no control characters
    (RFC 5545 allows none but tab), each backslash kept as written."""
    from bot.calendar_text import LiteralText

    return LiteralText(kept_text(text.replace("\r\n", "\n").replace("\r", "\n")))


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The moment in its zone; in UTC when it falls in the hour the clocks go through twice
    for the second time: calendars read a repeated local time as the first, so a session
    ending at 01:30 GMT on the night they go back would end as it starts, at 01:30 BST."""
    local = moment.astimezone(zone)
    return moment.astimezone(UTC) if local.fold else local


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A zone this machine doesn't know: UTC is still the right instant.
        return ZoneInfo("UTC")
