"""Planning regional events: checking a plan, keeping it, and queueing everything that
follows from it (the announcement, reminders, the start and the end, and word of changes)
as persistent jobs, which bot/services/event_delivery.py carries out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import to_text
from bot.commands import CommandError
from bot.events import Checked, EventRepository, Plan, check_plan
from bot.localtime import days_before
from bot.model import Role
from bot.ports import Clock
from bot.records import Event, EventStatus, JobState
from bot.scheduler import Scheduler
from bot.services.event_delivery import ANNOUNCE, EventDelivery, told_of
from bot.services.prompts import PromptCatalogue
from bot.services.regions import Regions

CHANGED = "event.changed"
FREED = "event.freed"  # an erasure freed places: who moved up is told, the counts updated
REMIND = "event.remind"
START = "event.start"
END = "event.end"


class EventPlanning:
    def __init__(
        self,
        events: EventRepository,
        regions: Regions,
        catalogue: PromptCatalogue,
        delivery: EventDelivery,
        clock: Clock,
        scheduler: Scheduler,
        *,
        timezone: ZoneInfo,
        reminders: Sequence[timedelta],
    ) -> None:
        self._events = events
        self._regions = regions
        self._catalogue = catalogue
        self._delivery = delivery
        self._clock = clock
        self._scheduler = scheduler
        self._tz = timezone
        self._reminders = tuple(reminders)

    async def create(self, plan: Plan, organiser: str) -> Event:
        """Check and keep a plan, and queue its announcement. Raises PlanProblems."""
        checked = await self.check(plan)
        now = self._clock.now()
        event = await self._events.add(
            Event(
                0,
                checked.title,
                checked.region,
                checked.starts_at,
                checked.duration,
                self._tz.key,
                now,
                now,
                location=checked.location,
                description=checked.description,
                capacity=checked.capacity,
                topic=checked.topic,
                organiser=organiser,
            )
        )
        await self._scheduler.once(
            ANNOUNCE, {"event": event.id}, now, f"event-announce:{event.id}", owner=organiser
        )
        await self._queue_timed(event)
        return event

    async def edit(self, event_id: int, changes: dict[str, str], actor: str, role: Role) -> Event:
        """Change an event (fields as the form or command line give them); the event as it
        was, same ``sequence``, when nothing changes. Raises PlanProblems, or CommandError
        for someone who may not change it."""
        event = await self.may_edit(event_id, actor, role)
        local = event.starts_at.astimezone(self._tz)
        plan = Plan(
            changes.get("title", event.title),
            changes.get("region", self._regions.label(event.region)),
            changes.get("start", f"{local:%Y-%m-%d %H:%M}"),
            changes.get("duration", str(int(event.duration.total_seconds() // 60))),
            changes.get("location", event.location),
            changes.get("capacity", "" if event.capacity is None else str(event.capacity)),
            changes.get("description", event.description),
            changes.get("topic", event.topic),
        )
        checked = await self.check(plan, keep_start=event.starts_at)
        proposed = replace(
            event,
            title=checked.title,
            region=checked.region,
            starts_at=checked.starts_at,
            duration=checked.duration,
            location=checked.location,
            description=checked.description,
            capacity=checked.capacity,
            topic=checked.topic,
        )
        if proposed == event:
            return event  # saved as it was: nobody is told it "has changed"
        saved = await self._events.save(proposed)
        updated = saved.event
        await self._queue_timed(updated)
        await self._queue_changed(updated, saved.was)
        before, after = saved.attendance
        await self._delivery.promote(updated, before, after, skip="")
        await self._delivery.moved_down(updated, before, after)
        return updated

    async def cancel(self, event_id: int, actor: str, role: Role) -> Event:
        event = await self.may_cancel(event_id, actor, role)
        cancelled = (await self._events.save(_with_status(event, EventStatus.CANCELLED))).event
        await self._queue_changed(cancelled)
        return cancelled

    async def may_cancel(self, event_id: int, actor: str, role: Role) -> Event:
        """The event, if ``actor`` may cancel it: asked before a confirmation is offered,
        so that nobody is asked to confirm what would then be refused."""
        event = await self.may_change(event_id, actor, role)
        if event.cancelled:
            raise CommandError(f"Event {event_id} was already cancelled.")
        if event.ends_at <= self._clock.now():
            raise CommandError(f"Event {event_id} has already taken place.")
        return event

    async def may_edit(self, event_id: int, actor: str, role: Role) -> Event:
        """The event, if ``actor`` may change it and it is still to come (or under way):
        people told of a change to a session they've been to would look for a new one."""
        event = await self.may_change(event_id, actor, role)
        if event.cancelled:
            raise CommandError(f"Event {event_id} has been cancelled, so it can't be changed.")
        if event.ends_at <= self._clock.now():
            raise CommandError(f"Event {event_id} has already taken place, so it can't be changed.")
        return event

    async def may_change(self, event_id: int, actor: str, role: Role) -> Event:
        event = await self._events.event(event_id)
        if event is None:
            raise CommandError(
                f"There's no event {event_id}; the list of events shows what's coming."
            )
        if role < Role.ADMIN and event.organiser != actor:
            raise CommandError(
                "Only the facilitator who planned this event, or an admin, can change it."
            )
        return event

    async def check(self, plan: Plan, keep_start: datetime | None = None) -> Checked:
        library = await self._catalogue.current()
        now = self._clock.now()
        if keep_start is not None and keep_start <= now:
            now = keep_start - timedelta(seconds=1)  # an edit may keep a start that passed
        return check_plan(
            plan,
            regions=self._regions.names,
            topics=[t.slug for t in library.topics],
            now=now,
            tz=self._tz,
        )

    async def _queue_timed(self, event: Event) -> None:
        """Reminders, the start and the end, keyed by the start: an edit that moves the event
        queues new ones, and the old ones find the event moved and do nothing."""
        now = self._clock.now()
        starts = to_text(event.starts_at)
        base = {"event": event.id, "starts": starts}
        zone = ZoneInfo(event.timezone)
        for offset in self._reminders:
            due = _before(event.starts_at, offset, zone)
            if due > now:
                minutes = int(offset.total_seconds() // 60)
                await self._scheduler.once(
                    REMIND,
                    base | {"offset": minutes},
                    due,
                    f"event-remind:{event.id}@{starts}-{minutes}m",
                    owner=event.organiser,
                )
        if event.topic:
            await self._scheduler.once(
                START, base, event.starts_at, f"event-start:{event.id}@{starts}"
            )
        # Keyed by the end too: a new length queues a new end, and the old one does nothing.
        ends = to_text(event.ends_at)
        await self._scheduler.once(
            END, base | {"ends": ends}, event.ends_at, f"event-end:{event.id}@{starts}-{ends}"
        )

    async def _queue_changed(self, event: Event, was: Event | None = None) -> None:
        """Queue word of a change; ``was``, the event before it, for the notice to say what
        changed (a cancellation needs none)."""
        payload: dict[str, object] = {"event": event.id, "sequence": event.sequence}
        if was is not None:
            told = told_of(was)
            # The change before, not yet told, will find the event changed again and stand
            # down: this one's notice says what changed since people last heard.
            earlier = await self._scheduler.find(f"event-changed:{event.id}#{event.sequence - 1}")
            if earlier is not None and earlier.state in (JobState.PENDING, JobState.RUNNING):
                told = json.loads(earlier.payload).get("was", told)
            payload["was"] = told
        await self._scheduler.once(
            CHANGED, payload, self._clock.now(), f"event-changed:{event.id}#{event.sequence}"
        )


def _before(starts_at: datetime, offset: timedelta, zone: ZoneInfo) -> datetime:
    """When a reminder ``offset`` ahead of ``starts_at`` is due. Whole days count on the
    event's local calendar, so "7 days before" a 10:00 session is at 10:00 even across a
    clock change; hours and minutes are exact lengths of time."""
    if offset % timedelta(days=1):
        return starts_at - offset
    return days_before(starts_at, offset.days, zone)


def _with_status(event: Event, status: EventStatus) -> Event:
    return replace(event, status=status)
