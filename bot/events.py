"""Regional events: answers, counts, the announcement ledger, and what makes a plan valid.

The event itself is ``bot.records.Event``. Checking a plan is pure, so that the chat form
and the command line refuse the same things with the same words.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.localtime import skipped
from bot.model import ChannelRef
from bot.ports import WriteOp
from bot.records import Event
from bot.scheduler import local_to_utc  # the scheduler's rule for clock changes
from bot.timefmt import for_people

MAX_TITLE = 150
# As long as the chat forms take (bot/services/event_forms.py): longer, planned in the console
# or on the command line, Slack and Teams would cut it short in the form that changes it.
MAX_LOCATION = 500
MAX_DESCRIPTION = 2000
DURATION_DIGITS = 6  # minutes: more digits is no length an event can have
CAPACITY_DIGITS = 7
# The longest each typed field of a plan may be, for forms to stop typing where the check
# would refuse (the console's maxlength).
PLAN_LIMITS = {
    "title": MAX_TITLE,
    "duration": DURATION_DIGITS,
    "location": MAX_LOCATION,
    "capacity": CAPACITY_DIGITS,
    "description": MAX_DESCRIPTION,
}
MAX_DURATION = timedelta(days=1)
DEFAULT_DURATION = timedelta(minutes=90)
RECENT = timedelta(days=30)  # ended events stay in the feeds this long
# How far ahead an event may be planned: further is a slip of the keyboard (9999 for
# 2029), and a time near the calendar's end cannot be moved between zones or lengthened.
PLAN_AHEAD = timedelta(days=5 * 365)


class Answer(enum.StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NOT_GOING = "not_going"

    @property
    def label(self) -> str:
        return {"going": "Going", "maybe": "Maybe", "not_going": "Can't go"}[self.value]


@dataclass(frozen=True)
class Rsvp:
    event_id: int
    person: str  # identity
    answer: Answer
    seq: int  # order of arrival of Going answers: the waiting list is first come


@dataclass(frozen=True)
class Attendance:
    """Who has a place, who waits for one (in order), and the other answers."""

    going: tuple[str, ...]
    waiting: tuple[str, ...]
    maybe: tuple[str, ...]
    not_going: tuple[str, ...]

    @classmethod
    def of(cls, rsvps: Sequence[Rsvp], capacity: int | None) -> Attendance:
        going = [r.person for r in sorted(rsvps, key=lambda r: r.seq) if r.answer is Answer.GOING]
        limit = len(going) if capacity is None else capacity
        return cls(
            tuple(going[:limit]),
            tuple(going[limit:]),
            tuple(r.person for r in rsvps if r.answer is Answer.MAYBE),
            tuple(r.person for r in rsvps if r.answer is Answer.NOT_GOING),
        )


@dataclass(frozen=True)
class Answered:
    """An event's answers just before and just after one person's, with its places, all read
    in the write that changed them: presses landing together each see their own change
    alone, so nobody moved up is told twice, or not at all."""

    capacity: int | None
    before: tuple[Rsvp, ...]
    after: tuple[Rsvp, ...]
    event: Event | None = None  # as it stood at the answer; None: there's no such event
    # False: nothing was written, the event being cancelled or over by the time of the
    # write (a press racing a cancellation must not be told "You're going").
    taken: bool = True

    @property
    def attendance(self) -> tuple[Attendance, Attendance]:
        """Who held a place and who waited, before and after."""
        return Attendance.of(self.before, self.capacity), Attendance.of(self.after, self.capacity)


@dataclass(frozen=True)
class Saved:
    """An event as it was and as saved, with its answers, all read in the write that
    changed it: an answer pressed meanwhile is in both readings or in neither, so nobody
    moved up by a new number of places is told twice, or not at all."""

    was: Event
    event: Event
    rsvps: tuple[Rsvp, ...]

    @property
    def attendance(self) -> tuple[Attendance, Attendance]:
        """Who held a place and who waited, with the places before and after."""
        return (
            Attendance.of(self.rsvps, self.was.capacity),
            Attendance.of(self.rsvps, self.event.capacity),
        )


@dataclass(frozen=True)
class AnswersTaken:
    """An event's answers as they stood when an erasure took one person's away."""

    event_id: int
    capacity: int | None
    rsvps: tuple[Rsvp, ...]

    def moved_up(self, person: str) -> tuple[int, ...]:
        """The seqs of those who hold a place once ``person``'s answers are gone and did
        not before: seqs, not identities, and a seq changes when its person answers again."""
        before = Attendance.of(self.rsvps, self.capacity)
        rest = [r for r in self.rsvps if r.person != person]
        after = Attendance.of(rest, self.capacity)
        seq = {r.person: r.seq for r in rest}
        return tuple(seq[p] for p in after.going if p not in before.going)


class LedgerState(enum.StrEnum):
    POSTING = "posting"  # written before the post: found after a restart, it may be there
    POSTED = "posted"
    UNKNOWN = "unknown"  # copbot stopped mid-post: not posted again, to post at most once
    FAILED = "failed"  # the platform refused (copbot isn't in the channel any more)


@dataclass(frozen=True)
class Announcement:
    event_id: int
    channel: ChannelRef
    state: LedgerState
    message_id: str = ""


@dataclass(frozen=True)
class Plan:
    """An event as someone asked for it, before it is checked."""

    title: str
    region: str
    start: str  # "YYYY-MM-DD HH:MM" (or ISO "YYYY-MM-DDTHH:MM") local time
    duration: str = ""  # minutes; "" for the default
    location: str = ""
    capacity: str = ""
    description: str = ""
    topic: str = ""


@dataclass(frozen=True)
class Checked:
    title: str
    region: str  # lower case
    starts_at: datetime  # UTC
    duration: timedelta
    location: str
    capacity: int | None
    description: str
    topic: str


class PlanProblems(Exception):
    """{field: what is wrong}, for the form (beside each field) or the command line."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def check_plan(
    plan: Plan,
    *,
    regions: Sequence[str],
    topics: Sequence[str],
    now: datetime,
    tz: ZoneInfo,
) -> Checked:
    """The plan as stored values, or PlanProblems naming every field that is wrong."""
    problems: dict[str, str] = {}
    title = " ".join(plan.title.split())
    if not title:
        problems["title"] = "Please give the event a title."
    elif len(title) > MAX_TITLE:
        problems["title"] = (
            f"Please keep the title to {MAX_TITLE} characters (this one has {len(title)})."
        )
    region = find_region(plan.region, regions)
    if region is None:
        problems["region"] = (
            f"I don't know the region '{plan.region.strip()[:40]}'. "
            f"Choose one of: {', '.join(regions)}."
        )
    starts_at = _start(plan.start, tz, now, problems)
    duration = _duration(plan.duration, problems)
    capacity = _capacity(plan.capacity, problems)
    location = plan.location.strip()
    if len(location) > MAX_LOCATION:
        problems["location"] = (
            f"Please keep the place or link to {MAX_LOCATION} characters "
            f"(this one has {len(location):,})."
        )
    # A browser sends a textarea's line breaks as CRLF but counts each as one character.
    description = plan.description.replace("\r\n", "\n").strip()
    if len(description) > MAX_DESCRIPTION:
        problems["description"] = (
            f"Please keep what it's about to {MAX_DESCRIPTION:,} characters "
            f"(this has {len(description):,})."
        )
    topic = plan.topic.strip().lower()
    if topic and topic not in topics:
        problems["topic"] = (
            f"There's no prompt topic '{topic[:40]}'. Leave it empty, or pick one of: "
            f"{', '.join(topics)}."
        )
    if problems:
        raise PlanProblems(problems)
    assert region is not None
    assert starts_at is not None
    assert duration is not None
    return Checked(
        title,
        region.lower(),
        starts_at,
        duration,
        location,
        capacity,
        description,
        topic,
    )


def find_region(text: str, regions: Sequence[str]) -> str | None:
    """The configured region ``text`` names, whatever its case."""
    wanted = text.strip().lower()
    return next((r for r in regions if r.lower() == wanted), None)


def region_label(slug: str, regions: Sequence[str]) -> str:
    return find_region(slug, regions) or slug.title()


def _start(text: str, tz: ZoneInfo, now: datetime, problems: dict[str, str]) -> datetime | None:
    text = text.strip().replace("T", " ")
    moment = _moment(text)
    local: datetime | None
    if moment is not None:  # a picker that sends an instant (Slack's): no local time to settle
        local = moment.astimezone(tz).replace(tzinfo=None)
    else:
        # The whole text, seconds included: "2027-04-08 02:00 pm" is not 02:00.
        pattern = {16: "%Y-%m-%d %H:%M", 19: "%Y-%m-%d %H:%M:%S"}.get(len(text))
        try:
            local = datetime.strptime(text, pattern).replace(second=0) if pattern else None
        except ValueError:
            local = None
    if local is None:
        problems["start"] = (
            f"Please give the start as a date and time, like 2027-04-08 10:00, not '{text[:30]}'."
        )
        return None
    latest = (now.astimezone(tz) + PLAN_AHEAD).replace(tzinfo=None)
    if local > latest:  # checked first: the checks below move it between zones
        problems["start"] = (
            "That's more than five years away. Please choose a start before "
            f"{for_people(latest.replace(tzinfo=tz), tz, time=False)}."
        )
        return None
    if moment is not None:
        starts_at = moment.astimezone(UTC)
    else:
        gap = skipped(local, tz)
        if gap is not None:  # silently moving it an hour would put people there at the wrong time
            problems["start"] = gap
            return None
        starts_at = local_to_utc(local, tz)  # a time that happens twice: the first
    if starts_at <= now:
        problems["start"] = "That start time has already passed. Please choose a time to come."
        return None
    return starts_at


def _moment(text: str) -> datetime | None:
    """``2026-12-14 10:00:00+00:00``, a date and time with its offset from UTC, to the minute."""
    if len(text) != 25 or text[19] not in "+-":
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S%z")
    except ValueError:
        return None
    return moment.replace(second=0)


def _duration(text: str, problems: dict[str, str]) -> timedelta | None:
    text = text.strip()
    if not text:
        return DEFAULT_DURATION
    if not (text.isascii() and text.isdigit()) or len(text) > DURATION_DIGITS:
        problems["duration"] = f"Please give the length in minutes, like 90, not '{text[:20]}'."
        return None
    minutes = int(text)
    if minutes == 0:
        problems["duration"] = "An event needs to last at least a minute."
        return None
    if timedelta(minutes=minutes) > MAX_DURATION:
        problems["duration"] = (
            "An event can last up to a day (1,440 minutes); for longer, add one for each day."
        )
        return None
    return timedelta(minutes=minutes)


def _capacity(text: str, problems: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > CAPACITY_DIGITS:
        problems["capacity"] = f"Please give the number of places, like 30, not '{text[:20]}'."
        return None
    if int(text) < 1:
        problems["capacity"] = "Give at least 1 place, or leave it empty for no limit."
        return None
    return int(text)


class EventRepository(Protocol):
    async def add(self, event: Event) -> Event: ...

    async def save(self, event: Event) -> Saved:
        """Store a change: ``sequence`` raised and ``updated_at`` moved; the event before
        and after, and its answers, read in the same write."""
        ...

    async def event(self, event_id: int) -> Event | None: ...

    async def upcoming_and_recent(self, region: str | None) -> Sequence[Event]:
        """Events of a region (None: all), with cancelled ones and those ended in 30 days."""
        ...

    async def upcoming(self, region: str | None, now: datetime) -> Sequence[Event]: ...

    async def answer(self, event_id: int, person: str, answer: Answer) -> Answered: ...

    async def rsvps(self, event_id: int) -> Sequence[Rsvp]: ...

    async def begin_announcement(self, event_id: int, channel: ChannelRef) -> LedgerState | None:
        """Write 'posting' for a channel not yet in the ledger (None); else its state."""
        ...

    async def settle_announcement(
        self, event_id: int, channel: ChannelRef, state: LedgerState, message_id: str = ""
    ) -> None: ...

    async def announcements(self, event_id: int) -> Sequence[Announcement]: ...

    async def forget_announcement(self, event_id: int, channel: ChannelRef) -> None: ...

    def mark_announced(self, event_id: int) -> WriteOp: ...

    async def record_announced(self, event_id: int) -> None: ...

    async def unannounced(self) -> Sequence[Event]: ...

    async def set_feedback_round(self, event_id: int, round_id: int) -> None: ...

    def feedback_linking(self, event_id: int) -> Callable[[int], WriteOp]:
        """The write that names a round the event's feedback round, for the round's own
        transaction: a round is never opened without it."""
        ...

    async def feedback_round(self, event_id: int) -> int | None: ...

    async def event_of_round(self, round_id: int) -> int | None:
        """The event whose feedback round this is, if any."""
        ...

    async def forget_person(self, identity: str) -> tuple[int, Sequence[AnswersTaken]]:
        """Erase ``identity``'s answers and organising, in one write; how many records
        changed, and the answers of each event they had answered, as they stood."""
        ...


@dataclass(frozen=True)
class RegionLink:
    channel: ChannelRef
    region: str  # lower case


class RegionLinkRepository(Protocol):
    async def link(self, channel: ChannelRef, region: str, by: str) -> bool: ...

    async def unlink(self, channel: ChannelRef, region: str) -> bool: ...

    async def links(self) -> Sequence[RegionLink]: ...

    async def forget_linker(self, identity: str) -> int: ...
