"""What a modal carries from ``views.open`` to its ``view_submission``: Slack returns a view's
``private_metadata`` unchanged, so the form's context and where it was opened travel there and
the answer can go back to the same channel and thread. No database row is needed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from adapters.slack.schema import Malformed, ident, text, ts
from bot.model import ChannelKind, ChannelRef, Origin, ThreadRef

PLATFORM = "slack"
LIMIT = 3000  # Slack's limit on private_metadata


@dataclass(frozen=True)
class FormOrigin:
    context: str
    channel: ChannelRef
    thread: ThreadRef | None = None
    anonymous: bool = False
    thanks: str = ""  # Form.thanks: shown in the modal once the submission is accepted


def encode(context: str, origin: Origin, anonymous: bool = False, thanks: str = "") -> str:
    channel = origin.channel
    doc = {
        "v": 1,
        "context": context,
        "channel": channel.id,
        "name": channel.name,
        "team": channel.workspace,
        "direct": channel.is_direct,
        "thread": origin.thread.root_id if origin.thread else None,
    }
    if anonymous:
        doc["anonymous"] = True
    if thanks:
        doc["thanks"] = thanks
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if len(text) > LIMIT:
        # A form's context is an id or two; anything this long is a bug worth hearing about.
        raise ValueError(f"form context is too long for Slack ({len(text)} > {LIMIT} characters)")
    return text


def decode(metadata: str, team: str) -> FormOrigin:
    """The form's origin; a modal copbot did not open (or garbled metadata) reads as a DM."""
    try:
        doc = json.loads(metadata) if metadata else {}
        if not isinstance(doc, dict):
            raise Malformed("private_metadata is not an object")
        channel_id, name = ident(doc, "channel"), text(doc, "name", LIMIT)
        workspace, root = ident(doc, "team") or team, ts(doc, "thread")
        context, direct = text(doc, "context", LIMIT), doc.get("direct") is True
        anonymous, thanks = doc.get("anonymous") is True, text(doc, "thanks", LIMIT)
    except (ValueError, RecursionError):  # Malformed, not JSON, or nested past Python's stack
        return FormOrigin("", ChannelRef(PLATFORM, "", team, "", ChannelKind.DIRECT))
    kind = ChannelKind.DIRECT if direct or not channel_id else ChannelKind.CHANNEL
    channel = ChannelRef(PLATFORM, channel_id, workspace, name, kind)
    thread = ThreadRef(channel, root) if root else None
    return FormOrigin(context, channel, thread, anonymous, thanks)
