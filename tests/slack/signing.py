"""Requests signed the way Slack documents it, written out here rather than borrowed from the
SDK so that the tests check the SDK's verification against the specification.

``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` with the signing secret, sent in
``X-Slack-Signature`` with the timestamp in ``X-Slack-Request-Timestamp``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"


def signature(secret: str, timestamp: int, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def headers(
    secret: str,
    body: str,
    content_type: str,
    timestamp: int | None = None,
    retry: int | None = None,
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature(secret, stamp, body),
    }
    if retry:
        signed |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return signed


def event_body(envelope: dict[str, Any]) -> tuple[str, str]:
    """An Events API delivery: the JSON envelope as the raw body."""
    return json.dumps(envelope), "application/json"


def command_body(fields: dict[str, str]) -> tuple[str, str]:
    """A slash command: form fields, URL-encoded."""
    return urlencode(fields), FORM


def interaction_body(payload: dict[str, Any]) -> tuple[str, str]:
    """Interactivity (buttons, modals): one form field, ``payload``, holding JSON."""
    return urlencode({"payload": json.dumps(payload)}), FORM
