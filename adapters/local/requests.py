"""Reading the playground page's requests: only from its own page, JSON objects only,
text where text belongs, and a form's answers checked as a platform would."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.model import Choice, Form, LongText, Rating, ShortText, too_long

MAX_TEXT = 4000  # characters in a message, posted or edited (as on Slack)


class BadRequest(web.HTTPBadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def check_form(form: Form, values: dict[str, str]) -> dict[str, str]:
    """What a platform checks before a form reaches the bot: required, length, options."""
    errors: dict[str, str] = {}
    for field in form.fields:
        value = values.get(field.id, "")
        if not value:
            if field.required:
                errors[field.id] = "Please fill this in."
            continue
        if isinstance(field, ShortText | LongText) and len(value) > field.max_length:
            errors[field.id] = too_long(value, field.max_length)
        elif isinstance(field, Choice) and value not in {v for v, _ in field.options}:
            errors[field.id] = "Please pick one of the options."
        elif isinstance(field, Rating) and value not in {str(n) for n in range(1, field.scale + 1)}:
            errors[field.id] = f"Please pick a number from 1 to {field.scale}."
    return errors


async def json_body(request: web.Request) -> dict[str, Any]:
    # Only the page itself may act: another site's form can't send JSON without asking
    # first (CORS), and a browser names the page a request comes from (Origin).
    origin = request.headers.get("Origin")
    if origin is not None and origin not in (f"http://{request.host}", f"https://{request.host}"):
        raise web.HTTPForbidden(
            text=json.dumps({"error": "The playground only takes requests from its own page."}),
            content_type="application/json",
        )
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"error": "Send JSON (Content-Type: application/json)."}),
            content_type="application/json",
        )
    try:
        # Bytes, not text: a bogus charset in Content-Type is then no error of ours.
        body = json.loads(await request.read())
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        raise BadRequest("The request wasn't valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request must be a JSON object.")
    return body


FIELDS = {"text": "the message", "thread_root": "the thread", "message_id": "the message's id"}


def field(body: dict[str, Any], key: str) -> str:
    """A text field of the request; a number, list or object where text belongs is
    refused, not kept as its string form."""
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str) or not storable(value):
        raise BadRequest(f"Send {FIELDS.get(key, key)} as text.")
    return value


def message_text(body: dict[str, Any]) -> str:
    text = field(body, "text").strip()
    if len(text) > MAX_TEXT:
        raise BadRequest("That message is longer than 4,000 characters; please shorten it.")
    return text


def storable(text: str) -> bool:
    # A lone surrogate (JSON "\ud800") is valid JSON but no text SQLite can keep.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def local_address(request: web.Request) -> tuple[str, int] | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), int(sockname[1])
    return None
