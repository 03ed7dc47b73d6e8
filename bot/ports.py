"""The seams: what the core needs from platforms and from storage.

Adapters implement ``ChatAdapter``; ``storage/`` implements the repositories. The core
depends on these protocols only, so tests can swap in fakes and platforms stay swappable.
The archive's seams are in bot/archive_ports.py.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from bot.errors import WordedError
from bot.model import (
    Channel,
    ChannelRef,
    Form,
    InboundEvent,
    MessageRef,
    Origin,
    OutgoingMessage,
    Role,
    ThreadRef,
    UserRef,
)
from bot.records import (
    InboxItem,
    Job,
    JobState,
    Prompt,
    PromptPost,
    Recurrence,
    RoleGrant,
)


class DeliveryError(WordedError):
    """The platform refused for a reason people can act on (copbot isn't in the channel,
    the channel was archived). The message is worded for them; retrying won't help."""


class OutcomeUnknown(WordedError):
    """The platform may or may not have done it (no answer after the request went out):
    trying again could do it twice. Its message is for the logs; ``words`` for people."""

    @property
    def words(self) -> str:
        return (
            "I couldn't tell whether that went through: the chat platform didn't answer in "
            "time. It may already be there, so please look before trying again."
        )


RetryObserver = Callable[[str, str], None]
"""Told of every request an adapter sends again: (platform, reason), the reason the status
that was answered ("429", "412", "502", "504"): a small fixed set, never an id or a text."""


def unobserved_retry(platform: str, reason: str) -> None:
    pass


EventSink = Callable[[InboundEvent], Awaitable[bool]]
"""Durably accept an inbound event; True when new, False for a duplicate (a retry).

For a form submission it may raise ``FormInvalid`` instead: nothing was kept, and the
adapter keeps the form open with the person's values and each message beside its field
(Slack ``response_action: errors``, the playground's dialog, a Teams dialog)."""


class FormInvalid(Exception):
    """Some fields of a submitted form are wrong; ``errors`` maps field ids to messages
    worded for the person filling it in."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))  # field ids only: never their values
        self.errors = dict(errors)


class Capability(enum.StrEnum):
    PRIVATE_REPLIES = "private_replies"  # replies only the asker sees (else a direct message)
    FORMS = "forms"  # forms open as dialogs (else the adapter sends a link or card)
    PERMALINKS = "permalinks"  # can build a link to a message
    HOME_TAB = "home_tab"  # the adapter is also a HomePublisher
    CHANNEL_VISIBILITY = "channel_visibility"  # the adapter is also a ChannelVisibility
    READS_LINKS = "reads_links"  # the adapter is also a LinkReader
    FIND_POSTS = "find_posts"  # the adapter is also a PostFinder
    # Presses are answered in the platform's own request once handled (a Teams invoke waits
    # for its card or message): the adapter is also an InteractionListener.
    ANSWERS_IN_TURN = "answers_in_turn"


class ChatAdapter(Protocol):
    """One chat platform, spoken to in intents rather than API calls."""

    @property
    def platform(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def command_prefix(self) -> str:
        """How people start a command here: "/cop" or "@copbot"."""
        ...

    @property
    def app_name(self) -> str:
        """copbot's name here, as people find it to invite or add: an admin may have given
        the Slack bot user or the Teams app another than "copbot"."""
        ...

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """HTTP routes to mount on the shared server (may be empty)."""
        ...

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        """Post a new top-level message, which roots a new thread."""
        ...

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef: ...

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef: ...

    async def respond(self, origin: Origin, message: OutgoingMessage) -> None:
        """Answer the person who acted, privately where the platform allows."""
        ...

    async def open_form(self, origin: Origin, form: Form) -> None: ...

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None: ...

    async def delete(self, ref: MessageRef) -> None: ...

    async def permalink(self, ref: MessageRef) -> str:
        """A link back to the message; "" when the platform cannot build one."""
        ...


class LinkReader(Protocol):
    """Optional: adapters with Capability.READS_LINKS read their own message links back."""

    def message_at(self, link: str) -> MessageRef | None:
        """The message a link of this platform's names (as ``permalink`` builds them, or the
        platform's own "copy link"); None when it is not such a link."""
        ...


class HomePublisher(Protocol):
    """Optional: adapters with Capability.HOME_TAB show a person their own home view."""

    async def publish_home(self, user: UserRef, message: OutgoingMessage) -> None: ...


class PostFinder(Protocol):
    """Optional: adapters with Capability.FIND_POSTS can look through a channel's recent
    messages for copbot's own post carrying a mark (``OutgoingMessage.mark``)."""

    async def find_post(self, channel: ChannelRef, mark: str) -> MessageRef | None:
        """The post, or None when none of the channel's recent messages carries the mark.
        Raises when the platform can't be asked (then nobody knows)."""
        ...


class InteractionListener(Protocol):
    """Optional: adapters with Capability.ANSWERS_IN_TURN hear when the core has finished
    with a person's command, press or submission, so a request still open for it can be
    answered with whatever the handler did (or said)."""

    async def settled(self, origin: Origin) -> None: ...


@dataclass(frozen=True)
class Memberships:
    """The channels a person belongs to, as far as the platform could say: ``unchecked``
    are those whose members it couldn't give (an error, a team copbot was taken out of).
    The core shows an unchecked channel to nobody, and every other as the platform said."""

    channels: frozenset[str]
    unchecked: frozenset[str] = frozenset()


class ChannelVisibility(Protocol):
    """Optional: adapters with Capability.CHANNEL_VISIBILITY say who can see which channels,
    so the archive shows a private channel's messages only to its members.

    Both answer None when the platform can't say at all; the core then treats the channel
    as private and the person as a member of no private channel (it fails closed).
    """

    async def channels_visible_to(self, user: UserRef) -> Memberships | None:
        """Ids of the channels this person belongs to, public and private, and of those
        the platform couldn't check (one unreadable channel hides only itself)."""
        ...

    async def channel_is_private(self, channel: ChannelRef) -> bool | None: ...


class WriteOp(Protocol):
    """A storage write that another repository runs inside its own transaction.

    Opaque to the core: repositories hand these out so that an effect and its
    bookkeeping (say, a prompt post and the job that made it) commit together.
    """

    def __call__(self, conn: Any, /) -> None: ...


class RoleRepository(Protocol):
    async def grant(self, identity: str, role: Role, by: str) -> bool:
        """True when the grant is new."""
        ...

    async def revoke(self, identity: str, role: Role) -> bool:
        """True when there was such a grant."""
        ...

    async def role_of(self, identity: str) -> Role: ...

    async def list(self) -> list[RoleGrant]: ...


class ChannelRepository(Protocol):
    async def save(self, channel: Channel) -> None: ...

    async def get(self, ref: ChannelRef) -> Channel | None: ...

    async def find(self, platform: str, name_or_id: str) -> list[Channel]:
        """Every channel with that id or name (names repeat: every Teams team has a
        General), those copbot is in first."""
        ...

    async def list(self, platform: str | None = None) -> list[Channel]: ...


class InboxBatch(Protocol):
    """Inbox items handled together, whose writes go in together: what storage writes for
    an item while it is handled inside ``item()`` may be held (see
    ``ArchiveRepository.record``), to be committed with the other items' writes, in one
    transaction, as ``done()`` marks them done. Anything else the handling task reads or
    writes first commits what is held, so that it sees it and never overtakes it."""

    def item(self, item_id: int) -> AbstractContextManager[None]:
        """Handle one item inside; if that raises, what was held for it is dropped."""
        ...

    async def done(self, item_ids: Sequence[int]) -> dict[int, Exception]:
        """Commit what is held and mark ``item_ids`` done, in one transaction, except the
        items one of whose writes failed: returned, with why, still pending. Raises when
        the transaction fails (then nothing held went in, and every item is pending)."""
        ...


class InboxRepository(Protocol):
    def batch(self) -> AbstractAsyncContextManager[InboxBatch]:
        """Open a batch for the current task; what is still held when it closes is dropped."""
        ...

    async def accept(
        self, items: Sequence[tuple[str, InboundEvent, str | None]], at: datetime
    ) -> list[bool]:
        """Keep (dedup key, event, identity) durably, in one transaction; True if new."""
        ...

    async def pending(
        self,
        limit: int,
        now: datetime,
        *,
        interactive: bool = False,
        besides: Collection[int] = (),
    ) -> list[InboxItem]:
        """Waiting events, oldest first; only people's interactions when ``interactive``;
        none of ``besides``."""
        ...

    async def done(self, item_ids: Sequence[int]) -> list[int]:
        """Mark events handled; return those this call took from waiting (another
        process sharing the file may have taken some first)."""
        ...

    async def failed(
        self, item_id: int, error: str, give_up: bool, retry_at: datetime | None = None
    ) -> None: ...

    async def erase(self, identity: str) -> int:
        """Forget one person's events that still hold their words."""
        ...

    async def purge(self, handled_before: datetime, failed_before: datetime) -> int: ...


class JobRepository(Protocol):
    async def add(self, job: Job, *, untraced: bool = False) -> Job | None:
        """Queue a job; None when a job with its key exists already. ``untraced``: its row
        says nothing of when or in what order it was queued (a random id, and its due time
        as its creation time), for a job an anonymous submission queued."""
        ...

    async def add_recurrence(self, recurrence: Recurrence, first: Job) -> Recurrence:
        """Store a recurrence and its first job together; both get their ids.

        ``{recurrence_id}`` in the first job's key is filled in with the new id.
        """
        ...

    async def get(self, job_id: int) -> Job | None: ...

    async def find_by_key(self, key: str) -> Job | None: ...

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Job]:
        """Mark due pending jobs running, counting the attempt, and return them."""
        ...

    async def interrupted(self, now: datetime) -> list[Job]:
        """Running jobs whose lease ran out: their process stopped mid-run."""
        ...

    async def finish(
        self,
        job: Job,
        state: JobState,
        error: str = "",
        *,
        also: Sequence[WriteOp] = (),
        then: Job | None = None,
    ) -> bool:
        """Close a job, run ``also`` and queue ``then`` (its successor) in one transaction;
        False when another process had closed this run already (then only a done job's
        ``also`` runs)."""
        ...

    async def retry(self, job: Job, due_at: datetime, error: str) -> None:
        """Queue the run again, unless another process has closed it meanwhile."""
        ...

    async def next_due(self) -> datetime | None: ...

    async def recurrence(self, recurrence_id: int) -> Recurrence | None: ...

    async def recurrences(
        self, kind: str | None = None, active: bool = True
    ) -> list[Recurrence]: ...

    async def cancel_recurrence(self, recurrence_id: int) -> bool: ...

    async def pause_recurrence(self, recurrence_id: int) -> bool:
        """Pause an active, running schedule; False when there is none such."""
        ...

    async def resume_recurrence(self, recurrence_id: int, then: Job | None) -> bool:
        """Resume an active, paused schedule; False when there is none such. Its queued
        occurrence already due (the pause's) is skipped and ``then`` queued instead."""
        ...

    async def forget_owner(self, identity: str) -> int:
        """Keep jobs and schedules, without whom to tell of their trouble."""
        ...

    async def jobs(self, *, states: Sequence[JobState] = (), limit: int = 100) -> list[Job]: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True)
class PlaygroundMessage:
    """A message in the local playground, which is a small chat platform of its own."""

    id: str
    channel: str
    author: str  # identity
    author_name: str
    body: str  # people's messages: their text; the bot's: an OutgoingMessage as JSON
    created_at: datetime
    thread_root: str | None = None
    visible_to: str | None = None  # set for replies only one person sees
    edited_at: datetime | None = None


class PlaygroundRepository(Protocol):
    async def add(self, message: PlaygroundMessage) -> PlaygroundMessage:
        """Store a new message; the returned copy carries its new id."""
        ...

    async def get(self, message_id: str) -> PlaygroundMessage | None: ...

    async def edit(self, message_id: str, body: str, at: datetime) -> bool: ...

    async def delete(self, message_id: str) -> bool: ...

    async def conversation(self, channel: str, viewer: str, limit: int) -> list[PlaygroundMessage]:
        """The latest messages of a channel that ``viewer`` may see, oldest first."""
        ...


@dataclass(frozen=True)
class Suggestion:
    """A prompt someone suggested, for facilitators to consider."""

    topic: str
    text: str
    by: str  # identity: suggestions are not anonymous, and the form says so
    at: datetime


class PromptRepository(Protocol):
    async def add(self, prompt: Prompt, at: datetime) -> bool:
        """Keep a prompt a facilitator added; False when its id is taken."""
        ...

    async def remove(self, prompt_id: str) -> bool: ...

    async def added(self) -> list[Prompt]: ...

    def recording(self, post: PromptPost, job_key: str | None = None) -> WriteOp: ...

    async def record(self, post: PromptPost) -> None: ...

    async def history(self, channel: ChannelRef) -> list[PromptPost]:
        """Every prompt posted in a channel, oldest first."""
        ...

    async def post_for(self, message: MessageRef) -> PromptPost | None: ...

    async def recent(self, platform: str, limit: int) -> list[PromptPost]:
        """The latest prompts posted on a platform, newest first."""
        ...

    async def suggest(self, suggestion: Suggestion) -> None: ...

    async def suggestions(self, limit: int) -> list[Suggestion]: ...

    async def erase_suggestions(self, identity: str) -> int: ...

    async def forget_person(self, identity: str) -> int:
        """Keep the prompts they added and posted, without who did it."""
        ...
