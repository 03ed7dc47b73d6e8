"""Calendar feeds served over HTTP from the whole core: events planned as facilitators plan
them, fetched as a calendar fetches them, following edits and cancellations; addresses
that lead nowhere get a 404 with a line people can read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.events import Answer, Plan
from bot.model import Role
from bot.services.events import EventsFeature
from bot.settings import Settings
from tests.support.harness import ALEX, PRIYA, SAM, Harness

PUBLIC = "http://copbot.test"


@dataclass
class Served:
    bot: Harness
    client: TestClient

    @property
    def events(self) -> EventsFeature:
        return self.bot.core.feature(EventsFeature)

    async def plan(self, **overrides: str) -> int:
        values = {"title": "Use of language", "region": "North", "start": "2026-12-03 10:00"}
        event = await self.events.create(Plan(**(values | overrides)), PRIYA.identity)
        return event.id

    async def ics(self, path: str) -> icalendar.Calendar:
        async with self.client.get(path) as response:
            assert response.status == 200, await response.text()
            assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
            return icalendar.Calendar.from_ical(await response.read())

    async def uids(self, path: str) -> list[str]:
        return [str(e["UID"]) for e in (await self.ics(path)).events]


@pytest.fixture
async def served(db_path: Path) -> AsyncIterator[Served]:
    settings = Settings(db_path=db_path, admins=frozenset({ALEX.identity}), public_url=PUBLIC)
    bot = Harness.open(db_path, settings)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    app = web.Application()
    app.router.add_routes(bot.core.registry.routes)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield Served(bot, client)
    await client.close()
    bot.close()


def uid(event_id: int) -> str:
    return f"event-{event_id}@copbot.test"


@pytest.mark.parametrize(
    ("today", "start", "utc"),
    [
        # Planned in winter time for a date after the clocks go forward (28 March 2027).
        (datetime(2027, 3, 20, 9, tzinfo=UTC), "2027-04-08 10:00", datetime(2027, 4, 8, 9, 0)),
        # Planned in summer time for a date after they go back (25 October 2026).
        (datetime(2026, 10, 20, 9, tzinfo=UTC), "2026-11-05 10:00", datetime(2026, 11, 5, 10, 0)),
    ],
)
async def test_10_london_is_10_local_in_every_feed_after_a_clock_change(
    served: Served, today: datetime, start: str, utc: datetime
) -> None:
    served.bot.clock.set(today)
    event_id = await served.plan(start=start)
    for path in (f"/calendar/event/{event_id}.ics", "/calendar/north.ics", "/calendar/all.ics"):
        [vevent] = (await served.ics(path)).events
        assert vevent.start.tzinfo is not None and str(vevent.start.tzinfo) == "Europe/London"
        assert (vevent.start.hour, vevent.start.minute) == (10, 0), path
        assert vevent.start.astimezone(UTC) == utc.replace(tzinfo=UTC), path


async def test_an_edit_raises_the_sequence_and_moves_the_times(served: Served) -> None:
    event_id = await served.plan()
    path = f"/calendar/event/{event_id}.ics"
    [before] = (await served.ics(path)).events
    await served.events.edit(event_id, {"start": "2026-12-04 14:30"}, PRIYA.identity, Role.STAFF)
    [after] = (await served.ics(path)).events
    assert after["UID"] == before["UID"] == uid(event_id)
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after.start.astimezone(UTC) == datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    [in_feed] = (await served.ics("/calendar/north.ics")).events
    assert in_feed["SEQUENCE"] == after["SEQUENCE"] and in_feed.start == after.start


async def test_a_cancelled_event_stays_in_the_feeds_marked_cancelled(served: Served) -> None:
    event_id = await served.plan()
    await served.events.cancel_event(event_id, PRIYA.identity, Role.STAFF)
    for path in (f"/calendar/event/{event_id}.ics", "/calendar/north.ics"):
        [vevent] = (await served.ics(path)).events
        assert vevent["STATUS"] == "CANCELLED" and vevent["SEQUENCE"] == 1


async def test_region_feeds_hold_their_region_and_national_events(served: Served) -> None:
    north = await served.plan(region="North")
    london = await served.plan(region="London")
    national = await served.plan(region="National")
    assert await served.uids("/calendar/north.ics") == [uid(north), uid(national)]
    assert await served.uids("/calendar/london.ics") == [uid(london), uid(national)]
    assert await served.uids("/calendar/midlands.ics") == [uid(national)]
    assert await served.uids("/calendar/national.ics") == [uid(national)]
    assert await served.uids("/calendar/all.ics") == [uid(north), uid(london), uid(national)]
    # The region is matched whatever its case; the calendar is named as configured.
    assert (await served.ics("/calendar/NoRtH.ics"))["X-WR-CALNAME"] == "North events"


async def test_nobody_who_answered_or_organised_is_in_a_feed(served: Served) -> None:
    event_id = await served.plan()
    await served.events.repository.answer(event_id, SAM.identity, Answer.GOING)
    for path in (f"/calendar/event/{event_id}.ics", "/calendar/north.ics", "/calendar/all.ics"):
        async with served.client.get(path) as response:
            body = (await response.read()).lower()
        assert b"sam" not in body and b"priya" not in body


async def test_the_single_event_is_a_download_and_feeds_answer_not_modified(
    served: Served,
) -> None:
    event_id = await served.plan()
    async with served.client.get(f"/calendar/event/{event_id}.ics") as response:
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="event-{event_id}.ics"'
        )
        assert response.headers["Last-Modified"]
    async with served.client.get("/calendar/north.ics") as response:
        etag = response.headers["ETag"]
    async with served.client.get("/calendar/north.ics", headers={"If-None-Match": etag}) as r:
        assert r.status == 304 and await r.read() == b""
    await served.events.edit(
        event_id, {"title": "Use of language, part 2"}, PRIYA.identity, Role.STAFF
    )
    async with served.client.get("/calendar/north.ics", headers={"If-None-Match": etag}) as r:
        assert r.status == 200 and r.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/calendar/yorkshire.ics", "There's no calendar at this address"),
        ("/calendar/event.ics", "There's no calendar at this address"),
        ("/calendar/event/999.ics", "There's no event at this address"),
        ("/calendar/event/abc.ics", "There's no event at this address"),
        ("/calendar/event/-1.ics", "There's no event at this address"),
        ("/calendar/event/%C2%B2.ics", "There's no event at this address"),  # "²" is a digit
        ("/calendar/event/" + "9" * 40 + ".ics", "There's no event at this address"),
    ],
)
async def test_addresses_that_lead_nowhere_get_a_friendly_404(
    served: Served, path: str, says: str
) -> None:
    await served.plan()
    async with served.client.get(path) as response:
        assert response.status == 404
        assert response.content_type == "text/plain"
        assert says in await response.text()


async def test_the_events_listing_offers_the_feed_to_subscribe_to(served: Served) -> None:
    await served.plan()
    north = await served.bot.reply_text("events north", SAM)
    assert f"subscribe to [North events]({PUBLIC}/calendar/north.ics)" in north
    everything = await served.bot.reply_text("events", SAM)
    assert f"subscribe to [every region's events]({PUBLIC}/calendar/all.ics)" in everything
    assert len(await served.uids("/calendar/north.ics")) == 1
    # Nothing planned for a region: no feed offered, only the plain answer.
    assert "subscribe" not in await served.bot.reply_text("events london", SAM)
