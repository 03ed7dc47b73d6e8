"""Neutral messages and forms as Teams activities: plain markdown text where no card is
needed, Adaptive Cards (schema 1.5) otherwise; and a card's submission back to values.

What a card sends back (``Action.Submit`` or ``Action.Execute`` data) is marked with
``"copbot"``: ``"action"`` for a button, ``"form"`` for a form, which also carries where the
form was opened (so the answer goes back there) and its fields, since Teams returns a card's
data unchanged and copbot keeps no row for an open form; ``"open"`` for the one button of a
card that opens a form as a dialog (the form, signed).

Buttons are ``Action.Execute`` (Universal Actions), answered with the card as the press
left it, except those that open a form, below.

A button that opens a form also carries ``{"msteams": {"type": "task/fetch"}}``, so Teams
asks for a dialog (an ``invoke`` answered in its HTTP response) instead of sending the press
as a message; the form then opens as a dialog, and the form's own description (``spec``)
rides in its submit data so that a submission with problems can be shown again, with each
message beside its field, without copbot keeping anything about the open dialog.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from adapters.payload import OBJECT
from bot.codec import from_json, to_json
from bot.markup import ESCAPED
from bot.model import (
    Buttons,
    ButtonStyle,
    ChannelRef,
    Choice,
    Context,
    DateTimeField,
    Fields,
    Form,
    FormField,
    LongText,
    Origin,
    OutgoingMessage,
    Rating,
    ShortText,
    Text,
    UserRef,
    label_of,
    too_long,
)

Json = dict[str, Any]

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
TEXT_LIMIT = 8000  # per text block; a whole activity may be about 28 KB
SHORTENED = "…shortened: the rest didn't fit in one Teams message"
VALUE_LIMIT = 3000  # the longest answer any form field takes
MAX_READ = 256 * 1024  # an answer as read back, before it is checked against its field
EXPANDED_CHOICES = 5  # up to this many choices show as radio buttons, more as a drop-down
DONE = "Thanks, done."
TRY_AGAIN = "Please try again: copbot took too long to answer."
SHORT = 200  # a card action's answer, shown beside the card
OPENER_LIMIT = 20000  # a signed form in a button; a card may be about 28 KB


@dataclass(frozen=True)
class ActionData:
    action_id: str
    value: str


@dataclass(frozen=True)
class OpenerData:
    reference: str  # the form and where it was asked for, signed


@dataclass(frozen=True)
class FormData:
    form_id: str
    context: str
    channel: str
    direct: bool
    thread: str
    anonymous: bool
    fields: tuple[tuple[str, int], ...]  # (field id, longest answer)
    datetimes: frozenset[str]
    # A dialog's own name, new each time it is shown: the same dialog sent twice (a double
    # click, or Teams sending it again under a new activity id) is recognised as one.
    shown: str = ""


# ---------------------------------------------------------------------------
# Text


def markdown(text: str) -> str:
    """The neutral markup as Teams markdown: **bold**, _italic_ and links are the same;
    `code` is shown as it is (cards don't render it); an escaped character is shown as
    itself and never forms markup with its neighbours (_literal)."""
    return _MARKUP.sub(_shown, text)


# An escaped character, a `code` span, or a link whose words may hold escaped characters:
# read left to right in one pass, so that an escaped backtick (people's words) never opens
# or closes a span.
_MARKUP = re.compile(
    r"\\([\\*_`\[\]()])|`([^`\n]+)`"
    r"|\[((?:\\[\\*_`\[\]()]|[^\]\\\n])+)\]\((https?://[^\s)]+)\)"
)
# Teams ends a link's words at any "]" and honours no escape: in a link's words, a bracket
# of people's (a name, a title) is shown as a parenthesis, which keeps the link whole.
_IN_LINK = {"[": "(", "]": ")"}


def _shown(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return _literal(match.group(1))
    if match.group(2) is not None:
        return ESCAPED.sub(lambda m: _literal(m.group(1)), match.group(2))
    words = ESCAPED.sub(lambda m: _IN_LINK.get(m.group(1)) or _literal(m.group(1)), match.group(3))
    return f"[{words}]({match.group(4)})"


def _literal(char: str) -> str:
    """Teams' markdown honours no backslash: a zero-width space, which shows as nothing,
    keeps what people wrote from becoming a link (no "](") or bold (no "**") in
    copbot's own message."""
    if char == "]":
        return "]\u200b"
    if char in "*_":
        return f"\u200b{char}\u200b"
    return char


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - len(SHORTENED) - 1] + SHORTENED


# ---------------------------------------------------------------------------
# Messages


def message_activity(message: OutgoingMessage) -> Json:
    """The activity for a message: markdown text when it is only text, else a card."""
    summary = _clip(markdown(message.plain_text))
    if all(isinstance(b, Text) for b in message.blocks):
        return {"type": "message", "text": summary, "textFormat": "markdown"}
    return {
        "type": "message",
        "summary": summary[:200],
        "attachments": [{"contentType": CARD_TYPE, "content": card(message)}],
    }


def card(message: OutgoingMessage) -> Json:
    body: list[Json] = []
    for block in message.blocks:
        if isinstance(block, Text):
            body.append(_text_block(block.text))
        elif isinstance(block, Context):
            body.append(_text_block(block.text) | {"isSubtle": True, "size": "Small"})
        elif isinstance(block, Fields):
            facts = [{"title": markdown(k), "value": _clip(markdown(v))} for k, v in block.pairs]
            body.append({"type": "FactSet", "facts": facts})
        elif isinstance(block, Buttons):
            body.append({"type": "ActionSet", "actions": [_button(b) for b in block.buttons]})
    return _card(body)


def _card(body: list[Json], actions: list[Json] | None = None) -> Json:
    doc: Json = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        doc["actions"] = actions
    # Wide enough for a prompt's text in a channel.
    doc["msteams"] = {"width": "Full"}
    return doc


def _text_block(text: str) -> Json:
    return {"type": "TextBlock", "text": _clip(markdown(text)), "wrap": True}


def _button(button: Any) -> Json:
    data: Json = {"copbot": "action", "action": button.action_id, "value": button.value}
    action: Json
    if button.opens_form:
        # Teams then sends a task/fetch invoke that copbot answers with a dialog (an
        # Action.Execute can't open one).
        action = {"type": "Action.Submit", "title": button.label, "data": data}
        action["data"]["msteams"] = {"type": "task/fetch"}
    else:
        # Universal Actions: an invoke Teams holds open (the button shows it is working)
        # and that copbot answers with the card as the press left it, e.g. new counts.
        action = {"type": "Action.Execute", "title": button.label, "verb": button.action_id}
        action["data"] = data
    if button.style is ButtonStyle.PRIMARY:
        action["style"] = "positive"
    elif button.style is ButtonStyle.DANGER:
        action["style"] = "destructive"
    return action


# ---------------------------------------------------------------------------
# Forms


def form_card(
    form: Form,
    origin: Origin,
    problems: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    *,
    dialog: bool = False,
    seal: str = "",
) -> Json:
    """The form as a card; with ``problems`` (field id -> message) each is shown under its
    field, and ``values`` (field id -> what the person wrote) are filled in again. ``seal``
    signs where it was opened (``where_sealed``): a submission naming another place is not
    believed."""
    problems = problems or {}
    values = values or {}
    body: list[Json] = [
        {
            "type": "TextBlock",
            "text": form.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    # An anonymous form's intro says so, in its own words (a reply, an answer), as it does
    # on every platform.
    if form.intro:
        body.append(_text_block(form.intro))
    for f in form.fields:
        inputs = _inputs(_refilled(f, values.get(f.id)))
        if isinstance(f, Rating) and values.get(f.id):
            inputs[0]["value"] = values[f.id]  # a rating has no starting value of its own
        body.extend(inputs)
        if problems.get(f.id):
            body.append(
                {
                    "type": "TextBlock",
                    "text": problems[f.id],
                    "color": "Attention",
                    "wrap": True,
                    "spacing": "None",
                }
            )
    data: Json = {
        "copbot": "form",
        "form": form.id,
        "context": form.context,
        "fields": [[f.id, _longest(f)] for f in form.fields],
        "datetimes": [f.id for f in form.fields if isinstance(f, DateTimeField)],
        # For answering in the chat: what to fix (by the field's label), or the thanks.
        "labels": {f.id: f.label for f in form.fields},
    }
    if form.thanks:
        data["thanks"] = form.thanks
    if dialog:
        # To show the form again with its problems; the context travels on its own.
        data["spec"] = to_json(replace(form, context=""))
        data["shown"] = secrets.token_hex(16)  # random: it names nothing of the person
    if form.anonymous:
        data["anonymous"] = True  # and nothing of where it was opened: that may be their chat
    else:
        data["channel"] = origin.channel.id
        data["direct"] = origin.channel.is_direct
        data["thread"] = origin.thread.root_id if origin.thread else ""
        data["seal"] = seal
    submit = {
        "type": "Action.Submit",
        "title": form.submit_label,
        "style": "positive",
        "data": data,
    }
    return _card(body, [submit])


def _refilled(f: FormField, value: str | None) -> FormField:
    """The field with what the person wrote as its starting value."""
    if not value or isinstance(f, Rating):
        return f
    return replace(f, initial=value)


def _longest(f: FormField) -> int:
    if isinstance(f, ShortText | LongText):
        return min(f.max_length, VALUE_LIMIT)
    return 100


def _inputs(f: FormField) -> list[Json]:
    common: Json = {"id": f"f.{f.id}", "label": label_of(f), "isRequired": f.required}
    if f.required:
        common["errorMessage"] = f"Please fill in “{f.label}”."
    if isinstance(f, ShortText | LongText):
        doc = common | {"type": "Input.Text", "maxLength": f.max_length}
        if isinstance(f, LongText):
            doc["isMultiline"] = True
        if f.placeholder:
            doc["placeholder"] = f.placeholder
        if f.initial:
            doc["value"] = f.initial
        return [doc]
    if isinstance(f, Choice):
        choices = [{"title": label, "value": value} for value, label in f.options]
        style = "expanded" if len(choices) <= EXPANDED_CHOICES else "compact"
        doc = common | {"type": "Input.ChoiceSet", "choices": choices, "style": style}
        if f.initial:
            doc["value"] = f.initial
        return [doc]
    if isinstance(f, Rating):
        choices = [{"title": str(n), "value": str(n)} for n in range(1, f.scale + 1)]
        return [common | {"type": "Input.ChoiceSet", "choices": choices, "style": "expanded"}]
    date, _, time = f.initial.partition("T")
    day: Json = common | {"type": "Input.Date", "id": f"f.{f.id}.date"}
    hour: Json = {
        "type": "Input.Time",
        "id": f"f.{f.id}.time",
        "label": "Time",
        "isRequired": f.required,
    }
    if date:
        day["value"] = date
    if time:
        hour["value"] = time[:5]
    return [day, hour]


# ---------------------------------------------------------------------------
# What comes back


def read_data(data: Mapping[str, Any]) -> ActionData | FormData | OpenerData | None:
    """A card submission's data, if it came from a card copbot sent."""
    match data.get("copbot"):
        case "action":
            return ActionData(_str(data.get("action"), 255), _str(data.get("value"), 2000))
        case "open":
            return OpenerData(_str(data.get("form"), OPENER_LIMIT))
        case "form":
            fields: list[tuple[str, int]] = []
            for item in _list(data.get("fields")):
                if isinstance(item, list) and len(item) == 2 and isinstance(item[1], int):
                    fields.append((_str(item[0], 100), max(0, min(item[1], VALUE_LIMIT))))
            datetimes = frozenset(d for d in _list(data.get("datetimes")) if isinstance(d, str))
            return FormData(
                _str(data.get("form"), 100),
                _str(data.get("context"), 2000),
                _str(data.get("channel"), 200),
                data.get("direct") is True,
                _str(data.get("thread"), 100),
                data.get("anonymous") is True,
                tuple(fields),
                datetimes,
                _str(data.get("shown"), 32),
            )
    return None


def form_values(form: FormData, data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    values = []
    for field_id, _ in form.fields:
        if field_id in form.datetimes:
            day = _str(data.get(f"f.{field_id}.date"), 10)
            hour = _str(data.get(f"f.{field_id}.time"), 5)
            value = f"{day}T{hour}" if day and hour else ""
        else:
            # Whole (the request's size bounds it): one longer than its field is refused
            # in words by ``too_long_values``, never cut short unseen.
            value = _str(data.get(f"f.{field_id}"), MAX_READ)
        values.append((field_id, value))
    return tuple(values)


def too_long_values(data: Any) -> dict[str, str]:
    """Each answer longer than its field takes (field id -> what to say): Teams need not
    hold an input to its ``maxLength``, so this is said as on Slack and in the playground."""
    form = read_data(data) if isinstance(data, OBJECT) else None
    if not isinstance(form, FormData):
        return {}
    longest = dict(form.fields)
    return {
        field_id: too_long(value, longest[field_id])
        for field_id, value in form_values(form, data)
        if len(value) > longest[field_id]
    }


def after_submit(data: Any, problems: Mapping[str, str] | None) -> OutgoingMessage | None:
    """What to say in the chat after a form card is submitted: each problem by its field's
    label (the card above still holds what they wrote), or the form's thanks, or nothing."""
    if not isinstance(data, OBJECT):
        return None
    if problems:
        given = data.get("labels")
        labels: Mapping[str, Any] = given if isinstance(given, OBJECT) else {}
        lines = [
            f"• {_str(labels.get(field), 200) or field}: {message}"
            for field, message in problems.items()
        ]
        return OutgoingMessage.of(
            "Some answers need another look; what you wrote is still in the card above, so "
            "change what's needed and send it again:",
            "\n".join(lines),
        )
    thanks = _str(data.get("thanks"), 2000)
    return OutgoingMessage.of(thanks) if thanks else None


def _list(value: Any) -> list[Any]:
    """A list a card's data should hold, or none: the data may come from anyone's card."""
    return value if isinstance(value, list) else []


def _str(value: Any, limit: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()[:limit]


# ---------------------------------------------------------------------------
# Dialogs (task modules): the HTTP answers to ``task/fetch`` and ``task/submit``


def dialog(
    form: Form,
    origin: Origin,
    problems: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    *,
    seal: str = "",
) -> Json:
    """Open (or keep open) a dialog showing the form."""
    content = form_card(form, origin, problems, values, dialog=True, seal=seal)
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": form.title[:100],
                "card": {"contentType": CARD_TYPE, "content": content},
            },
        }
    }


def opener_activity(form: Form, reference: str) -> Json:
    """A card with one button that opens ``form`` as a dialog (``reference``: the form,
    signed)."""
    body = [
        {"type": "TextBlock", "text": form.title, "weight": "Bolder", "wrap": True},
        _text_block(form.intro) if form.intro else None,
    ]
    button = {
        "type": "Action.Submit",
        "title": "Open the form",
        "style": "positive",
        "data": {"copbot": "open", "form": reference, "msteams": {"type": "task/fetch"}},
    }
    content = _card([b for b in body if b is not None], [button])
    return {
        "type": "message",
        "summary": form.title[:200],
        "attachments": [{"contentType": CARD_TYPE, "content": content}],
    }


def short(text: str) -> str:
    """A message shown beside a card: its first words, in plain Teams markdown."""
    said = markdown(text).strip() or DONE
    return said if len(said) <= SHORT else said[: SHORT - 1].rstrip() + "…"


def dialog_message(text: str) -> Json:
    """Close the dialog (or answer its opening) with a short message."""
    return {"task": {"type": "message", "value": _clip(markdown(text)) or DONE}}


def form_spec(data: Mapping[str, Any], context: str) -> Form | None:
    """The form a dialog's submission came from, as its data describes it (sent by copbot,
    returned unchanged by Teams; anything else is not trusted to be a form)."""
    spec = data.get("spec")
    if not isinstance(spec, OBJECT) or spec.get("__type__") != "Form":
        return None
    try:
        form = replace(from_json(Form, dict(spec)), context=context)
        form_card(form, Origin(UserRef.anonymous("teams"), ChannelRef("teams", "")))
    except Exception:  # a spec copbot didn't write (the card's data came from a person)
        return None
    return form


def thanks_of(data: Any) -> str:
    return (_str(data.get("thanks"), 2000) if isinstance(data, OBJECT) else "") or DONE


def where_sealed(channel: str, direct: bool, thread: str) -> str:
    """What a form's seal signs: the place it was opened for, as its data names it."""
    return json.dumps(["form-origin", channel, direct, thread], separators=(",", ":"))
