"""In-memory stand-ins for the platforms and the clock, for service tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.model import ChannelRef, Form, MessageRef, Origin, OutgoingMessage, ThreadRef, UserRef
from bot.ports import Capability, DeliveryError, EventSink, Memberships


class ManualClock:
    """A clock that moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


@dataclass(frozen=True)
class Sent:
    """One thing the bot sent, as the fake platform saw it."""

    kind: str  # post, reply, direct, respond, form, update, delete
    message: OutgoingMessage | None = None
    channel: ChannelRef | None = None
    thread: ThreadRef | None = None
    user: UserRef | None = None
    form: Form | None = None
    ref: MessageRef | None = None

    @property
    def text(self) -> str:
        return self.message.text if self.message else ""


@dataclass
class FakeAdapter:
    """A platform that records everything the core sends it."""

    platform: str = "test"
    command_prefix: str = "/cop"
    app_name: str = "copbot"
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.PRIVATE_REPLIES,
            Capability.FORMS,
            Capability.PERMALINKS,
            Capability.HOME_TAB,
            Capability.CHANNEL_VISIBILITY,
        }
    )
    # Private channels (by id) and their members (user ids); every other channel is public.
    private_channels: dict[str, set[str]] = field(default_factory=dict)
    memberships: dict[str, set[str]] = field(default_factory=dict)  # user id -> channel ids
    unsure: bool = False  # the platform can't say who sees what (an outage, say)
    # Channels whose members the platform can't give (the others it answers for as usual).
    unchecked: set[str] = field(default_factory=set)
    visibility_asked: list[str] = field(default_factory=list)  # user ids, in order
    sent: list[Sent] = field(default_factory=list)
    fail_next: int = 0  # make the next N posts raise, like a platform outage
    refuse_posts: str = ""  # refuse every post in these words, as for an archived channel
    fail_responses: int = 0  # make the next N private answers raise
    hang_after_post: asyncio.Event | None = None  # a post goes out, then the process "dies"
    sink: EventSink | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return []

    async def start(self, sink: EventSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        self.sink = None

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("the platform is unavailable")

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        self._maybe_fail()
        if self.refuse_posts:
            raise DeliveryError(self.refuse_posts)
        ref = MessageRef(channel, f"p{next(self._ids)}")
        self.sent.append(Sent("post", message, channel=channel, ref=ref))
        if self.hang_after_post is not None:
            await self.hang_after_post.wait()
        return ref

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        self._maybe_fail()
        ref = MessageRef(thread.channel, f"r{next(self._ids)}", thread.root_id)
        self.sent.append(Sent("reply", message, channel=thread.channel, thread=thread, ref=ref))
        return ref

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef:
        channel = ChannelRef(self.platform, f"D-{user.id}")
        ref = MessageRef(channel, f"d{next(self._ids)}")
        self.sent.append(Sent("direct", message, channel=channel, user=user, ref=ref))
        return ref

    async def respond(self, origin: Origin, message: OutgoingMessage) -> None:
        if self.fail_responses:
            self.fail_responses -= 1
            raise ConnectionError("the platform is unavailable")
        self.sent.append(
            Sent("respond", message, channel=origin.channel, thread=origin.thread, user=origin.user)
        )

    async def open_form(self, origin: Origin, form: Form) -> None:
        self.sent.append(Sent("form", channel=origin.channel, user=origin.user, form=form))

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None:
        self.sent.append(Sent("update", message, channel=ref.channel, ref=ref))

    async def delete(self, ref: MessageRef) -> None:
        self.sent.append(Sent("delete", channel=ref.channel, ref=ref))

    async def publish_home(self, user: UserRef, message: OutgoingMessage) -> None:
        self.sent.append(Sent("home", message, user=user))

    async def permalink(self, ref: MessageRef) -> str:
        return f"https://chat.example/{ref.channel.id}/{ref.id}"

    async def channels_visible_to(self, user: UserRef) -> Memberships | None:
        self.visibility_asked.append(user.id)
        if self.unsure:
            return None
        mine = {c for c, members in self.private_channels.items() if user.id in members}
        # An unchecked channel is named among the person's too, as a careless platform
        # might: the core must still leave it out.
        return Memberships(
            frozenset(mine | self.memberships.get(user.id, set()) | self.unchecked),
            frozenset(self.unchecked),
        )

    async def channel_is_private(self, channel: ChannelRef) -> bool | None:
        return None if self.unsure else channel.id in self.private_channels

    async def find_post(self, channel: ChannelRef, mark: str) -> MessageRef | None:
        """Used only once a test adds Capability.FIND_POSTS."""
        for sent in reversed(self.sent):
            message = sent.message
            if sent.kind == "post" and sent.channel == channel and message and message.mark == mark:
                return sent.ref
        return None

    def of_kind(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]
