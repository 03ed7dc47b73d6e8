"""A Slack message link (``chat.getPermalink``) read back into the message it names."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from bot.model import ChannelRef, MessageRef

PLATFORM = "slack"
# /archives/C0123ABC/p1700000000000100: the ts without its dot.
_PATH = re.compile(r"/archives/([CG][A-Z0-9]{2,20})/p(\d{10})(\d{6})")
_TS = re.compile(r"\d{10}\.\d{6}")


def message_at(link: str, workspace: str) -> MessageRef | None:
    """The message a Slack permalink names, in copbot's workspace; None for anything else."""
    # Pasted links may come wrapped (<url>, <url|label>) or with & written as &amp;.
    parts = urlsplit(html.unescape(link.strip()).strip("<>").partition("|")[0])
    host = parts.hostname or ""
    if parts.scheme != "https" or not (host == "slack.com" or host.endswith(".slack.com")):
        return None
    found = _PATH.fullmatch(parts.path)
    if found is None:
        return None
    channel, ts = found.group(1), f"{found.group(2)}.{found.group(3)}"
    thread = parse_qs(parts.query).get("thread_ts", [""])[0]
    root = thread if _TS.fullmatch(thread) and thread != ts else None
    return MessageRef(ChannelRef(PLATFORM, channel, workspace), ts, root)
