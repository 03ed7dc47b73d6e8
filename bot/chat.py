"""The core's one way out to the platforms: every call is routed by the platform of its
channel, thread or person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar, cast

from bot import command_words
from bot.errors import WordedError
from bot.model import ChannelRef, Form, MessageRef, Origin, OutgoingMessage, ThreadRef, UserRef
from bot.ports import (
    Capability,
    ChannelVisibility,
    ChatAdapter,
    DeliveryError,
    HomePublisher,
    InteractionListener,
    LinkReader,
    OutcomeUnknown,
    PostFinder,
)

T = TypeVar("T")

# Told of every message sent: (platform, kind, outcome), outcome one of ok, failed, unknown.
SendObserver = Callable[[str, str, str], None]


def _unobserved(platform: str, kind: str, outcome: str) -> None:
    pass


class PlatformUnavailable(WordedError):
    def __init__(self, platform: str) -> None:
        super().__init__(
            f"copbot is not connected to {platform} right now; please try again later."
        )
        self.platform = platform


class Chat:
    def __init__(
        self, adapters: Iterable[ChatAdapter], observe: SendObserver = _unobserved
    ) -> None:
        self._adapters: Mapping[str, ChatAdapter] = {a.platform: a for a in adapters}
        self._observe = observe
        # Sends that failed in a row, by platform, and the kind of the last error: what
        # /healthz reports as degraded until a send succeeds again.
        self._failing: dict[str, tuple[int, str]] = {}

    @property
    def platforms(self) -> list[str]:
        return sorted(self._adapters)

    def adapter(self, platform: str) -> ChatAdapter:
        try:
            return self._adapters[platform]
        except KeyError:
            raise PlatformUnavailable(platform) from None

    async def _counted(self, platform: str, kind: str, call: Awaitable[T]) -> T:
        try:
            result = await call
        except DeliveryError:
            # A refusal a person can act on (not in the channel, say): the platform is fine.
            self._observe(platform, kind, "failed")
            raise
        except Exception as e:
            unknown = isinstance(e, OutcomeUnknown)
            self._observe(platform, kind, "unknown" if unknown else "failed")
            count, _ = self._failing.get(platform, (0, ""))
            self._failing[platform] = (count + 1, type(e).__name__)
            raise
        self._observe(platform, kind, "ok")
        self._failing.pop(platform, None)
        return result

    def degraded(self) -> dict[str, str]:
        """Platforms whose last sends failed, each with a line saying how (no message text)."""
        return {
            platform: f"the last {count} send(s) failed ({error}); retrying"
            for platform, (count, error) in sorted(self._failing.items())
        }

    async def post(self, channel: ChannelRef, message: OutgoingMessage) -> MessageRef:
        adapter = self.adapter(channel.platform)
        return await self._counted(channel.platform, "post", adapter.post(channel, message))

    async def reply(self, thread: ThreadRef, message: OutgoingMessage) -> MessageRef:
        platform = thread.channel.platform
        adapter = self.adapter(platform)
        return await self._counted(platform, "reply", adapter.reply(thread, message))

    async def send_direct(self, user: UserRef, message: OutgoingMessage) -> MessageRef:
        adapter = self.adapter(user.platform)
        return await self._counted(user.platform, "direct", adapter.send_direct(user, message))

    async def respond(self, origin: Origin, message: OutgoingMessage) -> None:
        if origin.user.is_anonymous:
            return  # nobody to answer: the platform's own form closing is the confirmation
        await self.adapter(origin.channel.platform).respond(origin, message)

    async def open_form(self, origin: Origin, form: Form) -> None:
        await self.adapter(origin.channel.platform).open_form(origin, form)

    async def update(self, ref: MessageRef, message: OutgoingMessage) -> None:
        platform = ref.channel.platform
        await self._counted(platform, "update", self.adapter(platform).update(ref, message))

    async def delete(self, ref: MessageRef) -> None:
        platform = ref.channel.platform
        await self._counted(platform, "delete", self.adapter(platform).delete(ref))

    async def publish_home(self, user: UserRef, message: OutgoingMessage) -> bool:
        """Show ``user`` their home view, where the platform has one; False where not."""
        adapter = self._adapters.get(user.platform)
        if adapter is None or Capability.HOME_TAB not in adapter.capabilities:
            return False
        await cast(HomePublisher, adapter).publish_home(user, message)
        return True

    async def settled(self, origin: Origin) -> None:
        """Tell the platform the core is done with what ``origin``'s person did."""
        adapter = self._adapters.get(origin.channel.platform)
        if adapter is not None and Capability.ANSWERS_IN_TURN in adapter.capabilities:
            await cast(InteractionListener, adapter).settled(origin)

    def visibility(self, platform: str) -> ChannelVisibility | None:
        """Who can see which channels on this platform, where it can say; None where not."""
        adapter = self._adapters.get(platform)
        if adapter is None or Capability.CHANNEL_VISIBILITY not in adapter.capabilities:
            return None
        return cast(ChannelVisibility, adapter)

    def finder(self, platform: str) -> PostFinder | None:
        """Who can look for copbot's own marked posts on this platform; None where nobody."""
        adapter = self._adapters.get(platform)
        if adapter is None or Capability.FIND_POSTS not in adapter.capabilities:
            return None
        return cast(PostFinder, adapter)

    async def permalink(self, ref: MessageRef) -> str:
        return await self.adapter(ref.channel.platform).permalink(ref)

    def message_at(self, link: str) -> MessageRef | None:
        """The message a link names, read by whichever platform made it; None if none can."""
        for adapter in self._adapters.values():
            if Capability.READS_LINKS in adapter.capabilities:
                found = cast(LinkReader, adapter).message_at(link)
                if found is not None:
                    return found
        return None

    def command_prefix(self, platform: str) -> str:
        """How people on this platform start a command: ``/cop`` or ``@copbot``."""
        adapter = self._adapters.get(platform)
        return adapter.command_prefix if adapter else "/cop"

    def app_name(self, platform: str) -> str:
        """copbot's name on this platform, as people find it to invite or add."""
        adapter = self._adapters.get(platform)
        return adapter.app_name if adapter else command_words.DEFAULT_NAME

    def how_to_add(self, platform: str) -> str:
        """How to bring copbot into a channel, in words for people on this platform."""
        return command_words.how_to_add(self.command_prefix(platform), self.app_name(platform))
