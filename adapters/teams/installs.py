"""Teams telling copbot of its installation in a team, its removal, and channels created,
renamed or deleted: the conversation references posting needs are kept or dropped, and
the change reaches the core as neutral events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adapters.teams.conversations import Conversations, Place
from adapters.teams.translate import TeamChange, channel_name, team_events
from bot.model import InboundEvent
from bot.ports import Clock

if TYPE_CHECKING:
    from botbuilder.core import TurnContext

log = logging.getLogger(__name__)


class TeamInstalls:
    def __init__(
        self,
        conversations: Conversations,
        clock: Clock,
        accept: Callable[[InboundEvent], Awaitable[bool]],
        send_timeout: float,
    ) -> None:
        self._conversations = conversations
        self._clock = clock
        self._accept = accept
        self._send_timeout = send_timeout
        self._installed: set[str] = set()
        self._installing = asyncio.Lock()

    async def changed(self, context: TurnContext, change: TeamChange, raw: dict[str, Any]) -> None:
        if change.kind not in ("installed", "restored"):
            await self._take_in(context, change, raw)
            self._installed.discard(change.team if change.kind == "removed" else "")
            return
        async with self._installing:
            if change.team in self._installed:
                log.info("Teams told again of an installation copbot has taken in")
                return
            await self._take_in(context, change, raw)
            self._installed.add(change.team)  # only once its events are committed

    async def _take_in(self, context: TurnContext, change: TeamChange, raw: dict[str, Any]) -> None:
        service_url = str(raw.get("serviceUrl") or "")
        bot = str((raw.get("recipient") or {}).get("id") or "")
        group = str(((raw.get("channelData") or {}).get("team") or {}).get("aadGroupId") or "")
        place = Place(service_url, change.tenant, bot, change.team, group)
        channels: dict[str, str] = {}
        if change.kind in ("installed", "restored"):
            for channel_id, name in (await self._team_channels(context, change.team)).items():
                await self._conversations.remember_channel(channel_id, name, place)
                channels[channel_id] = name
        elif change.kind == "removed":
            channels = {c.id: c.name for c in self._conversations.of_team(change.team)}
        elif change.kind in ("channel_created", "channel_renamed"):
            name = channel_name(change.channel, change.name, change.team)
            await self._conversations.remember_channel(change.channel, name, place)
        elif change.kind == "channel_deleted":
            known = self._conversations.channel(change.channel)
            channels = {change.channel: known.name if known else change.name}
        activity_id = str(raw.get("id") or "")
        for event in team_events(change, channels, activity_id, self._clock.now()):
            await self._accept(event)
        if change.kind == "channel_deleted":
            await self._conversations.forget_channel(change.channel)
        elif change.kind == "removed":
            for channel_id in channels:
                await self._conversations.forget_channel(channel_id)

    async def _team_channels(self, context: TurnContext, team: str) -> dict[str, str]:
        """The team's channels by id; General (the team's own id) at least."""
        from botbuilder.core.teams import TeamsInfo

        try:
            connector = await TeamsInfo.get_teams_connector_client(context)
            # botbuilder's Teams connector is synchronous (requests): on a thread, with a
            # deadline, so the event loop never waits on it.
            async with asyncio.timeout(self._send_timeout):
                listing = await asyncio.to_thread(connector.teams.get_teams_channels, team)
            infos = listing.conversations
        except Exception as e:
            log.warning("Teams did not list the team's channels (%s)", type(e).__name__)
            infos = []
        channels = {team: channel_name(team, "", team)}
        for info in infos or ():
            if info.id:
                channels[str(info.id)] = channel_name(str(info.id), str(info.name or ""), team)
        return channels
