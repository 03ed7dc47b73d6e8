"""The neutral model: what every platform's payloads become, and what the core sends back.

Everything here is a frozen dataclass. Adapters translate platform payloads into these
types and back; the core never sees a raw payload. Identities are written ``platform:id``
(``slack:U123``, ``teams:<aad-object-id>``, ``local:sam``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

# ---------------------------------------------------------------------------
# Identities and references


class Role(enum.IntEnum):
    """Roles are ordered: a higher role can do everything a lower one can."""

    STAFF = 0
    FACILITATOR = 1
    ADMIN = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise ValueError(f"'{text}' is not a role; use one of: {names}") from None


def split_identity(identity: str) -> tuple[str, str]:
    """``"slack:U1"`` -> ``("slack", "U1")``; raises ValueError on anything else."""
    platform, sep, ident = identity.strip().partition(":")
    if not sep or not platform or not ident or not platform.isalpha():
        raise ValueError(
            f"'{identity}' is not an identity; write it as platform:id, e.g. slack:U123"
        )
    return platform.lower(), ident


@dataclass(frozen=True)
class UserRef:
    platform: str
    id: str
    name: str = field(default="", compare=False)

    @property
    def identity(self) -> str:
        return f"{self.platform}:{self.id}"

    @property
    def display(self) -> str:
        return self.name or self.id

    @classmethod
    def parse(cls, identity: str, name: str = "") -> UserRef:
        platform, ident = split_identity(identity)
        return cls(platform, ident, name)


class ChannelKind(enum.StrEnum):
    CHANNEL = "channel"
    DIRECT = "direct"  # a one-to-one conversation between the bot and a person


@dataclass(frozen=True)
class ChannelRef:
    platform: str
    id: str
    workspace: str = ""  # Slack team id or Teams tenant id; "" for the playground
    name: str = field(default="", compare=False)
    kind: ChannelKind = ChannelKind.CHANNEL

    @property
    def is_direct(self) -> bool:
        return self.kind is ChannelKind.DIRECT

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.id}"

    @property
    def label(self) -> str:
        return f"#{self.name}" if self.name else self.id


@dataclass(frozen=True)
class ThreadRef:
    """A thread is named by its channel and the id of its root message."""

    channel: ChannelRef
    root_id: str


@dataclass(frozen=True)
class MessageRef:
    channel: ChannelRef
    id: str
    thread_root: str | None = None  # the root's id when the message is a reply

    @property
    def thread(self) -> ThreadRef | None:
        return ThreadRef(self.channel, self.thread_root) if self.thread_root else None

    @property
    def as_thread(self) -> ThreadRef:
        """The thread this message roots (or belongs to, for a reply)."""
        return ThreadRef(self.channel, self.thread_root or self.id)


# ---------------------------------------------------------------------------
# Inbound happenings


@dataclass(frozen=True)
class Origin:
    """Where a person acted, so the core can answer them there.

    ``handle`` is opaque to the core: the adapter puts there what it needs to answer in
    place (a Slack trigger id or response URL, a Teams conversation reference) and gets it
    back unchanged.
    """

    user: UserRef
    channel: ChannelRef
    thread: ThreadRef | None = None
    handle: str = ""


@dataclass(frozen=True)
class MessagePosted:
    event_id: str
    message: MessageRef
    author: UserRef
    text: str
    at: datetime
    from_bot: bool = False  # posted by this bot itself

    @property
    def thread(self) -> ThreadRef | None:
        return self.message.thread

    @property
    def is_direct(self) -> bool:
        return self.message.channel.is_direct


@dataclass(frozen=True)
class MessageEdited:
    event_id: str
    message: MessageRef
    text: str
    at: datetime
    editor: UserRef | None = None


@dataclass(frozen=True)
class MessageDeleted:
    event_id: str
    message: MessageRef
    at: datetime


@dataclass(frozen=True)
class CommandReceived:
    """``/cop <verb> ...`` or ``@bot <verb> ...``: the text after the command or mention.

    Adapters write user mentions in ``text`` as ``<@platform:id>``.
    """

    event_id: str
    origin: Origin
    text: str
    at: datetime


@dataclass(frozen=True)
class ButtonPressed:
    event_id: str
    origin: Origin
    action_id: str
    value: str
    at: datetime
    message: MessageRef | None = None  # the message that carried the button


@dataclass(frozen=True)
class FormSubmitted:
    event_id: str
    origin: Origin
    form_id: str
    values: tuple[tuple[str, str], ...]
    at: datetime
    context: str = ""  # Form.context, returned unchanged

    def value(self, field_id: str, default: str = "") -> str:
        return dict(self.values).get(field_id, default)


@dataclass(frozen=True)
class BotAddedToChannel:
    event_id: str
    channel: ChannelRef
    at: datetime
    by: UserRef | None = None


@dataclass(frozen=True)
class MemberJoined:
    event_id: str
    channel: ChannelRef
    user: UserRef
    at: datetime


@dataclass(frozen=True)
class HomeOpened:
    """Someone opened the bot's home (Slack's App Home tab)."""

    event_id: str
    user: UserRef
    at: datetime


InboundEvent = (
    MessagePosted
    | MessageEdited
    | MessageDeleted
    | CommandReceived
    | ButtonPressed
    | FormSubmitted
    | BotAddedToChannel
    | MemberJoined
    | HomeOpened
)

INBOUND_EVENT_TYPES: tuple[type, ...] = (
    MessagePosted,
    MessageEdited,
    MessageDeleted,
    CommandReceived,
    ButtonPressed,
    FormSubmitted,
    BotAddedToChannel,
    MemberJoined,
    HomeOpened,
)

# ---------------------------------------------------------------------------
# Outbound content
#
# Text uses a tiny markup every platform can render: **bold**, _italic_, [label](https://url)
# and line breaks. Adapters translate it to Slack mrkdwn, Teams markdown or HTML.


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Fields:
    pairs: tuple[tuple[str, str], ...]


class ButtonStyle(enum.StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True)
class Button:
    action_id: str
    label: str
    value: str = ""
    style: ButtonStyle = ButtonStyle.DEFAULT


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class Context:
    """Small print under a message."""

    text: str


Block = Text | Fields | Buttons | Context


@dataclass(frozen=True)
class OutgoingMessage:
    blocks: tuple[Block, ...]
    fallback: str = ""  # plain text for notifications; derived from the blocks when empty

    @classmethod
    def of(cls, *blocks: Block | str) -> OutgoingMessage:
        return cls(tuple(Text(b) if isinstance(b, str) else b for b in blocks))

    @property
    def plain_text(self) -> str:
        """A short form for notifications and previews."""
        return self.fallback or self.text

    @property
    def text(self) -> str:
        """Everything the blocks say, as text."""
        parts: list[str] = []
        for block in self.blocks:
            if isinstance(block, Text | Context):
                parts.append(block.text)
            elif isinstance(block, Fields):
                parts.extend(f"{k}: {v}" for k, v in block.pairs)
        return "\n".join(parts)


@dataclass(frozen=True)
class ShortText:
    id: str
    label: str
    required: bool = True
    placeholder: str = ""
    initial: str = ""
    max_length: int = 150


@dataclass(frozen=True)
class LongText:
    id: str
    label: str
    required: bool = True
    placeholder: str = ""
    initial: str = ""
    max_length: int = 3000


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    required: bool = True
    initial: str = ""


@dataclass(frozen=True)
class Rating:
    id: str
    label: str
    scale: int = 5
    required: bool = True


@dataclass(frozen=True)
class DateTimeField:
    id: str
    label: str
    required: bool = True
    initial: str = ""  # ISO 8601 local time, e.g. 2026-12-01T10:00


FormField = ShortText | LongText | Choice | Rating | DateTimeField


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    intro: str = ""
    context: str = ""  # returned unchanged in FormSubmitted.context


@dataclass(frozen=True)
class Channel:
    """A channel the bot knows about, with what the community has said about it."""

    ref: ChannelRef
    region: str = ""
    bot_member: bool = True
    archive: bool = False  # an admin opted the whole channel into the archive


# ---------------------------------------------------------------------------
# Records the core keeps


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


@dataclass(frozen=True)
class ArchiveFilter:
    channel: str = ""  # a channel id, or a name ("#north" or "north")
    topic: str = ""
    region: str = ""
    author: str = ""  # identity
    since: datetime | None = None
    until: datetime | None = None


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
