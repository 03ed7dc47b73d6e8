"""Slack's message text ("mrkdwn" with ``<…>`` tokens and ``&amp;`` escapes) as plain text.

Two readings of the same text:

- ``plain_text`` is what people wrote, for the archive and for listeners: ``<@U1>`` becomes
  ``@Display Name``, ``<#C1|north>`` becomes ``#north``, links show their address.
- ``command_text`` is the command grammar of ``bot/commands.py``: people named in a command
  become ``<@slack:U1>`` (an identity the core can act on) and channels stay ``<#C1|name>``.

Names are looked up before translating (see ``directory.py``); these functions are pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

PLATFORM = "slack"

_TOKEN = re.compile(r"<([^<>\n]*)>")
_USER = re.compile(r"^@([UW][A-Z0-9]+)(?:\|(.*))?$")
_CHANNEL = re.compile(r"^#([CGD][A-Z0-9]+)(?:\|(.*))?$")
_SPECIAL = re.compile(r"^!([a-z]+)(?:\^([^|]*))?(?:\|(.*))?$")
_SCHEME = re.compile(r"^(?:https?://|mailto:|tel:)", re.I)


def unescape(text: str) -> str:
    """Slack escapes exactly three characters; ``&amp;`` last, so ``&amp;lt;`` reads ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_users(text: str) -> set[str]:
    """User ids named in ``<@U…>`` tokens."""
    return {m.group(1) for t in _TOKEN.findall(text) if (m := _USER.match(t))}


def unnamed_channels(text: str) -> set[str]:
    """Channel ids in ``<#C…>`` tokens that carry no name (newer clients send ``<#C1|>``)."""
    return {m.group(1) for t in _TOKEN.findall(text) if (m := _CHANNEL.match(t)) and not m.group(2)}


def plain_text(
    text: str, users: Mapping[str, str] | None = None, channels: Mapping[str, str] | None = None
) -> str:
    """Slack text as people read it; unknown names fall back to the label, then to the id."""
    users = users or {}
    channels = channels or {}

    def token(inner: str) -> str:
        if m := _USER.match(inner):
            return "@" + (users.get(m.group(1)) or unescape(m.group(2) or "") or m.group(1))
        if m := _CHANNEL.match(inner):
            return "#" + (unescape(m.group(2) or "") or channels.get(m.group(1)) or m.group(1))
        return _special_or_link(inner)

    return _rewrite(text, token)


def command_text(text: str) -> str:
    """Slack text in the command grammar: ``<@slack:U1>`` for people, ``<#C1|name>`` kept."""

    def token(inner: str) -> str:
        if m := _USER.match(inner):
            return f"<@{PLATFORM}:{m.group(1)}>"
        if _CHANNEL.match(inner):
            return f"<{inner}>"
        return _special_or_link(inner)

    return _rewrite(text, token).strip()


def after_mention(text: str, user_id: str) -> str | None:
    """The text after a mention of ``user_id`` that starts the message (``<@UBOT> help`` ->
    ``help``), or None when the message doesn't start with one: "Hey <@UBOT> help" names
    copbot in passing, as part of the conversation, and asks it nothing."""
    m = re.match(rf"\s*<@{re.escape(user_id)}(?:\|[^>]*)?>", text)
    return text[m.end() :] if m else None


def _rewrite(text: str, token: Callable[[str], str]) -> str:
    # Tokens and the text between them are unescaped separately, so a name looked up from
    # Slack (never escaped) is inserted as it is, and every escape is undone exactly once.
    out: list[str] = []
    last = 0
    for m in _TOKEN.finditer(text):
        out.append(unescape(text[last : m.start()]))
        out.append(token(m.group(1)))
        last = m.end()
    out.append(unescape(text[last:]))
    return "".join(out)


def _special_or_link(inner: str) -> str:
    if m := _SPECIAL.match(inner):
        word, _, label = m.groups()
        if word in ("here", "channel", "everyone") or not label:
            return f"@{word}"
        return unescape(label)  # user groups (<!subteam^S1|@team>) and dates carry a label
    url, _, label = inner.partition("|")
    url, label = unescape(url), unescape(label)
    if not label or label == url or label == _SCHEME.sub("", url).rstrip("/"):
        # Slack links bare addresses itself (example.org -> <http://example.org|example.org>):
        # what the person typed is the label.
        return label or url
    return f"{label} ({url})"
