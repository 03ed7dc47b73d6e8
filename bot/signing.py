"""Signed values: a link or a form's hidden context that copbot made and nobody altered.

One secret key (``COPBOT_SECRET_KEY``, or one made on first start and kept in the database)
is stretched into a separate key per purpose, so that a value signed for one use (say, the
thread an anonymous reply goes to) is never accepted for another (a console sign-in link).

Every value is signed with its time of issue, so that a reader can refuse one older than it
should live (``max_age``): a form's hidden context left in a platform's payload must not be
replayable for ever.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import timedelta

from bot.ports import Clock

_SEPARATOR = "."


class Expired(Exception):
    """Signed by this signer, but longer ago than the reader allows."""


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Base64's last character has spare bits: without this, several spellings of one
    # token would all be accepted, and a token must have exactly one.
    if _encode(raw) != text:
        raise ValueError("not canonical base64")
    return raw


class Signer:
    """Signs short text values for one purpose. Tokens are URL-safe:
    ``value.issued.signature``, the signature covering both the value and its issue time
    (whole seconds since the epoch)."""

    def __init__(self, key: bytes, clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def sign(self, value: str) -> str:
        payload = value.encode("utf-8")
        issued = str(int(self._clock.now().timestamp())).encode("ascii")
        # Digits, then a newline: the boundary between time and value is unambiguous.
        signature = self._mac(issued + b"\n" + payload)
        return _SEPARATOR.join((_encode(payload), issued.decode(), _encode(signature)))

    def unsign(self, token: str, max_age: timedelta | None = None) -> str | None:
        """The value signed into ``token``, or None when it was not made by this signer.

        With ``max_age``, a genuine token issued longer ago than that raises ``Expired``
        (so the reader can say so kindly), as does one with no issue time. Without it,
        tokens signed before issue times were added (``value.signature``) still read."""
        if not token.isascii() or token.count(_SEPARATOR) not in (1, 2):
            return None
        parts = token.split(_SEPARATOR)
        issued: int | None = None
        if len(parts) == 3:
            if not (parts[1].isdigit() and len(parts[1]) <= 12):
                return None
            issued = int(parts[1])
        try:
            payload, given = _decode(parts[0]), _decode(parts[-1])
        except (binascii.Error, ValueError):
            return None
        signed = payload if issued is None else parts[1].encode() + b"\n" + payload
        if not hmac.compare_digest(self._mac(signed), given):
            return None
        try:
            value = payload.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if max_age is not None:
            age = self._clock.now().timestamp() - (issued if issued is not None else 0)
            if issued is None or age > max_age.total_seconds():
                raise Expired()
        return value


class Signing:
    """Hands out a ``Signer`` per purpose, each with its own key derived from the secret."""

    def __init__(self, secret: bytes, clock: Clock) -> None:
        if len(secret) < 32:
            raise ValueError("a signing secret needs at least 32 bytes")
        self._secret = secret
        self._clock = clock

    def signer(self, purpose: str) -> Signer:
        key = hmac.new(self._secret, b"copbot signer:" + purpose.encode(), hashlib.sha256)
        return Signer(key.digest(), self._clock)

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return "Signing(<secret>)"
