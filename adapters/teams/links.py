"""A Teams message link (as copbot builds them, and Teams' "Copy link") read back into the
message it names."""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from urllib.parse import parse_qs, unquote, urlsplit

from bot.model import ChannelRef, MessageRef

PLATFORM = "teams"
_PATH = re.compile(r"/l/message/([^/]{1,200})/(\d{1,20})")


def message_at(link: str, tenants: Collection[str]) -> MessageRef | None:
    """The channel message a Teams link names, in an allowed tenant; None for anything else."""
    # Pasted links may come wrapped (<url>, <url|label>) or with & written as &amp;.
    parts = urlsplit(html.unescape(link.strip()).strip("<>").partition("|")[0])
    if parts.scheme != "https" or parts.hostname != "teams.microsoft.com":
        return None
    found = _PATH.fullmatch(parts.path)
    if found is None:
        return None
    channel, message = unquote(found.group(1)), found.group(2)
    if not channel.startswith("19:"):
        return None  # a chat, not a channel: anonymous replies live in channels only
    query = parse_qs(parts.query)
    tenant = query.get("tenantId", [""])[0].lower()  # as activities write it
    if not tenant or (tenants and tenant not in tenants):
        return None
    parent = query.get("parentMessageId", [""])[0]
    root = parent if parent.isdigit() and parent != message else None
    return MessageRef(ChannelRef(PLATFORM, channel, tenant), message, root)
