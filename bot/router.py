"""From an inbound event to the handler that owns it.

Features register what they handle (verbs, button actions, forms, event listeners) in a
``Registry``; the ``Router`` looks up the caller's role once, checks it once, and turns
every failure into a friendly answer rather than a stack trace.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.chat import Chat
from bot.commands import CommandBook, Handler, UsageError, Verb
from bot.errors import WordedError
from bot.interaction import Interaction
from bot.logs import stack_only
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    CommandReceived,
    FormSubmitted,
    HomeOpened,
    InboundEvent,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Origin,
    OutgoingMessage,
    Role,
)

log = logging.getLogger(__name__)

ActionHandler = Callable[[Interaction, ButtonPressed], Awaitable[None]]
FormHandler = Callable[[Interaction, FormSubmitted], Awaitable[None]]
Listener = Callable[[Any], Awaitable[None]]


class Feature(Protocol):
    def register(self, registry: Registry) -> None: ...


class RoleLookup(Protocol):
    async def role_of(self, identity: str) -> Role: ...


@dataclass(frozen=True)
class _Action:
    handler: ActionHandler
    role: Role


@dataclass(frozen=True)
class _FormRoute:
    handler: FormHandler
    role: Role
    anonymous: bool


class Registry:
    """Everything the features of copbot have said they handle."""

    def __init__(self) -> None:
        self.commands = CommandBook()
        self._actions: dict[str, _Action] = {}
        self._forms: dict[str, _FormRoute] = {}
        self._listeners: dict[type, list[Listener]] = defaultdict(list)

    def verb(
        self,
        name: str,
        summary: str,
        handler: Handler,
        *,
        usage: str = "",
        role: Role = Role.STAFF,
        details: str = "",
        raw: bool = False,
    ) -> None:
        self.commands.add(Verb(name, summary, usage, role, handler, details, raw))

    def action(self, prefix: str, handler: ActionHandler, *, role: Role = Role.STAFF) -> None:
        """Buttons whose action id is ``prefix`` or starts with ``prefix + ":"``."""
        self._actions[prefix] = _Action(handler, role)

    def form(
        self,
        form_id: str,
        handler: FormHandler,
        *,
        role: Role = Role.STAFF,
        anonymous: bool = False,
    ) -> None:
        """``anonymous`` forms lose the sender's identity before they are stored at all."""
        self._forms[form_id] = _FormRoute(handler, role, anonymous)

    def listen(self, event_type: type, listener: Listener) -> None:
        self._listeners[event_type].append(listener)

    def find_action(self, action_id: str) -> _Action | None:
        return self._actions.get(action_id.split(":", 1)[0])

    def find_form(self, form_id: str) -> _FormRoute | None:
        return self._forms.get(form_id)

    def listeners(self, event_type: type) -> list[Listener]:
        return self._listeners.get(event_type, [])

    def redact(self, event: InboundEvent) -> InboundEvent:
        """A second guard behind the adapters: a submission of a form registered as
        anonymous loses everything that points at the person before anything keeps it."""
        if isinstance(event, FormSubmitted) and not event.origin.user.is_anonymous:
            route = self.find_form(event.form_id)
            if route is not None and route.anonymous:
                return replace(event, origin=event.origin.anonymised())
        return event


SORRY = (
    "Sorry, something went wrong on my side and I couldn't finish that. "
    "Please try again in a minute; if it keeps happening, let your copbot admin know."
)


class Router:
    def __init__(self, registry: Registry, roles: RoleLookup, chat: Chat) -> None:
        self._registry = registry
        self._roles = roles
        self._chat = chat

    async def handle(self, event: InboundEvent) -> None:
        match event:
            case CommandReceived() | ButtonPressed() | FormSubmitted():
                await self._interactive(event)
            case MessagePosted() | MessageEdited() | MessageDeleted():
                await self._notify(event)
            case BotAddedToChannel() | BotRemovedFromChannel() | MemberJoined() | HomeOpened():
                await self._notify(event)

    async def _interactive(self, event: CommandReceived | ButtonPressed | FormSubmitted) -> None:
        """Someone is waiting for an answer: they get one, even when a handler breaks.

        Runs at most once and never raises: a half-done command repeated could do its
        first half twice, so when even the answer fails, that is logged and left there.
        """
        try:
            match event:
                case CommandReceived():
                    await self._command(event)
                case ButtonPressed():
                    await self._button(event)
                case FormSubmitted():
                    await self._form(event)
        except WordedError as e:
            await self._answer(event, e.words)
        except Exception as error:
            log.error("handling a %s failed: %s", type(event).__name__, stack_only(error))
            await self._answer(event, SORRY)

    async def _answer(
        self, event: CommandReceived | ButtonPressed | FormSubmitted, words: str
    ) -> None:
        try:
            await self._chat.respond(event.origin, OutgoingMessage.of(words))
        except Exception as error:
            # The person's words stay out of the log: the type and place only.
            log.error(
                "could not answer a %s; leaving it: %s", type(event).__name__, stack_only(error)
            )

    async def _notify(self, event: InboundEvent) -> None:
        for listener in self._registry.listeners(type(event)):
            await listener(event)

    async def _interaction(self, origin: Origin) -> Interaction:
        role = (
            Role.STAFF
            if origin.user.is_anonymous
            else await self._roles.role_of(origin.user.identity)
        )
        return Interaction(origin, role, self._chat)

    async def _command(self, event: CommandReceived) -> None:
        ix = await self._interaction(event.origin)
        prefix = ix.prefix
        parsed = self._registry.commands.parse(event.text, prefix)
        verb = parsed.verb
        if not _allowed(ix, verb.role):
            raise NotAllowed(f"`{prefix} {verb.name}`", verb.role)
        assert verb.handler is not None
        try:
            await verb.handler(ix, parsed.args)
        except UsageError as e:
            e.usage = verb.synopsis(prefix)
            raise

    async def _button(self, event: ButtonPressed) -> None:
        ix = await self._interaction(event.origin)
        action = self._registry.find_action(event.action_id)
        if action is None:
            raise Gone("That button no longer does anything. It may be from an older message.")
        if not _allowed(ix, action.role):
            raise NotAllowed("That button", action.role)
        await action.handler(ix, event)

    async def _form(self, event: FormSubmitted) -> None:
        ix = await self._interaction(event.origin)
        route = self._registry.find_form(event.form_id)
        if route is None:
            raise Gone("That form is out of date. Please open it again.")
        if not _allowed(ix, route.role):
            raise NotAllowed("That form", route.role)
        await route.handler(ix, event)


class Gone(WordedError):
    """A button or form from an older copbot, or one that no longer exists."""


class NotAllowed(WordedError):
    def __init__(self, what: str, needed: Role) -> None:
        who = "facilitators and admins" if needed is Role.FACILITATOR else "admins"
        super().__init__(
            f"{what} is for {who}. If you need it, ask an admin to give you the role "
            "(they can see who's who with `role list`)."
        )


def _allowed(ix: Interaction, needed: Role) -> bool:
    return ix.role >= needed
