"""A playground message link (``/?channel=north&thread=ROOT#ID``) read back into the message
it names."""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from urllib.parse import parse_qs, urlsplit

from bot.model import ChannelRef, MessageRef

PLATFORM = "local"
_ID = re.compile(r"m\d{1,18}")  # the playground's message ids


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def message_at(link: str, channels: Collection[str], address: str = "") -> MessageRef | None:
    """The message a playground link names, in one of its channels; None for anything else.
    ``address`` is the playground's host[:port] when configured; else it is on this machine."""
    # Pasted links may come wrapped (<url>, <url|label>) or with & written as &amp;.
    parts = urlsplit(html.unescape(link.strip()).strip("<>").partition("|")[0])
    # Relative (/?channel=…) when the playground's address isn't configured.
    relative = not parts.scheme and not parts.netloc
    here = parts.netloc == address if address else parts.hostname in _LOOPBACK
    if not (relative or (parts.scheme in ("http", "https") and here)):
        return None
    if parts.path not in ("", "/"):
        return None
    query = parse_qs(parts.query)
    channel = query.get("channel", [""])[0]
    message = parts.fragment
    if channel not in channels or not _ID.fullmatch(message):
        return None
    thread = query.get("thread", [""])[0]
    root = thread if _ID.fullmatch(thread) and thread != message else None
    return MessageRef(ChannelRef(PLATFORM, channel, "", channel), message, root)
