"""Signed values: a link or a form's hidden context that copbot made and nobody altered.

One secret key (``COPBOT_SECRET_KEY``, or one made on first start and kept in the database)
is stretched into a separate key per purpose, so that a value signed for one use (say, the
thread an anonymous reply goes to) is never accepted for another (a console sign-in link).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_SEPARATOR = "."


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs short text values for one purpose. Tokens are URL-safe: ``value.signature``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def sign(self, value: str) -> str:
        payload = value.encode("utf-8")
        return _encode(payload) + _SEPARATOR + _encode(self._mac(payload))

    def unsign(self, token: str) -> str | None:
        """The value signed into ``token``, or None when it was not made by this signer."""
        if token.count(_SEPARATOR) != 1 or not token.isascii():
            return None
        value, signature = token.split(_SEPARATOR)
        try:
            payload, given = _decode(value), _decode(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(self._mac(payload), given):
            return None
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return None


class Signing:
    """Hands out a ``Signer`` per purpose, each with its own key derived from the secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("a signing secret needs at least 32 bytes")
        self._secret = secret

    def signer(self, purpose: str) -> Signer:
        key = hmac.new(self._secret, b"copbot signer:" + purpose.encode(), hashlib.sha256)
        return Signer(key.digest())

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return "Signing(<secret>)"
