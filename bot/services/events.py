"""Regional events: planned in a form or from the command line, announced once in every
channel linked to their region, answered with buttons, reminded, and followed by an
anonymous feedback round.

Everything that reaches people after the moment of asking (announcements, changes,
reminders, the start and the end) is a persistent job, so a restart loses none of it and
an event added from the command line is announced by the running copbot.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.calendar_feed import ALL, feed_address
from bot.chat import Chat
from bot.clock import to_text
from bot.commands import Args, CommandError, UsageError, parse_number
from bot.event_messages import RSVP, counts, rsvp_buttons, when, who_is_told, your_answer
from bot.events import (
    Answer,
    Attendance,
    EventRepository,
    Plan,
    PlanProblems,
)
from bot.feedback import (
    FeedbackRepository,
)
from bot.interaction import Interaction
from bot.markup import escape
from bot.model import (
    ButtonPressed,
    Buttons,
    ChannelRef,
    Context,
    Form,
    FormSubmitted,
    OutgoingMessage,
    Role,
    Text,
)
from bot.ports import Clock
from bot.records import Event
from bot.registry import PersonalData, Registry
from bot.scheduler import JobKind, Scheduler
from bot.services.event_delivery import ANNOUNCE, EventDelivery
from bot.services.event_forms import EDIT_FORM, NEW_FORM, event_form, topic_of
from bot.services.event_planning import (
    CHANGED,
    END,
    FREED,
    REMIND,
    START,
    EventPlanning,
)
from bot.services.prompts import PromptCatalogue, PromptPublisher
from bot.services.regions import NATIONAL, Regions
from bot.timefmt import for_people

log = logging.getLogger(__name__)


class EventsFeature:
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
        reminders: Sequence[timedelta],
    ) -> None:
        self._events = events
        self._scheduler = scheduler
        self._regions = regions
        self._feedback = feedback
        self._catalogue = catalogue
        self._clock = clock
        self._tz = timezone
        self._public_url = public_url
        delivery = EventDelivery(
            events,
            regions,
            feedback,
            catalogue,
            publisher,
            chat,
            clock,
            scheduler,
            timezone=timezone,
            public_url=public_url,
        )
        self._delivery = delivery
        self._planning = EventPlanning(
            events,
            regions,
            catalogue,
            delivery,
            clock,
            scheduler,
            timezone=timezone,
            reminders=reminders,
        )

    @property
    def repository(self) -> EventRepository:
        return self._events

    def register(self, registry: Registry) -> None:
        registry.verb(
            "event new",
            "Plan a regional event: copbot announces it in the region's channels",
            self.new,
            role=Role.FACILITATOR,
        )
        registry.verb(
            "event edit",
            "Change an event you organised (admins: any event); people going, waiting or "
            "maybe are told what changed",
            self.edit_verb,
            usage="ID",
            role=Role.FACILITATOR,
        )
        registry.verb(
            "event cancel",
            "Cancel an event you organised (admins: any event); people going, waiting or "
            "maybe are told",
            self.cancel,
            usage="ID",
            role=Role.FACILITATOR,
        )
        registry.verb(
            "events",
            "See the events coming up, with buttons to say whether you're going",
            self.listing,
            usage="[REGION]",
        )
        registry.action(RSVP, self.rsvp)
        registry.form(EDIT_FORM, self.edit_submitted, role=Role.FACILITATOR, check=self.check_edit)
        registry.form(NEW_FORM, self.submitted, role=Role.FACILITATOR, check=self.check_form)
        registry.job(JobKind(ANNOUNCE, self._delivery.announce_job, run_late=True))
        registry.job(JobKind(CHANGED, self._delivery.changed_job, run_late=True))
        registry.job(JobKind(FREED, self._delivery.freed_job, run_late=True))
        registry.job(JobKind(REMIND, self._delivery.remind_job))
        registry.job(JobKind(START, self._delivery.start_job))
        registry.job(JobKind(END, self._delivery.end_job, run_late=True))
        registry.on_start(self._delivery.reconcile)
        registry.keeps(
            PersonalData(
                "event answers and events organised",
                ("event_rsvps.person", "events.organiser"),
                erase=self._forget_person,
                on_opt_out=False,
                notice=(
                    "Your answers to event invitations (going, maybe, can't go), so that places "
                    "and reminders work, and the events you plan."
                ),
            )
        )

    async def _forget_person(self, identity: str) -> int:
        """Erase someone's answers and organising. A place they held goes to the next on
        the waiting list: a job tells them and updates the announcements, run by `serve`
        (an erasure may come from the command line, which posts nothing)."""
        now = self._clock.now()
        erased, taken = await self._events.forget_person(identity)
        for answers in taken:
            await self._scheduler.once(
                FREED,
                # Seqs, not identities: the job names no one, and a seq changes when its
                # person answers again (a place pressed for anew is not a place come up).
                {"event": answers.event_id, "moved": list(answers.moved_up(identity))},
                now,
                f"event-freed:{answers.event_id}@{to_text(now)}:{uuid.uuid4().hex}",
            )
        return erased

    async def linked(self, region: str) -> bool:
        """Whether any channel hears of ``region``'s events."""
        return bool(await self._regions.channels_for(region))

    async def announce_upcoming(self, region: str, channel: ChannelRef) -> int:
        """After ``channel`` is linked to ``region``: its events to come, and the national
        ones, that it hasn't had are announced there (announcing posts only where the ledger
        has no post yet). How many events that is."""
        now = self._clock.now()
        events = [
            e
            for e in await self._events.upcoming(None, now)
            if e.region in (region, NATIONAL)
            and all(a.channel != channel for a in await self._events.announcements(e.id))
        ]
        for event in events:
            await self._scheduler.once(
                ANNOUNCE,
                {"event": event.id},
                now,
                f"event-announce:{event.id}@{to_text(now)}:{uuid.uuid4().hex}",
            )
        return len(events)

    # -- planning (bot/services/event_planning.py) ---------------------------------------

    async def create(self, plan: Plan, organiser: str) -> Event:
        """Check and keep a plan, and queue its announcement. Raises PlanProblems."""
        return await self._planning.create(plan, organiser)

    async def edit(self, event_id: int, changes: dict[str, str], actor: str, role: Role) -> Event:
        """Change an event (fields as the form or command line give them). Raises
        PlanProblems, or CommandError for someone who may not change it."""
        return await self._planning.edit(event_id, changes, actor, role)

    async def cancel_event(self, event_id: int, actor: str, role: Role) -> Event:
        return await self._planning.cancel(event_id, actor, role)

    async def may_cancel(self, event_id: int, actor: str, role: Role) -> Event:
        return await self._planning.may_cancel(event_id, actor, role)

    # -- chat ---------------------------------------------------------------------------

    async def new(self, ix: Interaction, args: Args) -> None:
        await ix.open_form(await self.form())

    async def form(self, event: Event | None = None) -> Form:
        """The planning form, empty; or, for ``event``, filled in to change it."""
        library = await self._catalogue.current()
        return event_form(library, self._regions, self._tz, self._clock.now(), event)

    async def edit_verb(self, ix: Interaction, args: Args) -> None:
        event_id = await self._event_number(ix, args)
        event = await self._planning.may_edit(event_id, ix.user.identity, ix.role)
        await ix.open_form(await self.form(event))

    async def _edited_event(self, submitted: FormSubmitted) -> Event | None:
        context = submitted.context
        number = _event_number(context)
        return await self._events.event(number) if number is not None else None

    async def check_edit(self, submitted: FormSubmitted) -> dict[str, str]:
        event = await self._edited_event(submitted)
        if event is None:
            return {"title": "I can't find that event any more."}
        try:
            await self._planning.check(self._plan(submitted), keep_start=event.starts_at)
        except PlanProblems as e:
            return e.problems
        return {}

    async def edit_submitted(self, ix: Interaction, submitted: FormSubmitted) -> None:
        event = await self._edited_event(submitted)
        if event is None:
            raise CommandError("I can't find that event any more.")
        plan = self._plan(submitted)
        changes = {
            "title": plan.title,
            "region": plan.region,
            "start": plan.start,
            "duration": plan.duration,
            "location": plan.location,
            "capacity": plan.capacity,
            "description": plan.description,
            "topic": plan.topic,
        }
        try:
            updated = await self.edit(event.id, changes, ix.user.identity, ix.role)
        except PlanProblems as e:
            raise CommandError(" ".join(e.problems.values())) from None
        if updated.sequence == event.sequence:
            await ix.reply(
                f"Nothing has changed in **{escape(updated.title)}**, so its announcements "
                "stay as they are and nobody has been messaged."
            )
            return
        await ix.reply(
            f"Saved: **{escape(updated.title)}**, {when(updated, self._tz)}. I'm updating its "
            f"announcements. {who_is_told(event, updated)}"
        )

    @staticmethod
    def _plan(event: FormSubmitted) -> Plan:
        return Plan(
            event.value("title"),
            event.value("region"),
            event.value("start"),
            event.value("duration"),
            event.value("location"),
            event.value("capacity"),
            event.value("description"),
            topic_of(event.value("topic")),
        )

    async def check_form(self, event: FormSubmitted) -> dict[str, str]:
        try:
            await self._planning.check(self._plan(event))
        except PlanProblems as e:
            return e.problems
        return {}

    async def submitted(self, ix: Interaction, event: FormSubmitted) -> None:
        try:
            created = await self.create(self._plan(event), ix.user.identity)
        except PlanProblems as e:
            raise CommandError(" ".join(e.problems.values())) from None
        label = self._regions.label(created.region)
        if not await self.linked(created.region):
            await ix.reply(
                f"Event {created.id} is planned: **{escape(created.title)}**, "
                f"{when(created, self._tz)}. "
                f"No channel is linked to {label} yet, so nobody has heard of it: run "
                f"`{ix.prefix} region link {label}` in the channel that should."
            )
            return
        await ix.reply(
            f"Event {created.id} is planned: **{escape(created.title)}**, "
            f"{when(created, self._tz)}. "
            "I'm announcing it in the region's channels now."
        )

    async def _event_number(self, ix: Interaction, args: Args) -> int:
        """The event a command names; refused in chat's words, naming the command that
        lists events (the planner's own words serve the command line too)."""
        listing = f"`{ix.prefix} events`"
        if len(args) != 1:
            raise UsageError(f"Which event? Give its number, as {listing} shows it.")
        event_id = parse_number(args.get(0), "an event's number", f"{ix.prefix} events")
        if await self._events.event(event_id) is None:
            raise CommandError(f"There's no event {event_id}; {listing} shows what's coming.")
        return event_id

    async def cancel(self, ix: Interaction, args: Args) -> None:
        event_id = await self._event_number(ix, args)
        event = await self.cancel_event(event_id, ix.user.identity, ix.role)
        await ix.reply(
            f"**{escape(event.title)}** is cancelled. "
            "I'm updating its announcements and telling the "
            "people who were going, waiting or maybe."
        )

    async def listing(self, ix: Interaction, args: Args) -> None:
        region = None
        if args:
            region = self._regions.find(args.text)
            if region is None:
                raise CommandError(
                    f"I don't know the region '{args.text[:40]}'. "
                    f"Choose one of: {', '.join(self._regions.names)}."
                )
        now = self._clock.now()
        shown = [
            e
            for e in await self._events.upcoming(None, now)
            if region is None or e.region in (region, "national")
        ]
        blocks: list[Text | Buttons | Context] = []
        for event in shown[:10]:
            attendance = Attendance.of(await self._events.rsvps(event.id), event.capacity)
            where = f" · {escape(event.location)}" if event.location else ""
            yours = your_answer(attendance, ix.user.identity)
            blocks.append(
                Text(
                    f"**{escape(event.title)}** (event {event.id}, "
                    f"{self._regions.label(event.region)})\n"
                    f"{when(event, self._tz)}{where}\n{counts(event, attendance)}"
                    + (f"\n**{yours}**" if yours else "")
                )
            )
            blocks.append(rsvp_buttons(event))
        if ix.role >= Role.FACILITATOR:
            blocks.extend(await self._rounds_beside(region, ix.prefix))
        if not blocks:
            await ix.reply(
                "There are no events planned yet"
                + (f" for {self._regions.label(region)}." if region else ".")
            )
            return
        if len(shown) > 10:
            blocks.append(Context(f"And {len(shown) - 10} more later on."))
        if shown and (address := feed_address(self._public_url, region or ALL)):
            name = f"{self._regions.label(region)} events" if region else "every region's events"
            blocks.append(Context(f"Have them in your calendar: subscribe to [{name}]({address})."))
        await ix.reply(OutgoingMessage(tuple(blocks), fallback="Events coming up"))

    async def _rounds_beside(self, region: str | None, prefix: str) -> list[Text | Context]:
        """For facilitators: recent events' feedback rounds."""
        now = self._clock.now()
        lines = []
        for event in await self._events.upcoming_and_recent(region):
            if event.ends_at > now or event.cancelled:
                continue
            round_id = await self._feedback_round(event.id)
            if round_id is None:
                continue
            round_ = await self._feedback.get(round_id)
            if round_ is None:
                continue
            lines.append(
                f"**{escape(event.title)}** ({for_people(event.starts_at, self._tz, time=False)}): "
                f"feedback round {round_id}, {round_.state.value}, {round_.answers} answer(s): "
                f"`{prefix} feedback results {round_id}`"
            )
        return [Text("Feedback from recent events:\n" + "\n".join(lines))] if lines else []

    async def _feedback_round(self, event_id: int) -> int | None:
        return await self._events.feedback_round(event_id)

    async def rsvp(self, ix: Interaction, pressed: ButtonPressed) -> None:
        event_text, _, answer_text = pressed.value.partition(":")
        number = _event_number(event_text)
        if number is None or answer_text not in {a.value for a in Answer}:
            raise CommandError("That button didn't come from an event I know.")
        answer = Answer(answer_text)
        me = ix.user.identity
        # Refused in the write itself, so a press racing a cancellation is refused too.
        answered = await self._events.answer(number, me, answer)
        event = answered.event
        if event is None:
            raise CommandError("I can't find that event any more.")
        if event.cancelled:
            raise CommandError(
                f"**{escape(event.title)}** has been cancelled, so it isn't taking answers. "
                "Sorry about that."
            )
        if not answered.taken:
            raise CommandError(
                f"**{escape(event.title)}** has already taken place, "
                "so it isn't taking answers now."
            )
        before, after = answered.attendance
        await ix.reply(_answered(event, answer, after, me, self._tz, before))
        await self._delivery.promote(event, before, after, skip=me)
        await self._delivery.refresh(event, after)


def _answered(
    event: Event,
    answer: Answer,
    attendance: Attendance,
    me: str,
    tz: ZoneInfo,
    before: Attendance,
) -> str:
    gave_up = me in before.going and any(p in before.waiting for p in attendance.going)
    if answer is Answer.MAYBE and gave_up:
        return (
            f"Noted: maybe for **{escape(event.title)}**. It was full, so your place has gone "
            "to the next person on the waiting list; if you decide to go, press Going and "
            "I'll put you on the waiting list."
        )
    if answer is Answer.GOING and me in attendance.waiting:
        place = attendance.waiting.index(me) + 1
        return (
            f"**{escape(event.title)}** is full, so you're on the waiting list (number {place}). "
            "I'll message you if a place comes up."
        )
    if answer is Answer.GOING:
        return f"You're going to **{escape(event.title)}**, {when(event, tz)}. See you there!"
    if answer is Answer.MAYBE:
        return (
            f"Noted: maybe for **{escape(event.title)}**. You can change your answer at any time."
        )
    return f"Thanks for letting us know you can't make **{escape(event.title)}**."


def _event_number(text: str) -> int | None:
    """An event's number from a button's value or a form's context, which are copbot's own
    but come back from outside: ``isdigit`` alone passes "²" and 5,000 digits, which
    ``int`` and SQLite refuse."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
