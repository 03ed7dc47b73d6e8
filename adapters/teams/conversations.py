"""Where copbot can post in Teams: a conversation reference per channel (stored when copbot
is installed in the team, or hears from the channel) and per person (for their 1:1 chat).

Channel references are kept in memory too (every message asks for its channel's name);
a person's are read from storage each time, so erasure takes effect at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from bot.records import Conversation

CHANNEL = "channel"
PERSON = "person"


class ConversationStore(Protocol):
    """``storage.conversations.SqliteConversationRepository`` fits."""

    async def save(self, conversation: Conversation) -> None: ...

    async def get(self, kind: str, key: str) -> Conversation | None: ...

    async def person_in_chat(self, conversation: str) -> Conversation | None: ...

    async def channels(self) -> list[Conversation]: ...

    async def forget_channel(self, key: str) -> None: ...


@dataclass(frozen=True)
class Place:
    """What posting needs beyond an id: the service URL the activity came from, the tenant,
    copbot's own id there, and (for channels) the team."""

    service_url: str
    tenant: str
    bot: str = ""
    team: str = ""
    group: str = ""  # the team's Microsoft 365 group id, for deep links
    account: str = ""  # a person's ``29:…`` id
    conversation: str = ""  # a person's 1:1 chat with copbot, once there is one

    def dumps(self) -> str:
        return json.dumps(
            {k: v for k, v in asdict(self).items() if v}, separators=(",", ":"), sort_keys=True
        )

    @classmethod
    def loads(cls, text: str) -> Place:
        doc = json.loads(text)
        fields = cls.__dataclass_fields__
        return cls(**{k: str(v) for k, v in doc.items() if k in fields})


@dataclass(frozen=True)
class KnownChannel:
    id: str
    name: str
    place: Place


class Conversations:
    def __init__(self, store: ConversationStore) -> None:
        self._store = store
        self._channels: dict[str, KnownChannel] = {}
        self._people: dict[str, Place] = {}  # what was last saved, to skip rewrites

    async def load(self) -> None:
        for row in await self._store.channels():
            self._channels[row.key] = KnownChannel(row.key, row.name, Place.loads(row.reference))

    def names(self) -> dict[str, str]:
        return {c.id: c.name for c in self._channels.values() if c.name}

    def channel(self, channel_id: str) -> KnownChannel | None:
        return self._channels.get(channel_id)

    def channels(self) -> list[KnownChannel]:
        return list(self._channels.values())

    def of_team(self, team: str) -> list[KnownChannel]:
        return [c for c in self._channels.values() if c.place.team == team]

    def any_place(self, tenant: str = "") -> Place | None:
        """A channel's place, in ``tenant`` when given: never another tenant's, whose
        service URL and bot may not reach this one."""
        return next(
            (c.place for c in self._channels.values() if not tenant or c.place.tenant == tenant),
            None,
        )

    async def chat(self, conversation: str) -> Place | None:
        """The place of the person whose 1:1 chat with copbot ``conversation`` is."""
        row = await self._store.person_in_chat(conversation)
        return Place.loads(row.reference) if row is not None else None

    async def remember_channel(self, channel_id: str, name: str, place: Place) -> None:
        known = self._channels.get(channel_id)
        name = name or (known.name if known else "")
        if known is not None:
            place = Place(
                place.service_url or known.place.service_url,
                place.tenant or known.place.tenant,
                place.bot or known.place.bot,
                place.team or known.place.team,
                place.group or known.place.group,
            )
            if known.name == name and known.place == place:
                return
        await self._store.save(
            Conversation(CHANNEL, channel_id, place.dumps(), "", place.team, name)
        )
        self._channels[channel_id] = KnownChannel(channel_id, name, place)

    async def forget_channel(self, channel_id: str) -> None:
        self._channels.pop(channel_id, None)
        await self._store.forget_channel(channel_id)

    async def person(self, identity: str) -> Place | None:
        row = await self._store.get(PERSON, identity)
        if row is None:
            # Erased: the next message from them must be kept again, not skipped as known.
            self._people.pop(identity, None)
            return None
        return Place.loads(row.reference)

    async def remember_person(self, identity: str, place: Place) -> None:
        known = self._people.get(identity) or await self.person(identity)
        if known is not None and not place.conversation:
            place = replace(place, conversation=known.conversation)
        if known == place:
            return
        await self._store.save(Conversation(PERSON, identity, place.dumps(), identity))
        self._people[identity] = place
