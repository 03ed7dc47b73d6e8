"""The neutral model: what every platform's payloads become, and what the core sends back.

Everything here is a frozen dataclass. Adapters translate platform payloads into these
types and back; the core never sees a raw payload. Identities are written ``platform:id``
(``slack:U123``, ``teams:<aad-object-id>``, ``local:sam``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.markup import kept_name

# ---------------------------------------------------------------------------
# Identities and references

# Stands in for a person, and for their direct conversation, on anonymous paths. No
# platform's ids contain angle brackets, so no real person or channel can collide with it.
ANONYMOUS_ID = "<anonymous>"


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


def _keep_name(ref: UserRef | ChannelRef) -> None:
    if (name := kept_name(ref.name)) is not ref.name:
        object.__setattr__(ref, "name", name)


@dataclass(frozen=True)
class UserRef:
    platform: str
    id: str
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Here, so that no platform's name reaches the archive, an export or the console
        # with a control character in it.
        _keep_name(self)

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

    @classmethod
    def anonymous(cls, platform: str) -> UserRef:
        return cls(platform, ANONYMOUS_ID)

    @property
    def is_anonymous(self) -> bool:
        return self.id == ANONYMOUS_ID


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

    def __post_init__(self) -> None:
        _keep_name(self)

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

    def anonymised(self) -> Origin:
        """The origin with everything that points at the person dropped: who they are, the
        handle, and a direct conversation (one-to-one with them) with any thread in it."""
        channel, thread = self.channel, self.thread
        if channel.is_direct:
            channel = ChannelRef(
                channel.platform, ANONYMOUS_ID, channel.workspace, kind=ChannelKind.DIRECT
            )
            thread = None
        return Origin(UserRef.anonymous(channel.platform), channel, thread)


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
    # Who posted the message and when, where the platform says: an edit that arrives
    # before its message (a retry after an outage) is then kept as the message it changed.
    posted_by: UserRef | None = None
    posted_at: datetime | None = None
    # What follows the mention of copbot the edited message starts with, as a command's
    # text is written (see CommandReceived); None when it starts with none. Edited into a
    # command, a message leaves the archive: copbot runs no edit, and keeps no command.
    asked: str | None = None


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
    # The message it was written in, when that is a message others read (``@copbot …`` in
    # a channel or a thread; not a slash command, nor the direct conversation): if what
    # follows the mention is no command ("@copbot thanks, that helped"), it is part of the
    # conversation, and kept as any message is.
    said: MessagePosted | None = None


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
    # False where copbot arrives in many channels at once (a Teams team), or a channel is
    # only renamed: a hello in each would be noise.
    greet: bool = True


@dataclass(frozen=True)
class ChannelRenamed:
    """A channel copbot knows given a new name: only its name changes. (Not an arrival: a
    notice delivered late, after copbot has left, must not put it back in the channel.)"""

    event_id: str
    channel: ChannelRef  # with its new name
    at: datetime


@dataclass(frozen=True)
class BotRemovedFromChannel:
    event_id: str
    channel: ChannelRef
    at: datetime


@dataclass(frozen=True)
class MemberJoined:
    event_id: str
    channel: ChannelRef
    user: UserRef
    at: datetime


@dataclass(frozen=True)
class ChannelVisibilityChanged:
    """A channel made private (only its members see it) or public, on its platform."""

    event_id: str
    channel: ChannelRef
    private: bool
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
    | ChannelRenamed
    | BotRemovedFromChannel
    | MemberJoined
    | ChannelVisibilityChanged
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
    ChannelRenamed,
    BotRemovedFromChannel,
    MemberJoined,
    ChannelVisibilityChanged,
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
    # Its handler answers with a form: Teams must know when the card is built, to open a
    # dialog (``task/fetch``) rather than send the press as a message.
    opens_form: bool = False


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
    # A mark copbot can find the post by later, where the platform keeps one (Slack's
    # message metadata): after a restart, to learn whether a post in doubt went out.
    mark: str = ""

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
    # The zone a typed time is read in (e.g. Europe/London), shown beside the label. A picker
    # that shows each person their own zone and sends an instant (Slack's) says so instead.
    zone: str = ""


FormField = ShortText | LongText | Choice | Rating | DateTimeField


def too_long(value: str, limit: int) -> str:
    """What every platform says of an answer longer than its field takes: refused in words,
    never cut short, so that no word is lost unseen."""
    return (
        f"That's {len(value):,} characters; please keep it to {limit:,} "
        "(your words are still here to shorten)."
    )


def label_of(field: FormField) -> str:
    """A field's label as a form that reads typed times in one zone shows it."""
    if isinstance(field, DateTimeField) and field.zone:
        return f"{field.label} ({field.zone})"
    return field.label


@dataclass(frozen=True)
class Form:
    id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    intro: str = ""
    context: str = ""  # returned unchanged in FormSubmitted.context
    # Anonymous forms come back without anything that points at the person: adapters see
    # this before they build the event, so no inbox row, log line or WAL frame can name them.
    anonymous: bool = False
    # Shown in place of the form once it is accepted, where the person is (not in a thread
    # they may not have open); "" leaves the answer to the form's handler.
    thanks: str = ""


@dataclass(frozen=True)
class Channel:
    """A channel the bot knows about, with what the community has said about it."""

    ref: ChannelRef
    region: str = ""
    bot_member: bool = True
    archive: bool = False  # an admin opted the whole channel into the archive
    private: bool | None = None  # None until the platform has said
