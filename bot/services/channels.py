from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from bot.chat import Chat
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    Channel,
    ChannelRef,
    ChannelRenamed,
    OutgoingMessage,
)
from bot.ports import ChannelRepository
from bot.registry import Registry


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", text.lower()) if w]


def region_from_name(name: str, regions: Sequence[str]) -> str:
    """#ips-north -> "north": the configured region (COPBOT_REGIONS) whose words appear
    whole, and in order, in the channel's name; "" for none. A longer name wins, so that
    #ips-north-east is "north east" rather than "north"."""
    words = _words(name)
    for region in sorted(regions, key=lambda r: -len(_words(r))):
        wanted = _words(region)
        if wanted and any(
            words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1)
        ):
            return region.lower()
    return ""


class ChannelsFeature:
    """Remembers the channels copbot is in, and says hello when it joins one."""

    def __init__(self, channels: ChannelRepository, chat: Chat, regions: Sequence[str]) -> None:
        self._channels = channels
        self._chat = chat
        self._regions = tuple(regions)  # as configured, to guess a new channel's region

    def register(self, registry: Registry) -> None:
        registry.listen(BotAddedToChannel, self.on_added)
        registry.listen(BotRemovedFromChannel, self.on_removed)
        registry.listen(ChannelRenamed, self.on_renamed)

    async def on_removed(self, event: BotRemovedFromChannel) -> None:
        ref = event.channel
        if ref.is_direct:
            return
        known = await self._channels.get(ref)
        # Remembered even if its arrival was missed: a schedule taken there then pauses.
        left = Channel(ref, region_from_name(ref.name, self._regions), bot_member=False)
        await self._channels.save(replace(known, bot_member=False) if known else left)

    async def on_renamed(self, event: ChannelRenamed) -> None:
        ref = event.channel
        if ref.is_direct or not ref.name:
            return
        known = await self._channels.get(ref)
        if known is not None:
            # The name alone: whether copbot is there is for arrivals and removals to say.
            await self._channels.save(replace(known, ref=ref))
        else:
            # Only a channel's members hear of its renaming: copbot is there, its arrival
            # missed.
            await self._channels.save(Channel(ref, region_from_name(ref.name, self._regions)))

    async def on_added(self, event: BotAddedToChannel) -> None:
        ref = event.channel
        if ref.is_direct:
            # Someone's own chat with copbot (Teams' app Chat): a hello, and no channel.
            welcome = hello_in_chat(self._chat.command_prefix(ref.platform))
            if event.greet and event.by is not None:
                await self._chat.send_direct(event.by, welcome)
            elif event.greet:
                await self._chat.post(ref, welcome)
            return
        known = await self._channels.get(ref)
        region = (
            known.region if known and known.region else region_from_name(ref.name, self._regions)
        )
        archive = known.archive if known else False
        private = known.private if known else None
        await self._channels.save(Channel(ref, region, True, archive, private))
        if event.greet and not ref.is_direct and (known is None or not known.bot_member):
            prefix = self._chat.command_prefix(ref.platform)
            await self._chat.post(ref, hello(ref, prefix, archived=archive))


def hello(channel: ChannelRef, prefix: str, *, archived: bool = False) -> OutgoingMessage:
    # Back in a channel kept in the archive: those who joined meanwhile were never told.
    kept = (
        (
            "I keep every message in this channel in the community's archive, as an admin "
            f"asked before I left. If you'd rather yours weren't kept, type `{prefix} optout`.",
        )
        if archived
        else ()
    )
    return OutgoingMessage.of(
        f"Hello {channel.label}! I'm copbot. I post reflection prompts for this community of "
        "practice, and the conversation happens in each prompt's thread. None of us are "
        "experts here; we each bring our own perspective.",
        *kept,
        f"Type `{prefix} help` to see what I can do.",
    )


def hello_in_chat(prefix: str) -> OutgoingMessage:
    return OutgoingMessage.of(
        "Hello! I'm copbot. I post reflection prompts for this community of practice, and the "
        "conversation happens in each prompt's thread. None of us are experts here; we each "
        "bring our own perspective.",
        "This chat is just between us. Type `help` here to see what I can do; in a channel, "
        f"write `{prefix} help`. My answers to what you ask in a channel come here too.",
    )
