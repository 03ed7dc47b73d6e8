"""How events reach people once planned: announcements (one per channel, at most once,
through a ledger), updates in place, direct messages, reminders, the topic's prompt at the
start and the feedback round at the end. Each runs as a persistent job."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.chat import Chat
from bot.clock import from_text, to_text
from bot.event_messages import TOLD, announcement, changed, differences, reminder, when
from bot.events import Announcement, Attendance, EventRepository, LedgerState
from bot.feedback import (
    DEFAULT_QUESTIONS,
    DEFAULT_THRESHOLD,
    FeedbackRepository,
    Round,
    RoundState,
    new_key,
)
from bot.feedback_messages import answer_button
from bot.markup import escape
from bot.model import (
    Buttons,
    ChannelRef,
    Context,
    MessageRef,
    OutgoingMessage,
    Text,
    UserRef,
)
from bot.ports import Clock, DeliveryError, OutcomeUnknown
from bot.records import Event, Job
from bot.scheduler import Outcome, Scheduler
from bot.services.feedback import CLOSE_JOB
from bot.services.prompts import PromptCatalogue, PromptPublisher
from bot.services.regions import Regions
from bot.timefmt import for_people

log = logging.getLogger(__name__)

FEEDBACK_OPEN_DAYS = 14  # how long the round after an event takes answers
# Announcements in flight at once on each platform. The adapter keeps to the platform's
# limits; this bounds the connections one event opens, and is enough to keep up with
# Teams' 50 requests a second at 150 ms a request. Where copbot can't look for a post in
# doubt (Teams), a kill leaves each post then in flight 'unknown', for a person to check.
FANOUT = 8
ANNOUNCE = "event.announce"  # the job kind that announces an event


class EventDelivery:
    def __init__(
        self,
        events: EventRepository,
        regions: Regions,
        feedback: FeedbackRepository,
        catalogue: PromptCatalogue,
        publisher: PromptPublisher,
        chat: Chat,
        clock: Clock,
        scheduler: Scheduler,
        *,
        timezone: ZoneInfo,
        public_url: str,
    ) -> None:
        self._events = events
        self._regions = regions
        self._feedback = feedback
        self._catalogue = catalogue
        self._publisher = publisher
        self._chat = chat
        self._clock = clock
        self._scheduler = scheduler
        self._tz = timezone
        self._public_url = public_url
        self._announcing: dict[int, asyncio.Lock] = {}

    async def promote(
        self, event: Event, before: Attendance, after: Attendance, *, skip: str
    ) -> None:
        for person in after.going:
            if person not in before.going and person in before.waiting and person != skip:
                await self.direct(person, self._place_came_up(event))

    async def moved_down(self, event: Event, before: Attendance, after: Attendance) -> None:
        """Fewer places: those who had one and now wait are told, with their number."""
        for number, person in enumerate(after.waiting, start=1):
            if person in before.going:
                await self.direct(
                    person,
                    OutgoingMessage.of(
                        f"**{escape(event.title)}**, {when(event, self._tz)}, now has "
                        f"{event.capacity} places, fewer than before, so you're on its waiting "
                        f"list (number {number}). I'll message you if a place comes up."
                    ),
                )

    def _place_came_up(self, event: Event) -> OutgoingMessage:
        return OutgoingMessage.of(
            f"Good news: a place has come up, so you're now going to "
            f"**{escape(event.title)}**, {when(event, self._tz)}. If you can't make it "
            "after all, press Can't go on its announcement to free the place."
        )

    async def freed_job(self, job: Job) -> None:
        """After an erasure took someone's answers: those it moved up from the waiting list
        (``moved``, their seqs then) who still hold that place are told, and every
        announcement shows the new numbers."""
        payload = _payload(job)
        event = await self._events.event(payload["event"])
        if event is None or event.cancelled or event.ends_at <= self._clock.now():
            return
        rsvps = await self._events.rsvps(event.id)
        after = Attendance.of(rsvps, event.capacity)
        moved = set(payload.get("moved", []))
        seq = {r.person: r.seq for r in rsvps}
        for person in after.going:
            if seq[person] in moved:
                await self.direct(person, self._place_came_up(event))
        await self.refresh(event, after)

    async def direct(self, person: str, message: OutgoingMessage) -> None:
        try:
            await self._chat.send_direct(UserRef.parse(person), message)
        except Exception:
            # One person's closed direct messages mustn't stop the others being told.
            log.warning("a direct message about an event could not be sent", exc_info=False)

    async def refresh(self, event: Event, attendance: Attendance | None = None) -> None:
        """Every posted announcement, updated in place."""
        if attendance is None:
            attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        message = self.announcement_for(event, attendance)
        for posted in await self._events.announcements(event.id):
            if posted.state is LedgerState.POSTED:
                try:
                    await self._chat.update(_ref(posted), message)
                except Exception:
                    log.warning("updating an event announcement failed", exc_info=False)

    def announcement_for(self, event: Event, attendance: Attendance) -> OutgoingMessage:
        return announcement(
            event, attendance, self._regions.label(event.region), self._tz, self._public_url
        )

    # -- jobs ---------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """After a restart: finish announcing events whose announcing never completed."""
        for event in await self._events.unannounced():
            await self.announce(event)
            await self._events.record_announced(event.id)

    async def announce_job(self, job: Job) -> Outcome | None:
        event = await self._events.event(_payload(job)["event"])
        if event is None or event.cancelled:
            return None
        await self.announce(event)
        return Outcome(also=(self._events.mark_announced(event.id),))

    async def announce(self, event: Event) -> None:
        """One post per linked channel, exactly once where the platform lets copbot look: a
        ledger row is written before each post and completed after it.

        Platforms are announced to side by side, a few channels at a time on each: every
        adapter paces its own platform (per channel and as a whole), so a slow platform or a
        rate-limited channel never holds the others up."""
        # One run per event in this process, so a 'posting' row met here was left by a run
        # that stopped (a kill, a power cut), never by one still going. A lock per event
        # announced since copbot started: a handful a week, so they are kept.
        lock = self._announcing.setdefault(event.id, asyncio.Lock())
        async with lock:
            attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
            message = replace(self.announcement_for(event, attendance), mark=mark_of(event))
            by_platform: dict[str, list[ChannelRef]] = {}
            for channel in await self._regions.channels_for(event.region):
                by_platform.setdefault(channel.platform, []).append(channel)
            _raise_first(
                await asyncio.gather(
                    *(self._announce_on(event, message, c) for c in by_platform.values()),
                    return_exceptions=True,
                )
            )

    async def _announce_on(
        self, event: Event, message: OutgoingMessage, channels: list[ChannelRef]
    ) -> None:
        """One platform's channels, FANOUT at a time. A failure in one channel stops no
        other; the first is raised at the end."""
        waiting = iter(channels)  # shared: each channel is taken by one worker
        failures: list[Exception] = []

        async def worker() -> None:
            for channel in waiting:
                try:
                    await self._announce_in(event, message, channel)
                except Exception as e:
                    failures.append(e)

        await asyncio.gather(*(worker() for _ in range(min(FANOUT, len(channels)))))
        if failures:
            raise failures[0]

    async def _announce_in(
        self, event: Event, message: OutgoingMessage, channel: ChannelRef
    ) -> None:
        state = await self._events.begin_announcement(event.id, channel)
        if state in (LedgerState.POSTING, LedgerState.UNKNOWN):
            if not await self._still_to_post(event, channel, state):
                return
        elif state is not None:
            return  # posted, or refused for a reason retrying won't mend
        try:
            ref = await self._chat.post(channel, message)
        except OutcomeUnknown:
            await self._events.settle_announcement(event.id, channel, LedgerState.UNKNOWN)
            return
        except DeliveryError:
            await self._events.settle_announcement(event.id, channel, LedgerState.FAILED)
            return
        except Exception:
            # Nothing reached the platform: the job's retry may post it.
            await self._events.forget_announcement(event.id, channel)
            raise
        await self._events.settle_announcement(event.id, channel, LedgerState.POSTED, ref.id)

    async def _still_to_post(self, event: Event, channel: ChannelRef, state: LedgerState) -> bool:
        """A post whose outcome nobody knows (a run stopped mid-post, or the platform never
        answered): look for it in the channel, where the platform lets copbot look, and post
        only if it isn't there (a post the platform received is in its history well before
        copbot has restarted). Elsewhere it stays 'unknown' for a person to check, because
        posting again could post twice."""
        finder = self._chat.finder(channel.platform)
        found = None
        if finder is not None:
            try:
                found = await finder.find_post(channel, mark_of(event))
            except Exception:
                log.warning("event %s: couldn't look for an announcement", event.id, exc_info=False)
                finder = None
        if found is not None:
            await self._events.settle_announcement(event.id, channel, LedgerState.POSTED, found.id)
            return False
        if finder is None:
            if state is LedgerState.POSTING:
                await self._events.settle_announcement(event.id, channel, LedgerState.UNKNOWN)
                log.warning("event %s: an announcement may or may not have gone out", event.id)
            return False
        if state is LedgerState.UNKNOWN:
            # Back to 'posting' before the post, as for a first attempt.
            await self._events.settle_announcement(event.id, channel, LedgerState.POSTING)
        return True

    async def changed_job(self, job: Job) -> None:
        payload = _payload(job)
        event = await self._events.event(payload["event"])
        if event is None or event.sequence != payload["sequence"]:
            return  # a later change has its own job
        if not event.cancelled:
            # A new region's channels hear of it too, in a job of its own: retrying a
            # failed announcement must not tell people of the change again.
            await self._scheduler.once(
                ANNOUNCE,
                {"event": event.id},
                self._clock.now(),
                f"event-announce:{event.id}#{event.sequence}",
            )
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        # Nothing below raises: once someone is told, the job must not be tried again.
        await self.refresh(event, attendance)
        was = as_told(event, payload["was"]) if "was" in payload else None
        if was is not None and not event.cancelled and not differences(was, event) & TOLD:
            return  # places alone: planning told those it moved; the rest need no message
        message = changed(event, self._tz, self._public_url, was)
        # Maybe too: they may still come, and would come to the wrong time or place.
        for person in (*attendance.going, *attendance.waiting, *attendance.maybe):
            await self.direct(person, message)

    async def _current(self, job: Job) -> Event | None:
        """The job's event, if it is still on at the time the job was queued for (and, for
        the end's job, still ends then: a longer session must not be thanked halfway)."""
        payload = _payload(job)
        event = await self._events.event(payload["event"])
        if event is None or event.cancelled or to_text(event.starts_at) != payload["starts"]:
            return None
        if "ends" in payload and to_text(event.ends_at) != payload["ends"]:
            return None
        return event

    async def remind_job(self, job: Job) -> None:
        event = await self._current(job)
        if event is None:
            return
        message = reminder(event, self._tz, self._clock.now())
        # Everything is read before the first message goes: a retry after one has gone
        # would send it again.
        posted = await self._posted(event)
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        for announced in posted:
            await self._reply(announced, message)
        for person in attendance.going:
            await self.direct(person, message)

    async def start_job(self, job: Job) -> None:
        event = await self._current(job)
        if event is None or not event.topic:
            return
        prompts = []
        for announced in await self._posted(event):  # chosen before any goes, as above
            prompt, topic = await self._catalogue.choose(announced.channel, event.topic)
            prompts.append((announced, self._publisher.message(prompt, topic, announced.channel)))
        for announced, message in prompts:
            await self._reply(announced, message)

    async def _posted(self, event: Event) -> list[Announcement]:
        return [
            a for a in await self._events.announcements(event.id) if a.state is LedgerState.POSTED
        ]

    async def _reply(self, announced: Announcement, message: OutgoingMessage) -> None:
        try:
            await self._chat.reply(_ref(announced).as_thread, message)
        except Exception:
            # One channel failing mustn't stop the others, nor have them sent it twice.
            log.warning("a message in an event's announcement thread could not be sent")

    async def end_job(self, job: Job) -> None:
        event = await self._current(job)
        if event is None:
            return
        linked = await self._events.feedback_round(event.id)
        if linked is None and event.ends_at > self._clock.now():
            return  # made longer since this job was queued: the new end has its own
        closes_on = (event.ends_at.astimezone(self._tz) + timedelta(FEEDBACK_OPEN_DAYS)).date()
        # Read before anything is written, so that nothing after the round's closing is
        # queued can fail and have this job tried again: its people are told once.
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        if linked is None:
            round_ = await self._feedback.open(
                Round(
                    0,
                    event.title[:150],
                    DEFAULT_QUESTIONS,
                    DEFAULT_THRESHOLD,
                    RoundState.OPEN,
                    self._clock.now(),
                    closes_on,
                    None,
                    event.organiser,
                ),
                new_key(),
                linked=self._events.feedback_linking(event.id),  # one round an event, ever
            )
        else:
            # Opened by an attempt that failed before its closing was queued, or by an end
            # job before this one: which, the closing job's key says.
            found = await self._feedback.get(linked)
            if found is None:
                return
            round_ = found
        closing = datetime.combine(closes_on + timedelta(days=1), time(0), self._tz)
        queued = await self._scheduler.once(
            CLOSE_JOB, {"round": round_.id}, closing, f"feedback-close:{round_.id}"
        )
        if queued is None:
            return  # queued already, so its people were told then
        message = OutgoingMessage(
            (
                Text(
                    f"Thank you for coming to **{escape(event.title)}**. "
                    "What did you take from it? "
                    "Four short questions; your answer is anonymous: nobody, admins included, "
                    "can see who wrote it."
                ),
                Buttons((answer_button(round_),)),
                # The last day it takes answers (it closes as the next begins), as
                # `feedback` lists it.
                Context(f"It takes answers until the end of {_day_named(closes_on, self._tz)}."),
            ),
            fallback=f"Feedback on {event.title}",
        )
        for person in attendance.going:
            await self.direct(person, message)


def told_of(event: Event) -> dict[str, Any]:
    """An event as people were told of it, for a change's job to say what has changed."""
    return {
        "title": event.title,
        "starts": to_text(event.starts_at),
        "minutes": int(event.duration.total_seconds() // 60),
        "location": event.location,
        "description": event.description,
        "capacity": event.capacity,
    }


def as_told(event: Event, told: dict[str, Any]) -> Event:
    """``event`` as ``told_of`` kept it."""
    return replace(
        event,
        title=told["title"],
        starts_at=from_text(told["starts"]),
        duration=timedelta(minutes=told["minutes"]),
        location=told["location"],
        description=told["description"],
        capacity=told["capacity"],
    )


def mark_of(event: Event) -> str:
    """What an event's announcements carry, so copbot can find one after a restart."""
    return f"event-announce:{event.id}"


def _raise_first(results: list[Any]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _ref(posted: Announcement) -> MessageRef:
    return MessageRef(posted.channel, posted.message_id)


def _payload(job: Job) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(job.payload)
    return payload


def _day_named(day: date, tz: ZoneInfo) -> str:
    """ "Fri 18 Dec 2026": a calendar day with its weekday, as ``for_people`` names days."""
    return for_people(datetime.combine(day, time(12), tz), tz, time=False)
