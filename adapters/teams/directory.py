"""What the Bot Framework connector says about a team's channels: each channel's kind
(``membershipType`` in ``GET /v3/teams/{team}/conversations``) and who is in a channel
(``GET /v3/conversations/{channel}/pagedmembers``, page by page).

botbuilder's ``ChannelInfo`` has no ``membershipType``, so the channel list is read from
the answer's JSON. Anything that goes wrong raises; the caller fails closed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from adapters.teams.conversations import Place
from adapters.teams.delivery import Delivery

if TYPE_CHECKING:
    from botbuilder.core import TurnContext

PAGE = 500  # members a page; Teams caps it at 500
MAX_PAGES = 20  # 10,000 members; past that, say "can't tell" rather than page on


class TooManyMembers(Exception):
    """A channel's member list runs past MAX_PAGES."""


def channel_kinds(listing: Any) -> dict[str, str]:
    """Channel id -> membershipType ("standard", "private", "shared"; "" when not said)."""
    conversations = listing.get("conversations") if isinstance(listing, dict) else None
    kinds: dict[str, str] = {}
    for channel in conversations if isinstance(conversations, list) else ():
        if isinstance(channel, dict) and isinstance(channel.get("id"), str):
            kind = channel.get("membershipType")
            kinds[channel["id"]] = kind.lower() if isinstance(kind, str) else ""
    return kinds


class Directory:
    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    async def channel_kinds(self, place: Place) -> dict[str, str]:
        """The kind of each channel of the place's team, as Teams lists them."""
        found: dict[str, str] = {}
        from botbuilder.core.teams import TeamsInfo  # botbuilder at first use

        async def ask(context: TurnContext) -> None:
            connector = await TeamsInfo.get_teams_connector_client(context)
            # botbuilder's Teams connector is synchronous (requests): on a thread.
            answer = await asyncio.to_thread(
                connector.teams.get_teams_channels, place.team, raw=True
            )
            found.update(channel_kinds(answer.response.json()))

        await self._delivery.asking("list channels", place, place.team, ask)
        return found

    async def members(self, place: Place, channel_id: str) -> frozenset[str]:
        """The Entra object ids of the channel's members."""
        ids: set[str] = set()
        from botbuilder.core import BotAdapter  # botbuilder at first use

        async def ask(context: TurnContext) -> None:
            client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
            token: str | None = None
            for _ in range(MAX_PAGES):
                page = await client.conversations.get_teams_conversation_paged_members(
                    channel_id, PAGE, token
                )
                for member in page.members or ():
                    if member.aad_object_id:
                        ids.add(str(member.aad_object_id))
                token = page.continuation_token
                if not token:
                    return
            raise TooManyMembers()

        await self._delivery.asking("list members", place, channel_id, ask)
        return frozenset(ids)
