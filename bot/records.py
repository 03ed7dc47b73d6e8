"""What the core keeps about its work: roles, jobs, prompts, the archive. Frozen
dataclasses, like the neutral model they build on (bot/model.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.model import ChannelRef, InboundEvent, MessageRef, Role


@dataclass(frozen=True)
class RoleGrant:
    identity: str
    role: Role
    granted_by: str  # an identity, or "COPBOT_ADMINS", or "cli"
    granted_at: datetime


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    MISSED = "missed"  # found more than the grace period late: recorded, not run stale
    FAILED = "failed"  # every attempt failed
    INTERRUPTED = "interrupted"  # the process stopped mid-run; not re-run, to post at most once
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # due while its schedule was paused: recorded, not run, nobody told


PAUSED = "its schedule is paused"  # a skipped job's error


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: str  # JSON, owned by the job's handler
    due_at: datetime  # UTC; moves later when a failed attempt is retried
    key: str  # idempotency key: one job, and one effect, per key
    state: JobState = JobState.PENDING
    attempts: int = 0
    owner: str = ""  # identity to tell when the job is missed or fails
    schedule_id: int | None = None
    last_error: str = ""


@dataclass(frozen=True)
class Recurrence:
    """A repeating schedule: an RFC 5545 rule evaluated in a named time zone."""

    id: int
    kind: str
    payload: str
    rule: str  # e.g. "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10;BYMINUTE=0"
    timezone: str
    starts: datetime  # naive local time the rule counts from
    owner: str
    description: str
    active: bool = True
    next_at: datetime | None = None  # UTC of the next occurrence queued as a job
    paused_at: datetime | None = None  # set while paused: occurrences are skipped

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True)
class InboxItem:
    id: int
    event: InboundEvent
    attempts: int


# ---------------------------------------------------------------------------
# Reflection prompts


@dataclass(frozen=True)
class Resource:
    title: str
    url: str


@dataclass(frozen=True)
class Prompt:
    id: str
    topic: str  # the topic's slug
    title: str
    text: str
    follow_ups: tuple[str, ...]
    facilitator_note: str
    content_note: str = ""
    resources: tuple[Resource, ...] = ()
    added_by: str = ""  # identity, for prompts facilitators added; "" for the library's
    # Added rather than shipped: still so once an erasure has blanked who added it.
    added: bool = False


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    summary: str
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class PromptPost:
    """A prompt posted into a channel: the root of the thread its discussion lives in."""

    prompt_id: str
    topic: str
    message: MessageRef
    posted_at: datetime
    posted_by: str = ""  # identity of the facilitator, or "" when a schedule posted it
    schedule_id: int | None = None


# ---------------------------------------------------------------------------
# The discussion archive


@dataclass(frozen=True)
class ArchivedMessage:
    """One message kept in the archive, in plain text, with where it belongs."""

    platform: str
    workspace: str
    channel_id: str
    channel_name: str
    thread_id: str  # the thread root's message id (its own id for a root)
    message_id: str
    author_id: str  # identity; "" when anonymous
    author_name: str
    anonymous: bool
    text: str
    created_at: datetime
    edited_at: datetime | None = None
    edit_count: int = 0
    prompt_id: str = ""
    topic: str = ""
    region: str = ""
    private: bool = False  # from a private channel: only its members may find it

    @property
    def ref(self) -> MessageRef:
        channel = ChannelRef(self.platform, self.channel_id, self.workspace, self.channel_name)
        root = self.thread_id if self.thread_id != self.message_id else None
        return MessageRef(channel, self.message_id, root)


@dataclass(frozen=True)
class ThreadContext:
    """What a thread is about, when the bot started it (a prompt, an event announcement)."""

    prompt_id: str = ""
    topic: str = ""


# Every archived message is from these years: a filter's date outside them narrows
# nothing (and one near year 1 or 9999 can't be moved between time zones or by a day).
ARCHIVED_YEARS = range(1970, 3000)


@dataclass(frozen=True)
class ArchiveFilter:
    channel: str = ""  # a channel id, or a name ("#north" or "north")
    topic: str = ""
    region: str = ""
    author: str = ""  # identity
    since: datetime | None = None
    until: datetime | None = None
    workspace: tuple[str, str] | None = None  # (platform, workspace): one community only
    # Whose view this is: messages from public channels and from these channels (the ones
    # the person belongs to). None: everything (`copbot export` on the server).
    viewer_channels: frozenset[str] | None = None


@dataclass(frozen=True)
class SearchHit:
    message: ArchivedMessage
    snippet: str  # neutral markup: the matched words in **bold**


@dataclass(frozen=True)
class ExportLink:
    """A one-time download of an export, for an admin who asked in chat."""

    id: str
    format: str
    filter: ArchiveFilter
    created_by: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Conversation:
    """Where a platform lets copbot post, as the adapter stored it (Teams: a conversation
    reference per channel, and per person for their 1:1 chat)."""

    kind: str  # "channel" or "person"
    key: str  # the channel's id, or the person's platform id
    reference: str  # the adapter's own JSON; opaque to everything else
    person: str = ""  # the person's identity, for erasure
    team: str = ""
    name: str = ""


# ---------------------------------------------------------------------------
# Regional events


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # due while its schedule was paused: recorded, not run, nobody told


@dataclass(frozen=True)
class Event:
    """A regional session or workshop. Times are kept in UTC with the zone it was planned in,
    so that 10:00 London stays 10:00 London across a change of the clocks."""

    id: int
    title: str
    region: str  # lower case: "north", or "national" for every region
    starts_at: datetime  # UTC, aware
    duration: timedelta
    timezone: str  # IANA zone the organiser meant, e.g. "Europe/London"
    created_at: datetime  # UTC
    updated_at: datetime  # UTC, moved by every change
    location: str = ""  # a place, or an online link
    description: str = ""
    capacity: int | None = None  # None: no limit
    topic: str = ""  # a prompt topic's slug, posted in the event's thread when it starts
    organiser: str = ""  # identity of the facilitator who made it
    status: EventStatus = EventStatus.SCHEDULED
    sequence: int = 0  # raised on every change, as iCalendar's SEQUENCE

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + self.duration

    @property
    def cancelled(self) -> bool:
        return self.status is EventStatus.CANCELLED
