"""Identities people type (``COPBOT_ADMINS``, the command line, a role grant in chat or the
console): checked against the shape each platform's ids have, so that a typo is refused in
words instead of naming nobody."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.model import split_identity


class IdentityError(ValueError):
    """An identity typed by a person (``COPBOT_ADMINS``, the command line) that can't be
    anyone's. ``reason`` follows the value in a sentence: "'slak:U1' is not …"."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value.strip()[:60]
        self.reason = reason
        super().__init__(f"'{self.value}' {reason}")


# The shape of each platform's ids, as copbot stores them (``platform:id``):
_ID_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    # Slack member ids: U… (W… in Enterprise Grid), upper-case letters and digits.
    "slack": (
        re.compile(r"[UW][A-Z0-9]{0,31}"),
        "is not a Slack identity: write the person's member id, e.g. slack:U012ABCDEF "
        "(in their Slack profile: the ⋮ menu, then Copy member ID)",
    ),
    # Teams people are their Microsoft Entra object id (the activity's aadObjectId): a GUID.
    # Microsoft 365 Agents Playground's own user has one more digit at the end
    # (00000000-0000-0000-0000-0000000000020), which is allowed for trying copbot with it.
    "teams": (
        re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12,13}"),
        "is not a Teams identity: write the person's Microsoft Entra object id, e.g. "
        "teams:29f1c8e2-0000-4000-8000-000000000001 (in the Entra admin centre: Users, the "
        "person, then Object ID)",
    ),
    # The playground's personas: short lower-case names.
    "local": (
        re.compile(r"[a-z0-9][a-z0-9_-]{0,39}"),
        "is not a playground identity: write a persona's id in lower case, e.g. local:sam",
    ),
}


def checked_identity(text: str) -> str:
    """An identity a person typed, as copbot stores it: ``"slack:u012abc"`` ->
    ``"slack:U012ABC"``. Raises IdentityError, naming the value and the right shape, for a
    platform copbot doesn't know or an id no one on that platform can have."""
    try:
        platform, ident = split_identity(text)
    except ValueError:
        raise IdentityError(
            text, "is not an identity; write it as platform:id, e.g. slack:U012ABCDEF"
        ) from None
    shape = _ID_SHAPES.get(platform)
    if shape is None:
        raise IdentityError(
            text,
            "is not an identity copbot knows: it must start with slack:, teams: or local:, "
            "e.g. slack:U012ABCDEF",
        )
    pattern, reason = shape
    ident = ident.upper() if platform == "slack" else ident.lower()
    if not pattern.fullmatch(ident):
        raise IdentityError(text, reason)
    return f"{platform}:{ident}"


TYPED_PLATFORMS = frozenset(_ID_SHAPES)  # the platforms whose ids copbot knows


def needs_checking(platform: str, served: Sequence[str]) -> bool:
    """Whether a typed identity's shape is checked before a role is granted to it: on the
    platforms whose ids copbot knows, and on any platform copbot doesn't serve (a typo)."""
    return platform in TYPED_PLATFORMS or platform not in served
