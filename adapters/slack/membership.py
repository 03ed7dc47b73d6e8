"""Which channels a person is in, and whether a channel is private, asked of Slack.

``users.conversations`` with a bot token lists a person's public channels, and their
private channels that copbot is in too (Slack shows a bot no other private channel): that
is every private channel copbot can have kept messages from. Needs ``channels:read`` and
``groups:read``. Any failure answers None, and the core then fails closed.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import code_of

log = logging.getLogger(__name__)

TYPES = "public_channel,private_channel"
PAGE = 200  # Slack recommends no more than 200 a page
MAX_PAGES = 50  # 10,000 channels; past that, say "can't tell" rather than loop on


async def channels_of(client: AsyncWebClient, user_id: str) -> frozenset[str] | None:
    channels: set[str] = set()
    cursor = ""
    try:
        for _ in range(MAX_PAGES):
            answer = await client.users_conversations(
                user=user_id, types=TYPES, limit=PAGE, cursor=cursor or None
            )
            for channel in answer.get("channels") or []:
                if isinstance(channel, dict) and isinstance(channel.get("id"), str):
                    channels.add(channel["id"])
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return frozenset(channels)
    except SlackApiError as e:
        log.warning("Slack didn't say which channels someone is in (%s)", code_of(e))
        return None
    except Exception as e:  # a network failure: the core shows public channels only
        log.warning("asking Slack which channels someone is in failed (%s)", type(e).__name__)
        return None
    log.warning("someone is in more than %d channels; showing public ones only", PAGE * MAX_PAGES)
    return None


async def is_private(client: AsyncWebClient, channel_id: str) -> bool | None:
    try:
        answer = await client.conversations_info(channel=channel_id)
    except SlackApiError as e:
        log.info("Slack didn't say whether a channel is private (%s)", code_of(e))
        return None
    except Exception as e:
        log.warning("asking Slack about a channel failed (%s)", type(e).__name__)
        return None
    private = (answer.get("channel") or {}).get("is_private")
    return private if isinstance(private, bool) else None
