"""Who may see what in the archive: public channels' messages, and those of the private
channels a person belongs to.

The platform says (``ChannelVisibility``); when it can't, copbot fails closed: a channel of
unknown kind counts as private, and a person as a member of no private channel. When it
can say for some channels and not others, only those it couldn't check are left out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from bot.archive_ports import ArchiveRepository
from bot.chat import Chat
from bot.model import Channel, ChannelRef, UserRef
from bot.ports import ChannelRepository, Clock

log = logging.getLogger(__name__)

TTL = timedelta(seconds=60)  # someone added to a channel finds its messages within a minute
CACHE_SIZE = 1000  # people
NOBODY: frozenset[str] = frozenset()

K = TypeVar("K")
V = TypeVar("V")


UNSURE_NOTE = (
    "I couldn't check which private channels you're in just now, so nothing from private "
    "channels is included."
)
# Said whether or not anything was left out: saying so only when a hidden channel matched
# would tell someone outside it that it holds those words.
PARTLY_NOTE = (
    "I couldn't check who is in some channels just now, so their messages are left out. "
    "Try again in a few minutes."
)
UNSURE_LISTED = (
    "I couldn't check which private channels you're in just now, so nothing in private "
    "channels is listed."
)
PARTLY_LISTED = (
    "I couldn't check who is in some channels just now, so anything in them is left out of "
    "this list. Try again in a few minutes."
)


@dataclass(frozen=True)
class _Seen:
    channels: frozenset[str]
    at: datetime


@dataclass(frozen=True)
class View:
    """The channels a person belongs to, and whether the platform said so (when it
    couldn't, none: their private channels are left out, and they are told why), and for
    every channel (when not, those it couldn't check are left out, and they are told)."""

    channels: frozenset[str]
    sure: bool = True
    whole: bool = True

    @property
    def note(self) -> str:
        if not self.sure:
            return UNSURE_NOTE
        return "" if self.whole else PARTLY_NOTE

    @property
    def list_note(self) -> str:
        """``note``, for a list of what is in channels (schedules, feedback rounds)."""
        if not self.sure:
            return UNSURE_LISTED
        return "" if self.whole else PARTLY_LISTED


class Visibility:
    def __init__(
        self,
        chat: Chat,
        channels: ChannelRepository,
        archive: ArchiveRepository,
        clock: Clock,
        ttl: timedelta = TTL,
        size: int = CACHE_SIZE,
    ) -> None:
        self._chat = chat
        self._channels = channels
        self._archive = archive
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        # Channels copbot keeps no row for (a prompt thread before copbot heard it join).
        self._kinds: OrderedDict[ChannelRef, bool] = OrderedDict()
        # Channels the platform couldn't tell about lately: not asked again at every message.
        self._unsure: OrderedDict[ChannelRef, datetime] = OrderedDict()

    async def channels_of(self, user: UserRef) -> frozenset[str]:
        """The channels ``user`` belongs to; none when the platform can't say."""
        return (await self.view_of(user)).channels

    async def view_of(self, user: UserRef) -> View:
        """The channels ``user`` belongs to, and whether the platform could say."""
        now = self._clock.now()
        seen = self._seen.get(user.identity)
        if seen is not None and now - seen.at < self._ttl:
            return View(seen.channels)
        platform = self._chat.visibility(user.platform)
        if platform is None:
            return View(NOBODY)  # a platform with no private channels copbot can tell
        try:
            answer = await platform.channels_visible_to(user)
        except Exception as e:  # an outage must not open private channels up
            log.warning("could not ask which channels someone is in (%s)", type(e).__name__)
            return View(NOBODY, sure=False)
        if answer is None:
            return View(NOBODY, sure=False)  # not kept: ask again next time
        # An unchecked channel opens to nobody, even should the platform name it both ways.
        channels = frozenset(answer.channels - answer.unchecked)
        if answer.unchecked:
            return View(channels, whole=False)  # not kept: ask again next time
        self._keep(self._seen, user.identity, _Seen(channels, now))
        return View(channels)

    async def is_private(self, ref: ChannelRef, known: Channel | None) -> bool:
        """Whether messages from this channel are private: what copbot knows of it, else
        what the platform says (remembered, and applied to what was kept before), else
        True."""
        if known is not None and known.private is not None:
            return known.private
        if known is None and ref in self._kinds:
            return self._kinds[ref]
        now = self._clock.now()
        if (since := self._unsure.get(ref)) is not None and now - since < self._ttl:
            return True
        platform = self._chat.visibility(ref.platform)
        private: bool | None = None
        if platform is not None:
            try:
                private = await platform.channel_is_private(ref)
            except Exception as e:
                log.warning("could not ask whether a channel is private (%s)", type(e).__name__)
        if private is None:
            self._keep(self._unsure, ref, now)
            return True
        if known is not None:
            await self._channels.save(replace(known, private=private))
        else:
            self._keep(self._kinds, ref, private)
        # Messages kept before copbot knew were kept as private: set them right.
        await self._archive.mark_private(ref, private)
        return private

    async def changed(self, ref: ChannelRef, private: bool) -> None:
        """The platform made the channel private or public: what copbot shows of it, kept
        before or after, follows at once (as the platform's own history does)."""
        known = await self._channels.get(ref)
        if known is not None:
            await self._channels.save(replace(known, private=private))
        else:
            self._keep(self._kinds, ref, private)
        self._unsure.pop(ref, None)
        await self._archive.mark_private(ref, private)

    async def may_see(self, user: UserRef, ref: ChannelRef) -> bool:
        """Whether ``user`` can see the channel on its platform: a public one, or a private
        one they belong to. What copbot shows or does about a channel follows this."""
        if not await self.is_private(ref, await self._channels.get(ref)):
            return True
        return ref.id in await self.channels_of(user)

    def _keep(self, cache: OrderedDict[K, V], key: K, value: V) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._size:
            cache.popitem(last=False)
