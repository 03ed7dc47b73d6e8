"""People by their names: a small directory of identity -> the name they go by.

Platforms give names with events (``UserRef.name``); copbot notes them as people act, so
that what it shows (roles, suggestions, schedules) names people rather than ids. A
person is in the directory once copbot has met them, which is also how a grant to an
identity copbot has never seen is noticed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

from bot.markup import escape
from bot.model import (
    ButtonPressed,
    CommandReceived,
    FormSubmitted,
    HomeOpened,
    InboundEvent,
    MemberJoined,
    MessageEdited,
    MessagePosted,
    UserRef,
)

log = logging.getLogger(__name__)


class PeopleRepository(Protocol):
    async def note(self, identity: str, name: str) -> bool:
        """Remember the person (and their name, when given); True when they are new."""
        ...

    async def names(self, identities: Iterable[str]) -> dict[str, str]:
        """The known among ``identities``, with their names ("" when never given)."""
        ...

    async def erase(self, identity: str) -> int: ...


class People:
    def __init__(
        self, repository: PeopleRepository, named: Mapping[str, str] | None = None
    ) -> None:
        self._repo = repository
        # Names known before copbot meets their owners (the playground's personas), so
        # that a persona who hasn't acted yet is named, as the console names them.
        self._named = {i: n for i, n in (named or {}).items() if n}
        # What was last written for each identity: most events then cost no write.
        self._noted: dict[str, str] = {}

    async def note(self, user: UserRef) -> bool:
        """Remember someone who acted; True when copbot meets them for the first time."""
        if user.is_anonymous:
            return False
        name = user.name.strip()
        if user.identity in self._noted and (not name or self._noted[user.identity] == name):
            return False
        new = await self._repo.note(user.identity, name)
        self._noted[user.identity] = name or self._noted.get(user.identity, "")
        return new

    async def known(self, identity: str) -> bool:
        return identity in self._noted or bool(await self._repo.names([identity]))

    async def names(self, identities: Iterable[str]) -> dict[str, str]:
        """identity -> name, for those with a known name."""
        wanted = list(identities)
        noted = await self._repo.names(wanted)
        return {i: n for i in wanted if (n := noted.get(i) or self._named.get(i, ""))}

    async def name(self, identity: str) -> str:
        """The person's name, or their identity when copbot doesn't know it."""
        return (await self.names([identity])).get(identity) or identity

    async def labels(
        self, identities: Iterable[str], *, with_identity: bool, markup: bool = False
    ) -> dict[str, str]:
        """How to show each person: their name, and their identity too where an admin
        needs it (to grant or revoke a role with it). With ``markup``, for a chat message:
        a name is what someone chose on their platform, shown as written, never as markup."""
        wanted = [i for i in identities if i]
        names = await self.names(wanted)
        shown = escape if markup else str
        return {i: _label(i, shown(names.get(i, "")), with_identity) for i in wanted}

    async def label(self, identity: str, *, with_identity: bool) -> str:
        return (await self.labels([identity], with_identity=with_identity)).get(identity, "")

    async def erase(self, identity: str) -> int:
        self._noted.pop(identity, None)
        return await self._repo.erase(identity)

    def noting(
        self,
        handle: Callable[[InboundEvent], Awaitable[None]],
        on_meeting: Callable[[UserRef], Awaitable[None]] | None = None,
        unnoted: Callable[[InboundEvent], bool] = lambda event: False,
    ) -> Callable[[InboundEvent], Awaitable[None]]:
        """``handle``, after noting who acted (the router then finds their name known),
        and ``on_meeting`` for someone copbot meets for the first time. Events ``unnoted``
        says yes to (asking for an anonymous form) leave no note of who acted."""

        async def noted(event: InboundEvent) -> None:
            user = None if unnoted(event) else actor(event)
            if user is not None:
                try:
                    if await self.note(user) and on_meeting is not None:
                        await on_meeting(user)
                except Exception as error:
                    # A name is a nicety: the person's command must not wait on it.
                    log.warning("could not note who acted (%s)", type(error).__name__)
            await handle(event)

        return noted


def actor(event: InboundEvent) -> UserRef | None:
    match event:
        case MessagePosted() if not event.from_bot:
            return event.author
        case MessageEdited():
            return event.editor
        case CommandReceived() | ButtonPressed() | FormSubmitted():
            return event.origin.user
        case MemberJoined() | HomeOpened():
            return event.user
        case _:
            return None


def _label(identity: str, name: str, with_identity: bool) -> str:
    if not name:
        return identity
    return f"{name} ({identity})" if with_identity else name
