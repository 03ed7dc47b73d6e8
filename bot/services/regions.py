"""Which regions a channel serves: facilitators link them, events are announced by them.

A link also sets the channel's region in the archive; without one, the region is still
guessed from the channel's name (bot/services/channels.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from bot.commands import Args, CommandError, UsageError
from bot.events import RegionLink, RegionLinkRepository, find_region, region_label
from bot.interaction import Interaction
from bot.model import Channel, ChannelRef, Role
from bot.ports import ChannelRepository
from bot.registry import PersonalData, Registry
from bot.services.channels import region_from_name
from bot.visibility import Visibility

NATIONAL = "national"


class Regions:
    """The configured regions and the channels linked to them."""

    def __init__(self, links: RegionLinkRepository, names: Sequence[str]) -> None:
        self._links = links
        self.names = tuple(names)

    def find(self, text: str) -> str | None:
        """The region's slug (lower case) for what someone typed, or None."""
        found = find_region(text, self.names)
        return found.lower() if found else None

    def guess(self, channel_name: str) -> str:
        """The region a channel's name suggests ("" for none), for a channel not linked."""
        return region_from_name(channel_name, self.names)

    def label(self, slug: str) -> str:
        return region_label(slug, self.names)

    async def links(self) -> Sequence[RegionLink]:
        return await self._links.links()

    async def channels_for(self, region: str) -> list[ChannelRef]:
        """Where an event of ``region`` is announced: its linked channels, or every linked
        channel for a national event. Each channel once."""
        seen: dict[ChannelRef, None] = {}
        for link in await self._links.links():
            if region == NATIONAL or link.region == region:
                seen.setdefault(link.channel, None)
        return list(seen)


class RegionsFeature:
    def __init__(
        self,
        regions: Regions,
        links: RegionLinkRepository,
        channels: ChannelRepository,
        visibility: Visibility,
        announce_upcoming: Callable[[str, ChannelRef], Awaitable[int]],
    ) -> None:
        self._regions = regions
        self._links = links
        self._channels = channels
        self._visibility = visibility
        # The events feature's: a newly linked channel hears of the events already planned.
        self._announce_upcoming = announce_upcoming

    def register(self, registry: Registry) -> None:
        registry.verb(
            "region link",
            "Announce this region's events in this channel (a channel may serve several)",
            self.link,
            usage="REGION",
            role=Role.FACILITATOR,
            details=f"Regions: {', '.join(self._regions.names)}. National events go to every "
            "linked channel.",
        )
        registry.verb(
            "region unlink",
            "Stop announcing a region's events in this channel",
            self.unlink,
            usage="REGION",
            role=Role.FACILITATOR,
        )
        registry.verb("regions", "See which channels serve which region", self.listing)
        registry.keeps(
            PersonalData(
                "region links made",
                ("region_links.linked_by",),
                erase=self._links.forget_linker,
                on_opt_out=False,
                notice="The channels you linked to a region.",
            )
        )

    def _region(self, args: Args) -> str:
        if not args:
            raise UsageError(f"Which region? One of: {', '.join(self._regions.names)}.")
        region = self._regions.find(args.text)
        if region is None:
            raise CommandError(
                f"I don't know the region '{args.text[:40]}'. "
                f"Choose one of: {', '.join(self._regions.names)}."
            )
        return region

    async def _channel(self, ix: Interaction) -> ChannelRef:
        if ix.origin.channel.is_direct:
            raise CommandError(
                "Link a region from the channel that should hear about its events: "
                "run this there, not in a direct message."
            )
        known = await self._channels.get(ix.origin.channel)
        if known is not None and not known.bot_member:
            # A slash command reaches copbot from a channel it has left: announcements there
            # would fail. (A channel copbot has never heard of may still be one it is in,
            # its arrival missed: refusing would leave no way on, as /invite then says
            # nothing.)
            raise CommandError(
                "I'm not in this channel, so I couldn't announce events here. Add me to it "
                f"first ({ix.how_to_add}), then try again."
            )
        return ix.origin.channel

    async def link(self, ix: Interaction, args: Args) -> None:
        region = self._region(args)
        channel = await self._channel(ix)
        label = self._regions.label(region)
        if not await self._links.link(channel, region, ix.user.identity):
            await ix.reply(f"{channel.label} already hears about {label} events.")
            return
        await self._set_archive_region(channel, region)
        coming = await self._announce_upcoming(region, channel)
        done = f"Done: {label} events will be announced in {channel.label}" + (
            "." if region == "national" else ", along with national ones."
        )
        if coming:
            planned = "the event" if coming == 1 else f"the {coming} events"
            done += f" I'm announcing {planned} already planned here now."
        await ix.reply(done)

    async def unlink(self, ix: Interaction, args: Args) -> None:
        region = self._region(args)
        channel = await self._channel(ix)
        label = self._regions.label(region)
        if not await self._links.unlink(channel, region):
            await ix.reply(f"{channel.label} wasn't linked to {label}, so nothing has changed.")
            return
        remaining = [link.region for link in await self._links.links() if link.channel == channel]
        await self._set_archive_region(
            channel, remaining[0] if remaining else self._regions.guess(channel.name)
        )
        await ix.reply(f"Done: {channel.label} won't hear about new {label} events.")

    async def _set_archive_region(self, ref: ChannelRef, region: str) -> None:
        # The archive reads the channel's region: a link wins over the guess from its name.
        known = await self._channels.get(ref)
        await self._channels.save(replace(known, region=region) if known else Channel(ref, region))

    async def listing(self, ix: Interaction, args: Args) -> None:
        links = await self._links.links()
        # A private channel's name is its members' business: others never see it here.
        mine = [
            link
            for link in links
            if link.channel.platform == ix.origin.channel.platform
            and await self._visibility.may_see(ix.user, link.channel)
        ]
        if not mine:
            await ix.reply(
                "No channel is linked to a region yet. A facilitator can run "
                f"`{ix.prefix} region link REGION` in a channel to announce that region's "
                "events there."
            )
            return
        lines = []
        for name in self._regions.names:
            slug = name.lower()
            here = [link.channel.label for link in mine if link.region == slug]
            if slug == NATIONAL:
                # Announced in every linked channel: "no channel yet" would say nowhere.
                lines.append(f"**{name}**: every channel linked to a region")
            else:
                lines.append(f"**{name}**: {', '.join(here) if here else 'no channel yet'}")
        await ix.reply("\n".join(["Channels by region:", *lines]))
