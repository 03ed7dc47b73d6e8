"""Calendar feeds over HTTP: a region's events to subscribe to, every region's, and one event.

``GET /calendar/north.ics`` (a configured region, whatever its case; national events are
in every region's feed), ``GET /calendar/all.ics`` and ``GET /calendar/event/ID.ics``.
Calendars can't sign in, so anyone who can reach copbot may read them: they hold events
only, never who answered or who organised.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from bot.calendar_feed import ALL, FeedSite, feed, single
from bot.events import find_region
from bot.records import Event
from bot.registry import Registry

CONTENT_TYPE = "text/calendar"
NO_FEED = (
    "There's no calendar at this address. Each region has one, like /calendar/north.ics, "
    "and /calendar/all.ics has every region's events."
)
NO_EVENT = "There's no event at this address. It may have been a mistyped link."
MAX_ID_DIGITS = 18  # past this, no event of ours (SQLite ids are 64-bit)
KEPT_FEEDS = 32  # rendered feeds kept: every region's and all.ics, with room to spare
# What a feed's bytes depend on: the feed, and each event's identity and last change.
FeedKey = tuple[str, tuple[tuple[int, int, str], ...]]


class EventSource(Protocol):
    async def upcoming_and_recent(self, region: str | None) -> Sequence[Event]:
        """Events of a region (None: all), with cancelled ones and those ended lately."""
        ...

    async def event(self, event_id: int) -> Event | None: ...


class CalendarFeedsFeature:
    def __init__(self, events: EventSource, site: FeedSite) -> None:
        self._events = events
        self._site = site
        # Calendars poll every hour, each subscriber apart; the feed changes far less often.
        self._rendered: OrderedDict[FeedKey, bytes] = OrderedDict()

    def register(self, registry: Registry) -> None:
        registry.route(*self.routes())

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/calendar/event/{id}.ics", self.one_event),
            web.get("/calendar/{region}.ics", self.region_feed),
        ]

    async def region_feed(self, request: web.Request) -> web.StreamResponse:
        wanted = request.match_info["region"]
        if wanted.lower() == ALL:
            region = ALL
        else:
            found = find_region(wanted, self._site.regions)
            if found is None:
                raise web.HTTPNotFound(text=NO_FEED)
            region = found.lower()
        # All events, not the region's alone: national ones belong in every region's feed.
        events = await self._events.upcoming_and_recent(None)
        return _calendar_response(request, await self._feed(events, region))

    async def _feed(self, events: Sequence[Event], region: str) -> bytes:
        key: FeedKey = (region, tuple((e.id, e.sequence, e.updated_at.isoformat()) for e in events))
        if (body := self._rendered.get(key)) is not None:
            self._rendered.move_to_end(key)
            return body
        # Rendering hundreds of events takes a good part of a second: not on the event loop.
        body = await asyncio.to_thread(feed, events, region, self._site)
        self._rendered[key] = body
        if len(self._rendered) > KEPT_FEEDS:
            self._rendered.popitem(last=False)
        return body

    async def one_event(self, request: web.Request) -> web.StreamResponse:
        text = request.match_info["id"]
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
            raise web.HTTPNotFound(text=NO_EVENT)
        event = await self._events.event(int(text))
        if event is None:
            raise web.HTTPNotFound(text=NO_EVENT)
        response = _calendar_response(request, single(event, self._site))
        response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}.ics"'
        response.last_modified = event.updated_at
        return response


def _calendar_response(request: web.Request, body: bytes) -> web.Response:
    # The bytes depend only on the events (DTSTAMP is their last change), so their hash
    # is an ETag that changes exactly when a calendar has something new to fetch.
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"Cache-Control": "no-cache"}  # keep it, but ask again each time
    if any(tag.value == etag for tag in request.if_none_match or ()):
        response = web.Response(status=304, headers=headers)
    else:
        response = web.Response(
            body=body, content_type=CONTENT_TYPE, charset="utf-8", headers=headers
        )
    response.etag = etag
    return response
