from __future__ import annotations

import re
from dataclasses import replace

from bot.chat import Chat
from bot.model import BotAddedToChannel, BotRemovedFromChannel, Channel, ChannelRef, OutgoingMessage
from bot.ports import ChannelRepository
from bot.registry import Registry

REGIONS = ("north", "midlands", "london", "south", "national")


def region_from_name(name: str) -> str:
    """#ips-north -> "north": the first region word in the channel's name, if any."""
    words = re.split(r"[^a-z]+", name.lower())
    return next((r for r in REGIONS if r in words), "")


class ChannelsFeature:
    """Remembers the channels copbot is in, and says hello when it joins one."""

    def __init__(self, channels: ChannelRepository, chat: Chat) -> None:
        self._channels = channels
        self._chat = chat

    def register(self, registry: Registry) -> None:
        registry.listen(BotAddedToChannel, self.on_added)
        registry.listen(BotRemovedFromChannel, self.on_removed)

    async def on_removed(self, event: BotRemovedFromChannel) -> None:
        known = await self._channels.get(event.channel)
        if known is not None:
            await self._channels.save(replace(known, bot_member=False))

    async def on_added(self, event: BotAddedToChannel) -> None:
        ref = event.channel
        known = await self._channels.get(ref)
        region = known.region if known and known.region else region_from_name(ref.name)
        archive = known.archive if known else False
        private = known.private if known else None
        await self._channels.save(Channel(ref, region, True, archive, private))
        if event.greet and not ref.is_direct and (known is None or not known.bot_member):
            await self._chat.post(ref, hello(ref, self._chat.command_prefix(ref.platform)))


def hello(channel: ChannelRef, prefix: str) -> OutgoingMessage:
    return OutgoingMessage.of(
        f"Hello {channel.label}! I'm copbot. I post reflection prompts for this community of "
        "practice, and the conversation happens in each prompt's thread. None of us are "
        "experts here; we each bring our own perspective.",
        f"Type `{prefix} help` to see what I can do.",
    )
