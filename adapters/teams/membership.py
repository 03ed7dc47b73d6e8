"""Who can see which Teams channels (the adapter's ``ChannelVisibility``).

No Teams channel is open to everyone copbot serves: General and standard channels are open
to their team's members (a private team's are not even visible to the rest of the
organisation), a private or shared channel to its own members. So every channel counts as
private to the core, and copbot asks Teams for the member list that opens it (the team's
roster for a standard channel, the channel's own for the others), keeping each for a
minute so one search doesn't ask again for each person. When Teams can't give a channel's
list (an error, a timeout, too many members, a team copbot was taken out of while it was
down), that channel is named unchecked and the core fails closed for it alone: nobody sees
its messages, and the person is told some were left out. Every other channel is answered
as Teams said.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from adapters.teams.conversations import Conversations, Place
from bot.model import ChannelRef, UserRef
from bot.ports import Clock, Memberships

log = logging.getLogger(__name__)

STANDARD = "standard"
# A member list is this old at most; with the core's own minute per person, someone added to
# a private channel finds its messages within two minutes.
TTL = timedelta(seconds=60)
# A list Teams wouldn't give is not asked again for this long: a team copbot was removed
# from while it was down fails every time, and each search, and each check of a channel,
# would otherwise ask again, one list after another.
RETRY_AFTER = timedelta(seconds=15)


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
        self._refused: dict[str, datetime] = {}  # channel id -> when Teams last didn't say
        # One question to Teams at a time, so those asking together share its answer.
        self._listing = asyncio.Lock()
        self._reading = asyncio.Lock()

    async def channel_is_private(self, channel: ChannelRef) -> bool | None:
        # Open to a team at most, never to everyone: see the module's note.
        return None if await self._kind(channel.id) is None else True

    async def channels_visible_to(self, user: UserRef) -> Memberships | None:
        if not user.id:
            return None
        visible: set[str] = set()
        unchecked: set[str] = set()
        # Each list asked once an answer: a team's roster Teams won't give isn't asked
        # again for each of its standard channels.
        read: dict[str, frozenset[str] | None] = {}
        for channel in self._conversations.channels():
            # A standard channel opens to its team: the members of General, whose id is the
            # team's. Any other, to its own members.
            standard = await self._kind(channel.id) == STANDARD
            opens = channel.place.team if standard and channel.place.team else channel.id
            if opens not in read:
                read[opens] = await self._members_of(channel.place, opens)
            members = read[opens]
            if members is None:
                unchecked.add(channel.id)  # hidden from everyone; the others still answer
            elif user.id in members:
                visible.add(channel.id)
        return Memberships(frozenset(visible), frozenset(unchecked))

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

    async def _members_of(self, place: Place, conversation: str) -> frozenset[str] | None:
        async with self._reading:
            return await self._read_members(place, conversation)

    async def _read_members(self, place: Place, conversation: str) -> frozenset[str] | None:
        now = self._clock.now()
        kept = self._members.get(conversation)
        if kept is not None and now - kept.at < self._ttl:
            return kept.ids
        if (refused := self._refused.get(conversation)) and now - refused < RETRY_AFTER:
            return None
        try:
            ids = await self._teams.members(place, conversation)
        except Exception as e:  # asked again shortly, not at once
            log.warning("Teams did not say who is in a channel (%s)", type(e).__name__)
            self._refused[conversation] = now
            return None
        self._refused.pop(conversation, None)
        self._members[conversation] = _Members(ids, now)
        return ids
