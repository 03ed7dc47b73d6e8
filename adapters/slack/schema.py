"""What copbot reads from a Slack payload, checked as it is read.

Slack's payloads are JSON from the network: any field can arrive as another type, absurdly
long or deep. The translators read every field through these accessors, so a payload that
doesn't fit raises ``Malformed`` (its reason names the field, never its value) and nothing
half-understood reaches the inbox or the archive. Small typed accessors rather than a
validation library: the translators read a dozen fields of a payload that may carry hundreds,
and checking only those keeps the hot path as fast as it was (see the README's ingest figures).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from adapters.payload import OBJECT

Payload = Mapping[str, Any]
EMPTY: Payload = MappingProxyType({})

# Slack's ids: users U…/W…, channels C…/G…/D…, teams T…, bots B…, enterprises E….
_ID = re.compile(r"[A-Z0-9]{1,40}")
# Ids Slack makes up per delivery (event ids, trigger ids, view ids, action ids).
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,254}")
# Message timestamps: seconds (up to year 2286) and an optional fraction, always positive.
_TS = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,9})?")
TEXT_LIMIT = 100_000  # far above Slack's own 40,000-character message limit


class Malformed(ValueError):
    """A payload copbot cannot read; the message says which field, never what it held."""


def obj(parent: Payload, key: str) -> Payload:
    """A nested object; missing or null reads as empty."""
    value = parent.get(key)
    if value is None:
        return EMPTY
    if isinstance(value, OBJECT):
        return value
    raise Malformed(f"{key} is not an object")


def objects(parent: Payload, key: str) -> Sequence[Payload]:
    """A list of objects; missing or null reads as empty."""
    value = parent.get(key)
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, OBJECT) for v in value):
        return value
    raise Malformed(f"{key} is not a list of objects")


def text(parent: Payload, key: str, limit: int = TEXT_LIMIT) -> str:
    """Words people wrote; missing or null reads as empty."""
    value = parent.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{key} is not text")
    if len(value) > limit:
        raise Malformed(f"{key} is too long")
    return clean(value)


def ident(parent: Payload, key: str) -> str:
    """A Slack id (user, channel, team, bot); missing, null or empty reads as ``""``."""
    return _match(parent, key, _ID, "a Slack id")


def token(parent: Payload, key: str) -> str:
    """An id Slack made up for one delivery (event, trigger, view, action)."""
    return _match(parent, key, _TOKEN, "an id")


def ts(parent: Payload, key: str) -> str:
    """A message timestamp such as ``1700000000.000100``; missing or null reads as ``""``."""
    return _match(parent, key, _TS, "a Slack timestamp")


def flag(parent: Payload, key: str) -> bool:
    value = parent.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise Malformed(f"{key} is not true or false")


def word(parent: Payload, key: str) -> str | None:
    """A keyword such as ``type`` or ``subtype``: a short string, or None when absent."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 100:
        return value
    raise Malformed(f"{key} is not a keyword")


def required(value: str, name: str) -> str:
    if not value:
        raise Malformed(f"{name} is missing")
    return value


def clean(value: str) -> str:
    """``value`` with any lone surrogate (which JSON can carry and UTF-8 cannot) as U+FFFD."""
    if value.isascii():
        return value  # the common case, checked at C speed
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 so a valid surrogate pair becomes its character, a lone one U+FFFD.
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _match(parent: Payload, key: str, pattern: re.Pattern[str], what: str) -> str:
    value = parent.get(key)
    if value is None or value == "":
        return ""
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    raise Malformed(f"{key} is not {what}")
