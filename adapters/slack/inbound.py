"""A request to ``POST /slack/events``, read as far as copbot trusts it: signed, UTF-8, and
parsed into an object. Anything else is a ``Refusal`` whose reason names what was wrong and
never quotes what was sent.

The SDK's ``SignatureVerifier`` does the HMAC; its inputs are checked first, because it
raises (rather than answering False) on a timestamp too large for a float, a signature that
isn't ASCII, or a body that isn't UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier

from bot.codec import parse_json

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_STAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds; Slack allows five minutes of skew anyway
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_UTF8 = frozenset({"utf-8", "utf8"})
SSL_CHECK_MAX = 200  # bytes: "ssl_check=1&token=" and a verification token
# Slack's notice that it has stopped sending copbot events for a while: acknowledged and
# logged, since what people say meanwhile never reaches copbot.
RATE_LIMITED = "app_rate_limited"
HELD_BACK = (
    "Slack says it is holding back this workspace's events from copbot (over 30,000 in an "
    "hour, or too many left unanswered): messages sent meanwhile won't reach copbot or "
    "its archive"
)
# The payload types copbot answers. bolt's matchers for the others (shortcuts, option
# lists, legacy attachments, workflow steps) index their fields unchecked, so they are
# refused before bolt sees them, as bolt would refuse them anyway: unhandled.
KINDS = frozenset(
    {"event_callback", "url_verification", "block_actions", "view_submission", RATE_LIMITED}
)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # for the log: what was wrong, never what was sent


@dataclass(frozen=True)
class Delivery:
    text: str  # the body as sent
    payload: dict[str, Any]  # the JSON object, the form's fields, or interactivity's payload
    is_json: bool


def signed(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (_STAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False  # Slack sends UTF-8, so this was not signed by Slack
    return verifier.is_valid(text, timestamp, signature)


def ssl_check(body: bytes, content_type: str) -> bool:
    """Whether ``body`` is Slack checking the slash command URL's certificate, which it
    sends unsigned (bolt answers it before its signature check): ``ssl_check=1`` and a
    token, nothing else, so answering it reveals and changes nothing."""
    if content_type != FORM or len(body) > SSL_CHECK_MAX:
        return False
    try:
        fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return False
    return fields.get("ssl_check") == "1" and set(fields) <= {"ssl_check", "token"}


def read(body: bytes, content_type: str, charset: str | None) -> Delivery | Refusal:
    """A signed body, parsed the way bolt parses it, or why it can't be."""
    if charset is not None and charset.lower() not in _UTF8:
        return Refusal(400, "it declared a character set other than UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "its body is not UTF-8")
    if content_type == JSON:
        payload = _object(text, "its body")
    elif content_type == FORM:
        fields = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" not in fields:
            return Delivery(text, fields, False)  # a slash command
        payload = _object(fields["payload"], "its payload")
    else:
        return Refusal(400, "its content type is not one Slack sends")
    if isinstance(payload, Refusal):
        return payload
    if (refusal := unusable(payload)) is not None:
        return refusal
    return Delivery(text, payload, content_type == JSON)


def unusable(payload: dict[str, Any], command: bool = False) -> Refusal | None:
    """Why copbot can't take ``payload`` (a slash command's fields if ``command``), if it
    can't: a kind it doesn't use, or a field bolt would trip on."""
    if command and "command" not in payload:
        return Refusal(400, "command is missing")
    if (wrong := _unreadable(payload)) is not None:
        return Refusal(400, f"{wrong} is not what Slack sends")
    if not command and payload.get("type") not in KINDS:  # a string, checked just above
        return Refusal(404, "it is of a kind copbot doesn't use")
    return None


def _unreadable(payload: dict[str, Any]) -> str | None:
    """The first field bolt's dispatch indexes without checking its type, if it is missing or
    has the wrong type: bolt would raise (and answer 500) before a listener could set it aside.
    """
    for key in ("type", "callback_id", "command"):
        if not isinstance(payload.get(key, ""), str):
            return key
    for key in ("event", "view", "workflow_step"):
        value = payload.get(key, {})
        if not isinstance(value, dict):
            return key
        if not all(isinstance(value.get(k, ""), str) for k in ("type", "callback_id")):
            return f"{key}.type"
        if "callback_id" in value and "type" not in value:
            return f"{key}.type"
        if not all(isinstance(value.get(k, {}), dict) for k in ("workflow_step", "function")):
            return f"{key}.workflow_step"
    actions = payload.get("actions", [{"action_id": ""}])
    if not (isinstance(actions, list) and actions and isinstance(actions[0], dict)):
        return "actions"
    first = actions[0]
    if not (isinstance(first.get("action_id"), str) and isinstance(first.get("block_id", ""), str)):
        return "actions.action_id"
    return None


def _object(text: str, what: str) -> dict[str, Any] | Refusal:
    try:
        value = parse_json(text)
    except ValueError:
        return Refusal(400, f"{what} is not JSON")
    except RecursionError:
        return Refusal(400, f"{what} is nested too deeply")
    if not isinstance(value, dict):
        return Refusal(400, f"{what} is not a JSON object")
    return value
