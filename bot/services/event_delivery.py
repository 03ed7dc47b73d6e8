"""How events reach people once planned: announcements (one per channel, at most once,
through a ledger), updates in place, direct messages, reminders, the topic's prompt at the
start and the feedback round at the end. Each runs as a persistent job."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.chat import Chat
from bot.clock import to_text
from bot.event_messages import announcement, changed, reminder, when
from bot.events import Announcement, Attendance, EventRepository, LedgerState
from bot.feedback import (
    DEFAULT_QUESTIONS,
    DEFAULT_THRESHOLD,
    FeedbackRepository,
    Round,
    RoundState,
    new_key,
)
from bot.model import (
    Buttons,
    Context,
    MessageRef,
    OutgoingMessage,
    Text,
    UserRef,
)
from bot.ports import Clock, DeliveryError, OutcomeUnknown
from bot.records import Event, Job
from bot.scheduler import Outcome, Scheduler
from bot.services.feedback import CLOSE_JOB, answer_button
from bot.services.prompts import PromptCatalogue, PromptPublisher
from bot.services.regions import Regions
from bot.timefmt import for_people

log = logging.getLogger(__name__)

FEEDBACK_OPEN_DAYS = 14  # how long the round after an event takes answers


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

    async def promote(
        self, event: Event, before: Attendance, after: Attendance, *, skip: str
    ) -> None:
        for person in after.going:
            if person not in before.going and person in before.waiting and person != skip:
                await self.direct(
                    person,
                    OutgoingMessage.of(
                        f"Good news: a place has come up, so you're now going to "
                        f"**{event.title}**, {when(event, self._tz)}. If you can't make it "
                        "after all, press Can't go on its announcement to free the place."
                    ),
                )

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
        """One post per linked channel, at most once: a ledger row is written before each
        post and completed after it, so a restart never posts twice."""
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        message = self.announcement_for(event, attendance)
        for channel in await self._regions.channels_for(event.region):
            state = await self._events.begin_announcement(event.id, channel)
            if state is LedgerState.POSTING:
                # Found half done after a restart: it may be there already, so not again.
                await self._events.settle_announcement(event.id, channel, LedgerState.UNKNOWN)
                log.warning("event %s: an announcement may or may not have gone out", event.id)
                continue
            if state is not None:
                continue
            try:
                ref = await self._chat.post(channel, message)
            except OutcomeUnknown:
                await self._events.settle_announcement(event.id, channel, LedgerState.UNKNOWN)
                continue
            except DeliveryError:
                await self._events.settle_announcement(event.id, channel, LedgerState.FAILED)
                continue
            except Exception:
                # Nothing reached the platform: the job's retry may post it.
                await self._events.forget_announcement(event.id, channel)
                raise
            await self._events.settle_announcement(event.id, channel, LedgerState.POSTED, ref.id)

    async def changed_job(self, job: Job) -> None:
        payload = _payload(job)
        event = await self._events.event(payload["event"])
        if event is None or event.sequence != payload["sequence"]:
            return  # a later change has its own job
        await self.refresh(event)
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        for person in (*attendance.going, *attendance.waiting):
            await self.direct(person, changed(event, self._tz))
        if not event.cancelled:
            await self.announce(event)  # a new region's channels hear of it too

    async def _current(self, job: Job) -> Event | None:
        """The job's event, if it is still on at the time the job was queued for."""
        payload = _payload(job)
        event = await self._events.event(payload["event"])
        if event is None or event.cancelled or to_text(event.starts_at) != payload["starts"]:
            return None
        return event

    async def remind_job(self, job: Job) -> None:
        event = await self._current(job)
        if event is None:
            return
        message = reminder(event, self._tz, self._clock.now())
        for posted in await self._events.announcements(event.id):
            if posted.state is LedgerState.POSTED:
                await self._chat.reply(_ref(posted).as_thread, message)
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        for person in attendance.going:
            await self.direct(person, message)

    async def start_job(self, job: Job) -> None:
        event = await self._current(job)
        if event is None or not event.topic:
            return
        for posted in await self._events.announcements(event.id):
            if posted.state is LedgerState.POSTED:
                prompt, topic = await self._catalogue.choose(posted.channel, event.topic)
                message = self._publisher.message(prompt, topic, posted.channel)
                await self._chat.reply(_ref(posted).as_thread, message)

    async def end_job(self, job: Job) -> None:
        event = await self._current(job)
        if event is None or await self._events.feedback_round(event.id) is not None:
            return
        closes_on = (event.ends_at.astimezone(self._tz) + timedelta(FEEDBACK_OPEN_DAYS)).date()
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
        )
        await self._events.set_feedback_round(event.id, round_.id)
        closing = datetime.combine(closes_on + timedelta(days=1), time(0), self._tz)
        await self._scheduler.once(
            CLOSE_JOB, {"round": round_.id}, closing, f"feedback-close:{round_.id}"
        )
        message = OutgoingMessage(
            (
                Text(
                    f"Thank you for coming to **{event.title}**. What did you take from it? "
                    "Four short questions; your answer is anonymous: nobody, admins included, "
                    "can see who wrote it."
                ),
                Buttons((answer_button(round_),)),
                Context(f"It takes answers until {for_people(closing, self._tz, time=False)}."),
            ),
            fallback=f"Feedback on {event.title}",
        )
        attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
        for person in attendance.going:
            await self.direct(person, message)


def _ref(posted: Announcement) -> MessageRef:
    return MessageRef(posted.channel, posted.message_id)


def _payload(job: Job) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(job.payload)
    return payload
