"""From an inbound event to the handler that owns it.

Features declare what they handle (verbs, button actions, forms, event listeners) in a
``Registry`` (bot/registry.py); the ``Router`` looks up the caller's role once, checks it
once, and turns every failure into a friendly answer rather than a stack trace.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from bot.chat import Chat
from bot.commands import UsageError
from bot.errors import WordedError
from bot.interaction import Interaction
from bot.logs import stack_only
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    ChannelRenamed,
    ChannelVisibilityChanged,
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
from bot.ports import Capability
from bot.registry import Registry

log = logging.getLogger(__name__)


class RoleLookup(Protocol):
    async def role_of(self, identity: str) -> Role: ...


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
            case (
                BotAddedToChannel()
                | ChannelRenamed()
                | BotRemovedFromChannel()
                | MemberJoined()
                | ChannelVisibilityChanged()
                | HomeOpened()
            ):
                await self._notify(event)

    async def check(self, event: InboundEvent) -> None:
        """A form's own check, run while the platform waits: only for someone who may
        submit the form. Anyone else's submission goes on to be refused in words, and what
        they typed is never looked up (an id's existence says something too)."""
        if isinstance(event, FormSubmitted):
            route = self._registry.find_form(event.form_id)
            if route is None or not _allowed(await self._interaction(event.origin), route.role):
                return
        await self._registry.check(event)

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
        try:
            await self._chat.settled(event.origin)
        except Exception as error:
            log.error("could not close a %s: %s", type(event).__name__, stack_only(error))

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

    async def _interaction(self, origin: Origin, at: datetime | None = None) -> Interaction:
        role = (
            Role.STAFF
            if origin.user.is_anonymous
            else await self._roles.role_of(origin.user.identity)
        )
        return Interaction(origin, role, self._chat, at)

    async def _command(self, event: CommandReceived) -> None:
        ix = await self._interaction(event.origin, event.at)
        prefix = ix.prefix
        commands = self._registry.commands
        if event.said is not None and not commands.is_command(event.text):
            # Someone naming copbot as they talk: the inbox keeps the message as any
            # other (Registry.conversation); here it is only answered, kindly. Where no
            # message can be shown to one person alone (Teams), the note would come as a
            # new message in their chat with copbot, a notification for having said thanks:
            # sent there only when they may have mistyped a command, to say which.
            if _private_replies(ix) or commands.looks_mistyped(event.text):
                await ix.reply(commands.conversation_note(event.text, prefix))
            return
        parsed = commands.parse(event.text, prefix)
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
        ix = await self._interaction(event.origin, event.at)
        action = self._registry.find_action(event.action_id)
        if action is None:
            raise Gone("That button no longer does anything. It may be from an older message.")
        if not _allowed(ix, action.role):
            raise NotAllowed("That button", action.role)
        await action.handler(ix, event)

    async def _form(self, event: FormSubmitted) -> None:
        ix = await self._interaction(event.origin, event.at)
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
        # A command names its prefix ("`/cop role grant`"); buttons and forms don't.
        prefix = what.strip("`").split()[0] if what.startswith("`") else "/cop"
        super().__init__(
            f"{what} is for {who}. If you need it, ask one of them, or ask an admin for "
            f"the role: `{prefix} role list` shows who they are."
        )


def _private_replies(ix: Interaction) -> bool:
    """Whether an answer here can be shown to the person alone, where they are."""
    platform = ix.origin.channel.platform
    return (
        platform in ix.chat.platforms
        and Capability.PRIVATE_REPLIES in ix.chat.adapter(platform).capabilities
    )


def _allowed(ix: Interaction, needed: Role) -> bool:
    return ix.role >= needed
