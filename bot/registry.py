"""What features bring, declared in one place.

A feature is a class with ``register(registry)``: there it names its chat verbs, buttons,
forms and event listeners, its job kinds, its HTTP routes, what it must do once copbot is
up, and the personal data it keeps (so that erasure and retention reach it). The
composition root lists the features and wires what they declared; nothing else knows them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from aiohttp import web

from bot.commands import CommandBook, Handler, Verb
from bot.interaction import Interaction
from bot.model import (
    ButtonPressed,
    CommandReceived,
    FormSubmitted,
    InboundEvent,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Role,
)
from bot.ports import FormInvalid
from bot.scheduler import JobKind

ActionHandler = Callable[[Interaction, ButtonPressed], Awaitable[None]]
FormHandler = Callable[[Interaction, FormSubmitted], Awaitable[None]]
Listener = Callable[[Any], Awaitable[None]]
Step = Callable[[], Awaitable[None]]
# Checks a submission before it is kept: {field id: what is wrong}, empty when all is well.
FormCheck = Callable[[FormSubmitted], Awaitable[Mapping[str, str]]]


class Feature(Protocol):
    def register(self, registry: Registry) -> None: ...


@dataclass(frozen=True)
class PersonalData:
    """Something copbot keeps that names or quotes people.

    ``holds`` lists the ``table.column`` places it lives in; a test checks that every
    column of the schema that can hold an identity is declared by some feature.
    """

    what: str  # in words, for erasure reports: "archived messages"
    holds: tuple[str, ...]
    # Forget one person (by identity); returns how many records changed.
    erase: Callable[[str], Awaitable[int]] | None = None
    # Forget everything from before a moment (COPBOT_RETENTION_DAYS).
    expire: Callable[[datetime], Awaitable[int]] | None = None
    # Whether `/cop optout` erases it too, not only `copbot erase`: yes for what holds the
    # words copbot kept of someone; no for what they did through copbot on purpose (an
    # answer to an event, a round they opened, a schedule), theirs until an erasure. Every
    # feature that erases says which: there is no default to forget.
    on_opt_out: bool | None = None
    # Why it is kept after erasure, when ``erase`` is None.
    kept_because: str = ""
    # What the privacy page tells people it is, as a sentence to them: a notice that
    # leaves out something kept is wrong, so every declaration says it.
    notice: str = ""

    def __post_init__(self) -> None:
        if not self.notice:
            raise ValueError(f"{self.what}: say what the privacy page tells people (notice)")
        if self.erase is None and not self.kept_because:
            raise ValueError(f"{self.what}: say how it is erased, or why it is kept")
        if self.erase is not None and self.on_opt_out is None:
            raise ValueError(f"{self.what}: say whether opting out erases it (on_opt_out)")


@dataclass(frozen=True)
class ActionRoute:
    handler: ActionHandler
    role: Role
    # Pressing it asks for an anonymous form: who pressed it is used by its handler and
    # then forgotten (not noted in the people directory), so no trace pairs them with it.
    private: bool = False


@dataclass(frozen=True)
class FormRoute:
    handler: FormHandler
    role: Role
    anonymous: bool
    check: FormCheck | None = None


class Registry:
    """Everything the features of copbot have declared."""

    def __init__(self) -> None:
        self.commands = CommandBook()
        self._actions: dict[str, ActionRoute] = {}
        self._forms: dict[str, FormRoute] = {}
        self._listeners: dict[type, list[Listener]] = defaultdict(list)
        self.job_kinds: list[JobKind] = []
        self.routes: list[web.RouteDef] = []
        self.personal_data: list[PersonalData] = []
        self.startup: list[Step] = []

    # -- chat -----------------------------------------------------------------------

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
        private: bool = False,
        in_turn: bool = False,
    ) -> None:
        """``in_turn`` verbs change how messages are kept: see bot.inbox.Inbox."""
        self.commands.add(Verb(name, summary, usage, role, handler, details, raw, private, in_turn))

    def action(
        self, prefix: str, handler: ActionHandler, *, role: Role = Role.STAFF, private: bool = False
    ) -> None:
        """Buttons whose action id is ``prefix`` or starts with ``prefix + ":"``.
        ``private`` buttons open anonymous forms: copbot keeps no note of who pressed them."""
        self._actions[prefix] = ActionRoute(handler, role, private)

    def form(
        self,
        form_id: str,
        handler: FormHandler,
        *,
        role: Role = Role.STAFF,
        anonymous: bool = False,
        check: FormCheck | None = None,
    ) -> None:
        """``anonymous`` forms must be opened with ``Form(anonymous=True)``: their
        submissions lose everything that points at the person before anything keeps them.
        ``check`` runs while the platform waits, so a form with a problem stays open."""
        self._forms[form_id] = FormRoute(handler, role, anonymous, check)

    def listen(self, event_type: type, listener: Listener) -> None:
        self._listeners[event_type].append(listener)

    # -- the rest of the house -------------------------------------------------------

    def job(self, kind: JobKind) -> None:
        if any(k.name == kind.name for k in self.job_kinds):
            raise ValueError(f"job kind '{kind.name}' is registered twice")
        self.job_kinds.append(kind)

    def route(self, *routes: web.RouteDef) -> None:
        self.routes.extend(routes)

    def keeps(self, data: PersonalData) -> None:
        self.personal_data.append(data)

    def on_start(self, step: Step) -> None:
        """Run once copbot is up (after the adapters start), e.g. to reconcile jobs."""
        self.startup.append(step)

    # -- lookups ---------------------------------------------------------------------

    @property
    def actions(self) -> Mapping[str, ActionRoute]:
        """Every button prefix declared, with who may press it."""
        return MappingProxyType(self._actions)

    @property
    def forms(self) -> Mapping[str, FormRoute]:
        """Every form declared, with who may submit it."""
        return MappingProxyType(self._forms)

    def find_action(self, action_id: str) -> ActionRoute | None:
        return self._actions.get(action_id.split(":", 1)[0])

    def find_form(self, form_id: str) -> FormRoute | None:
        return self._forms.get(form_id)

    def listeners(self, event_type: type) -> Sequence[Listener]:
        return self._listeners.get(event_type, [])

    async def check(self, event: InboundEvent) -> None:
        """Raise FormInvalid for a submission its form's check finds wrong."""
        if isinstance(event, FormSubmitted):
            route = self.find_form(event.form_id)
            if route is not None and route.check is not None:
                errors = await route.check(event)
                if errors:
                    raise FormInvalid(errors)

    def unnoted(self, event: InboundEvent) -> bool:
        """Whether who acted must not be noted (the people directory): a press of a private
        button, a private verb (asking for anonymous forms), or a submission of an anonymous
        form."""
        if isinstance(event, CommandReceived):
            found = self.commands.verb_of(event.text)
            return found is not None and found[0].private
        if isinstance(event, ButtonPressed):
            action = self.find_action(event.action_id)
            return action is not None and action.private
        if isinstance(event, FormSubmitted):
            form = self.find_form(event.form_id)
            return form is not None and form.anonymous
        return False

    def in_turn(self, event: InboundEvent) -> bool:
        """Whether a command must wait its turn behind the messages accepted before it."""
        if isinstance(event, CommandReceived):
            found = self.commands.verb_of(event.text)
            return found is not None and found[0].in_turn
        return False

    def conversation(self, event: InboundEvent) -> tuple[MessagePosted | None, InboundEvent]:
        """A mention of copbot written in a conversation others read, split: the message it
        was written in when what follows the mention is no command (a reply like any other,
        to keep as one), and the event to handle. A command keeps no copy of its message:
        it is not part of the conversation, and is never kept; nor does a message edited
        into one, which the archive drops as deleted."""
        if isinstance(event, MessageEdited) and event.asked is not None:
            if self.commands.is_command(event.asked):
                # Edited into a command: for the archive, the message is gone (and stays
                # gone should it be edited back), as a command is never kept.
                return None, MessageDeleted(event.event_id, event.message, event.at)
            return None, event
        if not isinstance(event, CommandReceived) or event.said is None:
            return None, event
        if self.commands.is_command(event.text):
            return None, replace(event, said=None)
        return event.said, event

    def redact(self, event: InboundEvent) -> InboundEvent:
        """A second guard behind the adapters: a submission of a form registered as
        anonymous loses everything that points at the person before anything keeps it."""
        if isinstance(event, FormSubmitted) and not event.origin.user.is_anonymous:
            route = self.find_form(event.form_id)
            if route is not None and route.anonymous:
                return replace(event, origin=event.origin.anonymised())
        return event
