"""Neutral messages and forms as HTML for the playground page. Everything a person wrote is
escaped before the small markup (**bold**, _italic_, `code`, [label](https://…)) is applied."""

from __future__ import annotations

import html
import re
from typing import Any
from zoneinfo import ZoneInfo

from adapters.local.world import BOT, Persona
from bot.codec import loads
from bot.markup import ESCAPED
from bot.model import (
    Buttons,
    Choice,
    Context,
    DateTimeField,
    Fields,
    Form,
    FormField,
    LongText,
    OutgoingMessage,
    Rating,
    Role,
    ShortText,
    Text,
    label_of,
)
from bot.ports import PlaygroundMessage
from bot.timefmt import for_people

_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")


def markup(text: str) -> str:
    """The neutral markup as safe HTML."""
    # Backslash-escaped characters are set aside first, so no rule below sees them.
    literals: list[str] = []

    def keep_literal(m: re.Match[str]) -> str:
        literals.append(html.escape(m.group(1), quote=True))
        return f"\x01{len(literals) - 1}\x01"

    text = text.replace("\x00", "").replace("\x01", "")
    out = html.escape(ESCAPED.sub(keep_literal, text), quote=True)
    # Code and links are finished HTML, set aside too: bold and italics must not reach
    # inside them (an underscore in a link's address is not emphasis).
    finished: list[str] = []

    def keep(html_piece: str) -> str:
        finished.append(html_piece)
        return f"\x00{len(finished) - 1}\x00"

    out = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), out)
    out = _LINK.sub(
        lambda m: keep(
            f'<a href="{m.group(2)}" target="_blank" rel="noopener noreferrer">{m.group(1)}</a>'
        ),
        out,
    )
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    out = re.sub("\x00(\\d+)\x00", lambda m: finished[int(m.group(1))], out)
    out = re.sub("\x01(\\d+)\x01", lambda m: literals[int(m.group(1))], out)
    return out.replace("\n", "<br>")


_TAG = re.compile(r"<[^>]+>")
SUBJECT_LENGTH = 60


def summary(text: str, limit: int = SUBJECT_LENGTH) -> str:
    """The first line of some text, as plain words and cut short: what a message is about,
    for naming the buttons repeated on every message ("Reply to 'Where the discomfort
    sits'") so that a screen reader can tell them apart."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    plain = " ".join(html.unescape(_TAG.sub("", markup(line))).split())
    if len(plain) <= limit:
        return plain
    cut = plain[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def subject(message: OutgoingMessage) -> str:
    """What a bot message is about: its first text (a prompt's title comes first)."""
    first = next((b.text for b in message.blocks if isinstance(b, Text)), message.plain_text)
    return summary(first)


def named(label: str, about: str) -> str:
    """A button's accessible name: its visible label first (so voice control finds it by
    what it shows), then the message it belongs to."""
    return f"{label}: '{about}'" if about and about != label else label


def message_html(message: OutgoingMessage, message_id: str) -> str:
    about = subject(message)
    parts: list[str] = []
    for block in message.blocks:
        if isinstance(block, Text):
            parts.append(f'<div class="b-text">{markup(block.text)}</div>')
        elif isinstance(block, Context):
            parts.append(f'<div class="b-context">{markup(block.text)}</div>')
        elif isinstance(block, Fields):
            rows = "".join(f"<dt>{markup(k)}</dt><dd>{markup(v)}</dd>" for k, v in block.pairs)
            parts.append(f'<dl class="b-fields">{rows}</dl>')
        elif isinstance(block, Buttons):
            buttons = "".join(
                f'<button type="button" class="btn btn-{b.style.value}"'
                f' data-action="{html.escape(b.action_id)}" data-value="{html.escape(b.value)}"'
                f' data-message="{html.escape(message_id)}"'
                f' aria-label="{html.escape(named(b.label, about))}">'
                f"{html.escape(b.label)}</button>"
                for b in block.buttons
            )
            parts.append(f'<div class="b-buttons">{buttons}</div>')
    return "".join(parts)


def form_html(form: Form, token: str) -> str:
    fields = "".join(_field(f) for f in form.fields)
    intro = f'<p class="form-intro">{markup(form.intro)}</p>' if form.intro else ""
    return (
        f'<form class="pg-form" data-token="{html.escape(token)}" method="dialog">'
        f"<h2>{html.escape(form.title)}</h2>{intro}{fields}"
        '<div class="form-error" role="alert"></div>'
        '<div class="form-actions"><button type="button" class="btn" data-close>Cancel</button>'
        f'<button type="submit" class="btn btn-primary">{html.escape(form.submit_label)}'
        "</button></div></form>"
    )


def _field(field: FormField) -> str:
    fid = html.escape(field.id)
    label = html.escape(label_of(field))
    required = " required" if field.required else ""
    if isinstance(field, ShortText):
        control = (
            f'<input id="f-{fid}" name="{fid}" maxlength="{field.max_length}"'
            f' placeholder="{html.escape(field.placeholder)}"'
            f' value="{html.escape(field.initial)}"{required}>'
        )
    elif isinstance(field, LongText):
        control = (
            f'<textarea id="f-{fid}" name="{fid}" rows="4" maxlength="{field.max_length}"'
            f' placeholder="{html.escape(field.placeholder)}"{required}>'
            f"{html.escape(field.initial)}</textarea>"
        )
    elif isinstance(field, Choice):
        options = "".join(
            f'<option value="{html.escape(v)}"{" selected" if v == field.initial else ""}>'
            f"{html.escape(text)}</option>"
            for v, text in field.options
        )
        control = (
            f'<select id="f-{fid}" name="{fid}"{required}><option value="">Choose…</option>'
            f"{options}</select>"
        )
    elif isinstance(field, Rating):
        stars = "".join(
            f'<label class="rating-option"><input type="radio" name="{fid}" value="{n}"'
            f"{required}> {n}</label>"
            for n in range(1, field.scale + 1)
        )
        return (
            f'<fieldset class="field"><legend>{label}</legend>'
            f'<div class="rating">{stars}</div></fieldset>'
        )
    else:
        assert isinstance(field, DateTimeField)
        control = (
            f'<input id="f-{fid}" type="datetime-local" name="{fid}"'
            f' value="{html.escape(field.initial)}"{required}>'
        )
    return f'<div class="field"><label for="f-{fid}">{label}</label>{control}</div>'


def message_json(m: PlaygroundMessage, viewer: str, tz: ZoneInfo) -> dict[str, Any]:
    """A stored message as the page shows it to ``viewer`` (an identity)."""
    is_bot = m.author == BOT.identity
    if is_bot:
        outgoing = loads(OutgoingMessage, m.body)
        shown, about = message_html(outgoing, m.id), subject(outgoing)
    else:
        shown, about = markup(m.body), summary(m.body)
    return {
        "id": m.id,
        "author": m.author,
        "author_name": m.author_name,
        "bot": is_bot,
        "html": shown,
        "subject": about,  # names the buttons repeated on every message
        "text": "" if is_bot else m.body,
        "thread_root": m.thread_root,
        "private": m.visible_to is not None,
        "edited": m.edited_at is not None,
        "mine": m.author == viewer,
        "at": m.created_at.isoformat(),
        # Shown in copbot's time zone (as in chat), not the browser's.
        "when": for_people(m.created_at, tz),
    }


def persona_json(p: Persona, role: Role) -> dict[str, str]:
    return {"id": p.id, "name": p.name, "title": p.title, "role": role.label}
