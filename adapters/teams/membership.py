"""Who can see which Teams channels (the adapter's ``ChannelVisibility``).

General and standard channels are open to their whole team. A private or shared channel,
or one Teams hasn't said the kind of, is open to its members only: copbot asks Teams for
its member list, and keeps it for a minute so one search doesn't ask again for each
person. When Teams can't say (an error, a timeout, too many members), the answer is
None and the core fails closed: that person sees no private channel's messages, and is
told why.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from adapters.teams.conversations import Conversations, KnownChannel, Place
from bot.model import ChannelRef, UserRef
from bot.ports import Clock

log = logging.getLogger(__name__)

STANDARD = "standard"
# A member list is this old at most; with the core's own minute per person, someone added to
# a private channel finds its messages within two minutes.
TTL = timedelta(seconds=60)


class Asks(Protocol):
    """``adapters.teams.directory.Directory`` fits."""

    async def channel_kinds(self, place: Place) -> dict[str, str]: ...

    async def members(self, place: Place, channel_id: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class _Members:
    ids: frozenset[str]
    at: datetime


class ChannelMembership:
    def __init__(
        self, teams: Asks, conversations: Conversations, clock: Clock, ttl: timedelta = TTL
    ) -> None:
        self._teams = teams
        self._conversations = conversations
        self._clock = clock
        self._ttl = ttl
        self._kinds: dict[str, str] = {}  # channel id -> membershipType, as Teams said it
        self._listed: dict[str, datetime] = {}  # team -> when its channels were last asked
        self._members: dict[str, _Members] = {}  # channel id -> its members, lately
        # One question to Teams at a time, so those asking together share its answer.
        self._listing = asyncio.Lock()
        self._reading = asyncio.Lock()

    async def channel_is_private(self, channel: ChannelRef) -> bool | None:
        kind = await self._kind(channel.id)
        return None if kind is None else kind != STANDARD

    async def channels_visible_to(self, user: UserRef) -> frozenset[str] | None:
        if not user.id:
            return None
        visible: set[str] = set()
        for channel in self._conversations.channels():
            if await self._kind(channel.id) == STANDARD:
                visible.add(channel.id)
                continue
            members = await self._members_of(channel)
            if members is None:
                return None  # one private channel unknown: the core shows public ones only
            if user.id in members:
                visible.add(channel.id)
        return frozenset(visible)

    async def _kind(self, channel_id: str) -> str | None:
        """The channel's membershipType: remembered, else from its team's channel list
        (asked at most once a minute per team), else None."""
        if channel_id in self._kinds:
            return self._kinds[channel_id]
        async with self._listing:
            return await self._listed_kind(channel_id)

    async def _listed_kind(self, channel_id: str) -> str | None:
        if channel_id in self._kinds:
            return self._kinds[channel_id]
        known = self._conversations.channel(channel_id)
        if known is None or not known.place.team:
            return None
        team = known.place.team
        if channel_id == team:
            return STANDARD  # General: its id is the team's, and it is open to the team
        now = self._clock.now()
        if (asked := self._listed.get(team)) is not None and now - asked < self._ttl:
            return None
        self._listed[team] = now
        try:
            kinds = await self._teams.channel_kinds(known.place)
        except Exception as e:
            log.warning("Teams did not list a team's channels (%s)", type(e).__name__)
            return None
        self._kinds.update({cid: kind for cid, kind in kinds.items() if kind})
        return self._kinds.get(channel_id)

    async def _members_of(self, channel: KnownChannel) -> frozenset[str] | None:
        async with self._reading:
            return await self._read_members(channel)

    async def _read_members(self, channel: KnownChannel) -> frozenset[str] | None:
        now = self._clock.now()
        kept = self._members.get(channel.id)
        if kept is not None and now - kept.at < self._ttl:
            return kept.ids
        try:
            ids = await self._teams.members(channel.place, channel.id)
        except Exception as e:  # not kept: asked again next time
            log.warning("Teams did not say who is in a channel (%s)", type(e).__name__)
            return None
        self._members[channel.id] = _Members(ids, now)
        return ids
