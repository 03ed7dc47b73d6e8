"""Events in the console: what is coming and what happened in the last 30 days, by
region, with answers and waiting lists, and each past event's feedback round; a page for
one event, with who is going and who waits (the console is for facilitators and admins
only) and, once it has taken place, its feedback beside it, shown only from the round's
threshold as on the feedback pages; planning
an event (announced as one planned in chat is) and cancelling one, after a confirmation
step. Changes are POSTs with the CSRF token, and in the audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.commands import CommandError
from bot.console.audit import Audit
from bot.console.charts import bar_chart
from bot.console.web import Templates, Visitor, form_value, read_form
from bot.event_messages import who_is_told
from bot.events import Attendance, Plan, PlanProblems
from bot.feedback import FeedbackRepository, QuestionKind, summarise
from bot.people import People
from bot.ports import Clock
from bot.records import Event
from bot.services.events import EventsFeature
from bot.services.prompts import PromptCatalogue
from bot.timefmt import for_people

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature

PLAN_FIELDS = ("title", "region", "start", "duration", "location", "capacity", "description",
               "topic")  # fmt: skip


@dataclass(frozen=True)
class EventRow:
    event: Event
    attendance: Attendance
    feedback_round: int | None


class EventsPages:
    def __init__(
        self,
        events: EventsFeature,
        regions: Sequence[str],
        catalogue: PromptCatalogue,
        feedback: FeedbackRepository,
        people: People,
        audit: Audit,
        clock: Clock,
        templates: Templates,
        timezone: ZoneInfo,
    ) -> None:
        self._feedback = feedback
        self._people = people
        self._feature = events
        self._events = events.repository
        # (slug, name): events keep the region in lower case, people read its name.
        self._regions = tuple((r.lower(), r) for r in regions)
        self._catalogue = catalogue
        self._audit = audit
        self._clock = clock
        self._templates = templates
        self._tz = timezone

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [
            web.get("/console/events", console.guarded(self.page)),
            web.post("/console/events/new", console.guarded(self.plan)),
            web.post("/console/events/cancel", console.guarded(self.cancel)),
            web.get("/console/events/{id}", console.guarded(self.event_page)),
            web.get("/console/events/{id}/edit", console.guarded(self.edit_page)),
            web.post("/console/events/{id}/edit", console.guarded(self.edit)),
        ]

    async def page(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        status: int = 200,
        done: str = "",
        problem: str = "",
        plan: Mapping[str, str] | None = None,
        plan_problems: Mapping[str, str] | None = None,
    ) -> web.StreamResponse:
        region = request.query.get("region", "").strip().lower()[:40]
        rows: list[EventRow] = []
        if region and region not in dict(self._regions):
            names = ", ".join(name for _, name in self._regions)
            problem, status = f"There's no region called that; the regions are {names}.", 400
        else:
            rows = [
                EventRow(
                    e,
                    Attendance.of(await self._events.rsvps(e.id), e.capacity),
                    await self._events.feedback_round(e.id),
                )
                for e in await self._events.upcoming_and_recent(region or None)
            ]
        now = self._clock.now()
        library = await self._catalogue.current()
        return self._templates.render(
            "events.html",
            status=status,
            visitor=visitor,
            regions=self._regions,
            topics=[(t.slug, t.title) for t in library.topics],
            region=region,
            upcoming=[r for r in rows if r.event.ends_at > now],
            past=sorted(
                (r for r in rows if r.event.ends_at <= now),
                key=lambda r: r.event.starts_at,
                reverse=True,
            ),
            problem=problem,
            done=done,
            plan=plan or {},
            plan_problems=plan_problems or {},
            may_change=lambda e: visitor.is_admin or e.organiser == visitor.identity,
        )

    async def plan(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await read_form(request)
        given = {name: form_value(form, name, 3000) for name in PLAN_FIELDS}
        plan = Plan(**given)
        try:
            event = await self._feature.create(plan, visitor.identity)
        except PlanProblems as problems:
            return await self.page(
                request, visitor, status=400, plan=given, plan_problems=problems.problems
            )
        await self._audit.record(visitor.identity, "event planned", f"{event.id}: {event.title}")
        planned = f"Planned: {event.title}, {for_people(event.starts_at, self._tz)}."
        if not await self._feature.linked(event.region):
            label = dict(self._regions).get(event.region, event.region)
            return await self.page(
                request,
                visitor,
                done=f"{planned} No channel is linked to {label} yet, so nobody has heard of "
                f"it: a facilitator's "
                f"{self._templates.words.everywhere(f'region link {label}')}, in the channel "
                "that should, announces it there.",
            )
        return await self.page(
            request,
            visitor,
            done=f"{planned} copbot announces it in the channels linked to its region within "
            "a minute.",
        )

    async def event_page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        event = await self._event(request.match_info["id"])
        if event is None:
            return self._templates.render(
                "refused.html",
                status=404,
                visitor=visitor,
                message="There's no event here. The events page lists them all.",
            )
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        names = await self._people.names([*attendance.going, *attendance.waiting, event.organiser])
        past = event.ends_at <= self._clock.now()
        round_id = await self._events.feedback_round(event.id) if past else None
        round_ = await self._feedback.get(round_id) if round_id is not None else None
        results = summarise(round_, await self._feedback.answers(round_.id)) if round_ else None
        charts = {
            q.question.id: bar_chart(q.distribution)
            for q in (results.questions if results else ())
            if q.question.kind in (QuestionKind.RATING, QuestionKind.CHOICE)
        }
        library = await self._catalogue.current()
        topic = library.topic(event.topic) if event.topic else None
        return self._templates.render(
            "event.html",
            visitor=visitor,
            event=event,
            region=dict(self._regions).get(event.region, event.region),
            topic=topic.title if topic else event.topic,
            attendance=attendance,
            names=names,
            past=past,
            results=results,
            charts=charts,
            may_change=not past
            and not event.cancelled
            and (visitor.is_admin or event.organiser == visitor.identity),
        )

    async def _event(self, given: str) -> Event | None:
        """The event numbered ``given``; None for no such event or not a number."""
        if given.isascii() and given.isdigit() and len(given) < 10:
            return await self._events.event(int(given))
        return None

    async def _changeable(self, request: web.Request, visitor: Visitor) -> Event | None:
        event = await self._event(request.match_info["id"])
        if event is None or event.cancelled or event.ends_at <= self._clock.now():
            return None
        return event if visitor.is_admin or event.organiser == visitor.identity else None

    async def edit_page(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        status: int = 200,
        plan: Mapping[str, str] | None = None,
        plan_problems: Mapping[str, str] | None = None,
    ) -> web.StreamResponse:
        event = await self._changeable(request, visitor)
        if event is None:
            return self._templates.render(
                "refused.html",
                status=404,
                visitor=visitor,
                message=(
                    "There's no event here that you can change: it may have taken place or "
                    "been cancelled, or been planned by someone else (an admin can change it)."
                ),
            )
        local = event.starts_at.astimezone(self._tz)
        current = {
            "title": event.title,
            "region": dict(self._regions).get(event.region, event.region),
            "start": f"{local:%Y-%m-%dT%H:%M}",
            "duration": str(int(event.duration.total_seconds() // 60)),
            "location": event.location,
            "capacity": "" if event.capacity is None else str(event.capacity),
            "description": event.description,
            "topic": event.topic,
        }
        library = await self._catalogue.current()
        return self._templates.render(
            "edit_event.html",
            status=status,
            visitor=visitor,
            event=event,
            regions=self._regions,
            topics=[(t.slug, t.title) for t in library.topics],
            plan=plan or current,
            plan_problems=plan_problems or {},
        )

    async def edit(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        event = await self._changeable(request, visitor)
        if event is None:
            return await self.edit_page(request, visitor)
        form = await read_form(request)
        given = {name: form_value(form, name, 3000) for name in PLAN_FIELDS}
        try:
            changed = await self._feature.edit(event.id, given, visitor.identity, visitor.role)
        except PlanProblems as problems:
            return await self.edit_page(
                request, visitor, status=400, plan=given, plan_problems=problems.problems
            )
        except CommandError as refused:
            return await self.page(request, visitor, status=400, problem=str(refused))
        if changed.sequence == event.sequence:
            return await self.page(
                request,
                visitor,
                done=f"Nothing has changed in {changed.title}, so nobody has been messaged.",
            )
        await self._audit.record(visitor.identity, "event changed", f"{event.id}: {changed.title}")
        return await self.page(
            request,
            visitor,
            done=(
                f"Changed: {changed.title}, {for_people(changed.starts_at, self._tz)}. Its "
                f"announcements are updated. {who_is_told(event, changed)}"
            ),
        )

    async def cancel(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """First a page that asks to confirm, naming the event; then the cancelling."""
        form = await read_form(request)
        given = form_value(form, "event")
        event = (
            await self._events.event(int(given))
            if given.isascii() and given.isdigit() and len(given) < 10
            else None
        )
        if event is None:
            return await self.page(
                request, visitor, status=400, problem="There's no such event to cancel."
            )
        if form_value(form, "confirm") != "yes":
            try:  # refused now, not after a confirmation that promised otherwise
                await self._feature.may_cancel(event.id, visitor.identity, visitor.role)
            except CommandError as refused:
                return await self.page(request, visitor, status=400, problem=str(refused))
            going = len(Attendance.of(await self._events.rsvps(event.id), event.capacity).going)
            return self._templates.render(
                "cancel_event.html", visitor=visitor, event=event, going=going
            )
        try:
            await self._feature.cancel_event(event.id, visitor.identity, visitor.role)
        except CommandError as refused:
            return await self.page(request, visitor, status=400, problem=str(refused))
        await self._audit.record(visitor.identity, "event cancelled", f"{event.id}: {event.title}")
        return await self.page(
            request,
            visitor,
            done=(
                f"Cancelled {event.title}. Its announcements say so, and people going, "
                "waiting or maybe are told."
            ),
        )
