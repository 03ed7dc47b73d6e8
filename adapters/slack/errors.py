"""Slack's refusals that a person can do something about, as sentences for that person.

Anything not listed here propagates unchanged: the scheduler and the inbox treat an
unknown failure as worth retrying, whereas retrying "copbot isn't in #north" never helps.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.model import ChannelRef
from bot.ports import DeliveryError

# Refusals after which an ephemeral answer can still reach the person by direct message.
NOT_HERE = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "user_not_in_channel",
    }
)


def code_of(error: SlackApiError) -> str:
    """Slack's error code; "" when Slack's answer was not JSON (an outage's HTML page, or a
    body cut short), whose ``response.get`` would fail on the text it holds instead."""
    data = getattr(error.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def place(channel: ChannelRef) -> str:
    return channel.label if channel.name else "that channel"


def delivery_error(error: SlackApiError, channel: ChannelRef, me: str) -> DeliveryError | None:
    """The sentence for ``error`` while posting in ``channel``; None when nobody can act on it."""
    where = place(channel)
    invite = f"invite me with /invite @{me}, then try again"
    sentence = {
        "not_in_channel": f"I'm not in {where} yet; {invite}.",
        "channel_not_found": (
            f"I can't see {where}. If it's a private channel, {invite} there; "
            "otherwise check it still exists."
        ),
        "is_archived": f"{where} has been archived, so I can't post there. "
        "Unarchive it or pick another channel.",
        "restricted_action": f"This workspace's settings don't let me post in {where}. "
        "A Slack admin can change who may post there.",
        "message_not_found": "That message isn't there any more, so I couldn't change it.",
        "cant_update_message": "Slack won't let me change that message; I can only change my own.",
        "cant_delete_message": "Slack won't let me delete that message; I can only delete my own.",
        "expired_trigger_id": "Slack closed the form before it opened, because I took too long. "
        "Please try again.",
        "invalid_trigger_id": "I can only open a form straight after you use /cop or press "
        "a button. Please try again that way.",
    }.get(code_of(error))
    if sentence is None:
        return None
    return DeliveryError(sentence[0].upper() + sentence[1:])
