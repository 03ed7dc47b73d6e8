"""Events in the console, to read: what is coming and what happened in the last 30 days,
by region, with answers and waiting lists, and each past event's feedback round."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.web import Templates, Visitor
from bot.events import Attendance, EventRepository
from bot.ports import Clock
from bot.records import Event

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature


@dataclass(frozen=True)
class EventRow:
    event: Event
    attendance: Attendance
    feedback_round: int | None


class EventsPages:
    def __init__(
        self,
        events: EventRepository,
        regions: Sequence[str],
        clock: Clock,
        templates: Templates,
    ) -> None:
        self._events = events
        # (slug, name): events keep the region in lower case, people read its name.
        self._regions = tuple((r.lower(), r) for r in regions)
        self._clock = clock
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [web.get("/console/events", console.guarded(self.page))]

    async def page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        region = request.query.get("region", "").strip().lower()[:40]
        if region and region not in dict(self._regions):
            names = ", ".join(name for _, name in self._regions)
            return self._templates.render(
                "events.html", status=400, visitor=visitor, regions=self._regions,
                region=region, upcoming=[], past=[],
                problem=f"There's no region called that; the regions are {names}.",
            )  # fmt: skip
        now = self._clock.now()
        rows = [
            EventRow(
                e,
                Attendance.of(await self._events.rsvps(e.id), e.capacity),
                await self._events.feedback_round(e.id),
            )
            for e in await self._events.upcoming_and_recent(region or None)
        ]
        return self._templates.render(
            "events.html",
            visitor=visitor,
            regions=self._regions,
            region=region,
            upcoming=[r for r in rows if r.event.ends_at > now],
            past=sorted(
                (r for r in rows if r.event.ends_at <= now),
                key=lambda r: r.event.starts_at,
                reverse=True,
            ),
            problem="",
        )
