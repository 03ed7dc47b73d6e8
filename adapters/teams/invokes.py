"""Card actions and dialogs: what Teams sends when someone presses a button on copbot's card
or sends a dialog back, and the answers Teams waits for in the HTTP response.

- ``adaptiveCard/action`` (a button's ``Action.Execute``): the press goes through the inbox
  like any other (committed before the answer; a redelivery is handled once), and the
  answer waits until the core has settled it: the card the button is on, as the handler
  updated it (Teams shows it at once to whoever pressed; the update sent through the
  connector shows it to everyone), or a short message.
- ``task/fetch`` (a button that opens a form): the press goes through the inbox, and the
  answer is the dialog its handler opens, or what it says. A form opened elsewhere (by a
  command) arrives as a one-button card whose button carries the form, signed; its
  ``task/fetch`` is answered with the dialog at once, since nothing changes by opening it.
- ``task/submit``: the dialog sent back, accepted (or refused by the form's check) while
  Teams waits; answered with thanks, or with the form again, each problem beside its field.
- A form card sent back as a message (``Action.Submit`` of a card in a chat): kept, or the
  person told what to fix in the same chat.

Presses waiting for their answer are found again by a token in the press's handle; a
dialog's token starts ``d.``, so an answer that comes after Teams stopped waiting for a
dialog is dropped (they were asked to try again), while a card action's still reaches the
person's chat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from adapters.teams import cards
from adapters.teams.conversations import Place
from adapters.teams.delivery import Delivery
from adapters.teams.text import PLATFORM
from adapters.teams.translate import (
    Known,
    channel_of,
    from_activity,
    invoke_of,
    person,
    submitted_data,
    tenant_of,
)
from bot.codec import from_json, to_json
from bot.model import (
    ButtonPressed,
    ChannelKind,
    ChannelRef,
    Form,
    FormSubmitted,
    InboundEvent,
    MessageRef,
    Origin,
    OutgoingMessage,
    ThreadRef,
)
from bot.ports import Clock, FormInvalid

log = logging.getLogger(__name__)

Json = dict[str, Any]
Accept = Callable[[InboundEvent], Awaitable[bool]]
KnownFor = Callable[[dict[str, Any], str], Known]

# What an invoke waits for, by its token: a press's dialog, a press's answer, or the
# answer to a dialog sent back.
DIALOG, CARD_ACTION, SUBMITTED = "d.", "c.", "s."
GONE = "That button no longer does anything. It may be from an older message."
OUT_OF_DATE = "That form is out of date. Please open it again."
ALREADY = "That's done already."
STILL_WORKING = "Thanks: copbot is still working on that; any answer will come to our chat."


class Sealer(Protocol):
    """Signs what rides in a card and must come back unaltered (``bot.signing.Signer``)."""

    def sign(self, value: str) -> str: ...

    def unsign(self, token: str) -> str | None: ...


@dataclass(frozen=True)
class Waiting:
    """An invoke waiting for its answer: a dialog (``task/fetch``) or a card action."""

    answer: asyncio.Future[Json]
    dialog: bool
    carrier: MessageRef | None = None  # the card whose button was pressed
    card: Json | None = None  # that card as the handler last updated it
    said: str = ""  # what the handler answered the person, privately
    # For a dialog sent back: what it closes with when the handler says nothing.
    thanks: str | None = None


class Invokes:
    def __init__(
        self,
        accept: Accept,
        known: KnownFor,
        delivery: Delivery,
        clock: Clock,
        sealer: Sealer,
        timeout: float,
    ) -> None:
        self._accept = accept
        self._known = known
        self._delivery = delivery
        self._clock = clock
        self._sealer = sealer
        self._timeout = timeout
        self._waiting: dict[str, Waiting] = {}  # by the token in the press's handle
        self._pressed: dict[str, str] = {}  # event id -> token, for a redelivery meanwhile

    # -- what Teams sends -----------------------------------------------------------

    async def answer(self, raw: dict[str, Any]) -> Json | None:
        """The HTTP answer to an invoke, or None when it isn't one of these."""
        match raw.get("name"):
            case "adaptiveCard/action":
                return await self._card_action(raw)
            case "task/fetch":
                return await self._fetch(raw)
            case "task/submit":
                return await self._dialog_submitted(raw)
        return None

    async def _card_action(self, raw: dict[str, Any]) -> Json:
        token = CARD_ACTION + secrets.token_urlsafe(16)
        event = from_activity(raw, self._known(raw, token), self._clock.now())
        if isinstance(event, FormSubmitted):
            return _message(await self._form_answered(event, raw))
        if not isinstance(event, ButtonPressed):
            return _message(GONE)
        earlier = self._pressed.get(event.event_id)
        if earlier is not None and earlier in self._waiting:
            # Teams sent it again while the first is still being handled: one answer.
            return await self._wait(self._waiting[earlier], _message(STILL_WORKING))
        loop = asyncio.get_running_loop()
        waiting = Waiting(loop.create_future(), False, event.message)
        self._waiting[token] = waiting
        self._pressed[event.event_id] = token
        try:
            if not await self._accept(event):
                return _message(ALREADY)  # handled when it first came
            return await self._wait(waiting, _message(STILL_WORKING))
        finally:
            self._waiting.pop(token, None)
            self._pressed.pop(event.event_id, None)

    async def _fetch(self, raw: dict[str, Any]) -> Json:
        """A button asking for a dialog: the form it carries, or the press through the
        inbox like any other and the answer whatever its handler opens (or says)."""
        data = _data(raw)
        opener = cards.read_data(data) if data else None
        if isinstance(opener, cards.OpenerData):
            return self._opened(raw, opener.reference)
        token = DIALOG + secrets.token_urlsafe(16)
        event = from_activity(raw, self._known(raw, token), self._clock.now())
        if not isinstance(event, ButtonPressed):
            return cards.dialog_message(GONE)
        waiting = Waiting(asyncio.get_running_loop().create_future(), True)
        self._waiting[token] = waiting
        try:
            if not await self._accept(event):
                return cards.dialog_message(cards.TRY_AGAIN)  # the first delivery's answer
            return await self._wait(waiting, cards.dialog_message(cards.TRY_AGAIN))
        finally:
            self._waiting.pop(token, None)

    async def _wait(self, waiting: Waiting, late: Json) -> Json:
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(waiting.answer)
        except TimeoutError:
            log.info("a Teams invoke was not answered in time; said so")
            return late

    async def _dialog_submitted(self, raw: dict[str, Any]) -> Json:
        """A dialog sent back: kept and thanked, or shown again with its problems (and the
        person's values) while nothing is kept."""
        token = SUBMITTED + secrets.token_urlsafe(16)
        event = from_activity(raw, self._known(raw, token), self._clock.now())
        if not isinstance(event, FormSubmitted):
            return cards.dialog_message(OUT_OF_DATE)
        data = _data(raw)
        thanks = cards.thanks_of(data)
        # Someone named waits for what the core says (refused: a form for another role, or
        # one no longer offered), shown as the dialog closes; nobody is told of an
        # anonymous one, so its thanks come at once.
        waiting = Waiting(asyncio.get_running_loop().create_future(), False, thanks=thanks)
        if not event.origin.user.is_anonymous:
            self._waiting[token] = waiting
        try:
            if not await self._accept_form(event, raw) or event.origin.user.is_anonymous:
                return cards.dialog_message(thanks)
            return await self._wait(waiting, cards.dialog_message(thanks))
        except FormInvalid as invalid:
            form = cards.form_spec(data, event.context)
            if form is not None:
                return self.form_dialog(form, event.origin, invalid.errors, dict(event.values))
            said = cards.after_submit(data, invalid.errors)
            return cards.dialog_message(said.text if said else cards.TRY_AGAIN)
        finally:
            self._waiting.pop(token, None)

    async def card_submitted(self, event: FormSubmitted, raw: dict[str, Any]) -> None:
        """A form card sent back as a message: kept, or (with problems) not kept and the
        person told what to fix in the same chat, where their card still holds what they
        wrote. Sent again by Teams, it was thanked already."""
        try:
            if not await self._accept_form(event, raw):
                return
            said = cards.after_submit(raw.get("value"), None)
        except FormInvalid as invalid:
            said = cards.after_submit(raw.get("value"), invalid.errors)
        if said is None:
            return
        try:
            await self._send_here(raw, said)
        except Exception as e:  # kept already: a lost thank-you must not refuse the activity
            log.warning("could not answer a form in its chat (%s)", type(e).__name__)

    async def _form_answered(self, event: FormSubmitted, raw: dict[str, Any]) -> str:
        """A form card sent with ``Action.Execute`` (copbot's own use ``Action.Submit``)."""
        try:
            await self._accept_form(event, raw)
        except FormInvalid as invalid:
            return "Some answers need another look: " + " ".join(invalid.errors.values())
        return cards.DONE

    async def _accept_form(self, event: FormSubmitted, raw: dict[str, Any]) -> bool:
        """Into the inbox, unless an answer is longer than its field takes: then refused
        (FormInvalid) with nothing kept, rather than cut short."""
        problems = cards.too_long_values(submitted_data(raw))
        if problems:
            raise FormInvalid(problems)
        return await self._accept(event)

    async def _send_here(self, raw: dict[str, Any], message: OutgoingMessage) -> None:
        """Into the conversation the activity came from, without keeping a reference (it may
        be an anonymous form's, in the person's own chat)."""
        place = Place(
            str(raw.get("serviceUrl") or ""),
            tenant_of(raw),
            str((raw.get("recipient") or {}).get("id") or ""),
        )
        conversation = str((raw.get("conversation") or {}).get("id") or "")
        await self._delivery.send_activity(place, conversation, cards.message_activity(message))

    # -- forms opened outside a dialog ---------------------------------------------------

    def opener(self, form: Form, origin: Origin) -> Json:
        """The one-button card that opens ``form`` as a dialog: Teams opens dialogs only from
        a button. The form and where it was asked for travel in the button, signed, so that
        opening it needs nothing kept and a card made by anyone else opens nothing."""
        where = {
            "form": to_json(form),
            "channel": origin.channel.id,
            "name": origin.channel.name,
            "direct": origin.channel.is_direct,
            "thread": origin.thread.root_id if origin.thread else "",
        }
        sealed = self._sealer.sign(json.dumps(where, separators=(",", ":")))
        return cards.opener_activity(form, sealed)

    def _opened(self, raw: dict[str, Any], reference: str) -> Json:
        value = self._sealer.unsign(reference)
        try:
            doc = json.loads(value) if value else None
            form = from_json(Form, doc["form"]) if isinstance(doc, dict) else None
        except Exception:  # signed by copbot, yet unreadable: an older copbot's card
            form = None
        if form is None or not isinstance(doc, dict):
            return cards.dialog_message(OUT_OF_DATE)
        tenant = tenant_of(raw)
        direct = doc.get("direct") is True
        channel = ChannelRef(
            PLATFORM,
            str(doc.get("channel") or ""),
            tenant,
            str(doc.get("name") or ""),
            ChannelKind.DIRECT if direct else ChannelKind.CHANNEL,
        )
        if not channel.id:
            channel = channel_of(raw, self._known(raw, ""))
        thread = ThreadRef(channel, str(doc["thread"])) if doc.get("thread") else None
        return self.form_dialog(form, Origin(person(raw.get("from"), Known()), channel, thread))

    # -- where a form was opened, signed -------------------------------------------------

    def form_dialog(
        self,
        form: Form,
        origin: Origin,
        problems: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> Json:
        """The form as a dialog, carrying where it was opened, signed: what the core does
        with an answer (post in that channel, reply privately there) follows that place."""
        thread = origin.thread.root_id if origin.thread else ""
        where = cards.where_sealed(origin.channel.id, origin.channel.is_direct, thread)
        seal = "" if form.anonymous else self._sealer.sign(where)
        return cards.dialog(form, origin, problems, values, seal=seal)

    def drop_unsigned_origin(self, raw: dict[str, Any]) -> None:
        """A submitted form naming a place its seal doesn't vouch for (a card made or altered
        by someone else) loses that place: it then counts as sent from the conversation
        Teams delivered it in, which Teams vouches for."""
        data = submitted_data(raw)
        if data is None or data.get("copbot") != "form" or not data.get("channel"):
            return
        where = cards.where_sealed(
            str(data.get("channel")), data.get("direct") is True, str(data.get("thread") or "")
        )
        seal = data.get("seal")
        if isinstance(seal, str) and self._sealer.unsign(seal) == where:
            return
        log.warning("a Teams form came back naming a place copbot did not sign; ignored it")
        for key in ("channel", "direct", "thread"):
            data.pop(key, None)

    # -- what the core does while an invoke waits ------------------------------------------

    def dialog(self, origin: Origin, body: Json) -> bool:
        """Whether ``body`` is the answer to a press that waits for a dialog (or came too
        late for one: then it is dropped, as they were asked to try again)."""
        token = invoke_of(origin.handle)
        if not token.startswith(DIALOG):
            return False
        waiting = self._waiting.get(token)
        if waiting is None:
            log.info("a Teams dialog's answer came after Teams stopped waiting; dropped")
            return True
        if not waiting.answer.done():
            waiting.answer.set_result(body)
        return True

    def said(self, origin: Origin, message: OutgoingMessage) -> bool:
        """A private answer to a card action: the press is answered with it unless the card
        changes (it goes to the person's chat as well). Whether a press waits for it."""
        token = invoke_of(origin.handle)
        waiting = self._waiting.get(token) if token else None
        if waiting is None or waiting.dialog:
            return False
        self._waiting[token] = replace(waiting, said=message.plain_text)
        return True

    def card_updated(self, ref: MessageRef, message: OutgoingMessage) -> None:
        """The handler changed a card: presses of its buttons are answered with it."""
        for token, waiting in list(self._waiting.items()):
            carrier = waiting.carrier
            if carrier is not None and (carrier.channel.id, carrier.id) == (
                ref.channel.id,
                ref.id,
            ):
                self._waiting[token] = replace(waiting, card=cards.card(message))

    def settled(self, origin: Origin) -> None:
        """The core is done with the press: answer whatever still waits for it."""
        token = invoke_of(origin.handle)
        waiting = self._waiting.get(token) if token else None
        if waiting is None or waiting.answer.done():
            return
        if waiting.thanks is not None:
            waiting.answer.set_result(cards.dialog_message(waiting.said or waiting.thanks))
        elif waiting.dialog:
            waiting.answer.set_result(cards.dialog_message(cards.DONE))
        elif waiting.card is not None:
            waiting.answer.set_result(
                {"statusCode": 200, "type": cards.CARD_TYPE, "value": waiting.card}
            )
        else:
            waiting.answer.set_result(_message(waiting.said or cards.DONE))


def _data(raw: dict[str, Any]) -> dict[str, Any]:
    """A dialog invoke's card data (``value.data``), or {} when it has none."""
    value = raw.get("value")
    data = value.get("data") if isinstance(value, dict) else None
    return data if isinstance(data, dict) else {}


def _message(text: str) -> Json:
    """A card action's answer when the card stays as it is: a short message, shown to
    whoever pressed."""
    return {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": cards.short(text),
    }
