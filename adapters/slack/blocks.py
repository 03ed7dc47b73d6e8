"""Neutral messages and forms as Block Kit: pure functions, tested without Slack.

Slack refuses a whole message for one block over its limits, so every limit is met here
rather than hoped for: long text is split into several sections at line or word boundaries,
fields and buttons go into as many blocks as they need, and a message longer than Slack's 50
blocks is cut with a note saying so. A failed call would lose the message; a cut one does not.

Everything a person wrote is escaped (``&``, ``<``, ``>``) before the neutral markup is turned
into Slack's, so no text can become a mention, a ``<!channel>`` or a link that the markup
did not ask for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.markup import ESCAPED
from bot.model import (
    Block,
    Button,
    Buttons,
    ButtonStyle,
    Choice,
    Context,
    DateTimeField,
    Fields,
    Form,
    FormField,
    LongText,
    OutgoingMessage,
    Rating,
    ShortText,
    Text,
)

Json = dict[str, Any]

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS_PER_SECTION = 10
BUTTONS_PER_BLOCK = 25
BUTTON_LABEL = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
FALLBACK_TEXT = 4000
VIEW_TITLE = 24
INPUT_LABEL = 2000
PLACEHOLDER = 150
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100
RADIO_OPTIONS = 10
INPUT_MAX = 3000
ERROR_TEXT = 2000  # a field error under response_action: errors
SHORTENED = "…shortened: the rest didn't fit in one Slack message"

_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_HOLE = re.compile("\x00(\\d+)\x00")


# ---------------------------------------------------------------------------
# Text


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """The neutral markup (**bold**, _italic_, `code`, [label](https://…)) as Slack mrkdwn."""
    kept: list[str] = []

    def keep(token: str) -> str:
        kept.append(token)
        return f"\x00{len(kept) - 1}\x00"

    out = text.replace("\x00", "")  # the placeholders below must not be forgeable
    # Characters the markup escaped (bot/markup.py) stay literal. Slack has no escape, so
    # a zero-width space either side keeps *, _ and ` from pairing into formatting.
    out = ESCAPED.sub(lambda m: keep(_literal(m.group(1))), out)
    out = _CODE.sub(lambda m: keep(f"`{escape(m.group(1))}`"), out)
    out = _LINK.sub(lambda m: keep(_link(m.group(2), m.group(1))), out)
    out = _BOLD.sub(r"*\1*", escape(out))
    while _HOLE.search(out):  # twice at most: a link's label may hold code
        out = _HOLE.sub(lambda m: kept[int(m.group(1))], out)
    return out


def _literal(char: str) -> str:
    return f"\u200b{char}\u200b" if char in "*_`" else escape(char)


def _link(url: str, label: str) -> str:
    # "|" ends a Slack link's address and "<>" its token, so they are percent-encoded.
    safe = quote(url, safe="/:?#[]@!$&'()*+,;=%~-._")
    return f"<{escape(safe)}|{escape(label)}>"


def split_mrkdwn(text: str, limit: int) -> list[str]:
    """Neutral text as mrkdwn pieces of at most ``limit`` characters each.

    Split between lines where possible, then between words, and only as a last resort
    inside a word; markup never spans a line, so each piece is converted whole.
    """
    pieces: list[str] = []
    _pack(text.split("\n"), "\n", limit, pieces, by_words=True)
    return [p for p in pieces if p.strip()]


def _pack(units: list[str], sep: str, limit: int, out: list[str], by_words: bool) -> None:
    current: str | None = None
    for unit in units:
        candidate = unit if current is None else current + sep + unit
        if len(mrkdwn(candidate)) <= limit:
            current = candidate
            continue
        if current is not None:
            out.append(mrkdwn(current))
            current = None
        if len(mrkdwn(unit)) <= limit:
            current = unit
        elif by_words:
            _pack(unit.split(" "), " ", limit, out, by_words=False)
        else:
            step = max(1, limit // 5)  # "&" -> "&amp;" is the most a character can grow
            out.extend(mrkdwn(unit[i : i + step]) for i in range(0, len(unit), step))
    if current is not None:
        out.append(mrkdwn(current))


def clip_mrkdwn(text: str, limit: int) -> str:
    pieces = split_mrkdwn(text, limit - 1)
    if not pieces:
        return ""
    return pieces[0] + ("…" if len(pieces) > 1 else "")


def clip(text: str, limit: int) -> str:
    """Plain text cut to ``limit`` characters, marked with an ellipsis when cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int, default: str = "…") -> Json:
    return {"type": "plain_text", "text": clip(text, limit) or default, "emoji": True}


# ---------------------------------------------------------------------------
# Messages


def message_payload(message: OutgoingMessage) -> Json:
    """``blocks`` and the notification ``text`` for chat.postMessage, chat.update and co."""
    return {"blocks": message_blocks(message), "text": fallback_text(message)}


MARK_EVENT = "copbot_post"  # the message metadata event_type that carries a post's mark


def mark_payload(message: OutgoingMessage) -> Json:
    """Message metadata carrying the post's mark, so copbot can find it again."""
    if not message.mark:
        return {}
    return {"metadata": {"event_type": MARK_EVENT, "event_payload": {"mark": message.mark}}}


def mark_of(message: Json) -> str:
    """The mark a message from conversations.history carries; "" when none."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != MARK_EVENT:
        return ""
    payload = metadata.get("event_payload")
    mark = payload.get("mark") if isinstance(payload, dict) else None
    return mark if isinstance(mark, str) else ""


def fallback_text(message: OutgoingMessage) -> str:
    return clip_mrkdwn(message.plain_text, FALLBACK_TEXT) or "A message from copbot"


def message_blocks(message: OutgoingMessage, limit: int = MESSAGE_BLOCKS) -> list[Json]:
    blocks = [converted for block in message.blocks for converted in convert(block)]
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], _context(escape(SHORTENED))]


def home_view(message: OutgoingMessage) -> Json:
    return {"type": "home", "blocks": message_blocks(message, VIEW_BLOCKS)}


def convert(block: Block) -> list[Json]:
    match block:
        case Text(text):
            return [_section(piece) for piece in split_mrkdwn(text, SECTION_TEXT)]
        case Context(text):
            return [_context(piece) for piece in split_mrkdwn(text, SECTION_TEXT)]
        case Fields(pairs):
            return _fields(pairs)
        case Buttons(buttons):
            return _actions(buttons)


def _section(text: str) -> Json:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Json:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _fields(pairs: tuple[tuple[str, str], ...]) -> list[Json]:
    texts: list[str] = []
    for key, value in pairs:
        head = f"*{clip_mrkdwn(key, 200)}*" if key.strip() else ""
        body = clip_mrkdwn(value, FIELD_TEXT - len(head) - 1) if value.strip() else ""
        if head or body:
            texts.append("\n".join(t for t in (head, body) if t))
    return [
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": t} for t in texts[i : i + FIELDS_PER_SECTION]],
        }
        for i in range(0, len(texts), FIELDS_PER_SECTION)
    ]


def _actions(buttons: tuple[Button, ...]) -> list[Json]:
    # Slack wants action ids unique within a block, and at most 25 elements in one.
    groups: list[list[Json]] = []
    seen: set[str] = set()
    for button in buttons:
        element = _button(button)
        if not groups or len(groups[-1]) == BUTTONS_PER_BLOCK or element["action_id"] in seen:
            groups.append([])
            seen = set()
        groups[-1].append(element)
        seen.add(element["action_id"])
    return [{"type": "actions", "elements": group} for group in groups]


def _button(button: Button) -> Json:
    element: Json = {
        "type": "button",
        "text": plain(button.label, BUTTON_LABEL, default=button.action_id),
        "action_id": button.action_id[:ACTION_ID],
    }
    if button.value:
        element["value"] = button.value[:BUTTON_VALUE]
    if button.style is not ButtonStyle.DEFAULT:
        element["style"] = button.style.value
    return element


# ---------------------------------------------------------------------------
# Forms


def modal(form: Form, private_metadata: str, timezone: tzinfo) -> Json:
    """A form as a modal for views.open; each input block and element is named after its field."""
    blocks = [_section(piece) for piece in split_mrkdwn(form.intro, SECTION_TEXT)]
    blocks += [_input(f, timezone) for f in form.fields]
    return {
        "type": "modal",
        "callback_id": form.id,
        "title": plain(form.title, VIEW_TITLE, default="copbot"),
        "submit": plain(form.submit_label, VIEW_TITLE, default="Submit"),
        "close": plain("Cancel", VIEW_TITLE),
        "private_metadata": private_metadata,
        "blocks": blocks[:VIEW_BLOCKS],
    }


def field_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Errors for ``response_action: errors``, keyed by input block (named after the field)."""
    return {field: clip(message, ERROR_TEXT) for field, message in errors.items()}


def thanks(text: str) -> Json:
    """What the modal turns into once a form is accepted: a thank-you and a Close button."""
    return {
        "type": "modal",
        "title": plain("Thank you", VIEW_TITLE),
        "close": plain("Close", VIEW_TITLE),
        "blocks": [_section(piece) for piece in split_mrkdwn(text, SECTION_TEXT)][:VIEW_BLOCKS],
    }


def _input(field: FormField, timezone: tzinfo) -> Json:
    element = _element(field, timezone)
    element["action_id"] = field.id
    block: Json = {
        "type": "input",
        "block_id": field.id,
        "label": plain(field.label, INPUT_LABEL, default=field.id),
        "element": element,
    }
    if not field.required:
        block["optional"] = True
    if isinstance(field, DateTimeField) and field.zone:
        # Slack shows the picker in each person's own zone and sends the moment they chose.
        block["hint"] = plain("In your own time zone, as Slack shows it.", INPUT_LABEL)
    return block


def _element(field: FormField, timezone: tzinfo) -> Json:
    match field:
        case ShortText() | LongText():
            return _text_input(field)
        case Choice(options=options) if options:
            return _select(options, field.initial)
        case Choice():
            return {"type": "plain_text_input"}
        case Rating(scale=scale):
            options = tuple((str(n), str(n)) for n in range(1, max(scale, 1) + 1))
            if len(options) > RADIO_OPTIONS:
                return _select(options, "")
            return {"type": "radio_buttons", "options": [_option(v, t) for v, t in options]}
        case DateTimeField(initial=initial, zone=zone):
            element: Json = {"type": "datetimepicker"}
            if (stamp := _timestamp(initial, ZoneInfo(zone) if zone else timezone)) is not None:
                element["initial_date_time"] = stamp
            return element


def _text_input(field: ShortText | LongText) -> Json:
    limit = min(max(field.max_length, 1), INPUT_MAX)
    element: Json = {
        "type": "plain_text_input",
        "multiline": isinstance(field, LongText),
        "max_length": limit,
    }
    if field.placeholder:
        element["placeholder"] = plain(field.placeholder, PLACEHOLDER)
    if field.initial:
        element["initial_value"] = field.initial[:limit]
    return element


def _select(options: tuple[tuple[str, str], ...], initial: str) -> Json:
    shown = [_option(value, label) for value, label in options[:OPTIONS]]
    element: Json = {
        "type": "static_select",
        "placeholder": plain("Choose…", PLACEHOLDER),
        "options": shown,
    }
    chosen = [o for o in shown if o["value"] == initial[:OPTION_VALUE]] if initial else []
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def _option(value: str, label: str) -> Json:
    return {"text": plain(label, OPTION_TEXT, default=value), "value": value[:OPTION_VALUE]}


def _timestamp(initial: str, timezone: tzinfo) -> int | None:
    """The field's initial value (ISO 8601, local to the community when naive) as Unix time."""
    if not initial:
        return None
    try:
        moment = datetime.fromisoformat(initial)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    return int(moment.timestamp())
