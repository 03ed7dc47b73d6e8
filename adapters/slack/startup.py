"""What the Slack adapter asks Slack as it starts: who copbot is there (the bot token), and
where its Socket Mode connection goes (the app-level token). Slack refusing either, or out
of reach, stops copbot in one sentence for the person starting it."""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import code_of
from adapters.slack.translate import Me
from bot.ports import DeliveryError

log = logging.getLogger(__name__)

SOCKET_TRIES = 3  # asking Slack for a Socket Mode address at start, before giving up
SOCKET_WAIT_S = 2.0
# A bot user's name as Slack allows it; copbot writes it in answers (`/invite @name`), so
# anything else (markup, a space) is taken as not said.
_NAME = re.compile(r"[\w.-]{1,80}")
# What Slack answers when a token itself is wrong: anything else may pass.
TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
    }
)


class SlackUnavailable(DeliveryError):
    """Slack can't be used at start: it refused the bot token, or couldn't be reached. Worded
    for the person starting copbot, who can put it right (`copbot serve` shows it as it is)."""


async def who_am_i(client: AsyncWebClient) -> Me:
    try:
        answer = await client.auth_test()
    except SlackApiError as e:
        raise SlackUnavailable(
            f"Slack refused copbot's bot token ({code_of(e)}); check SLACK_BOT_TOKEN "
            "is the app's current Bot User OAuth Token (xoxb-…)"
        ) from None
    except (aiohttp.ClientError, TimeoutError):
        raise _unreachable(client, "", ", and SLACK_API_URL if it is set") from None
    name = answer.get("user")
    return Me(
        str(answer.get("user_id") or ""),
        str(answer.get("bot_id") or ""),
        str(answer.get("team_id") or ""),
        name if isinstance(name, str) and _NAME.fullmatch(name) else Me.name,
    )


async def socket_address(client: AsyncWebClient, app_token: str) -> str:
    """A Socket Mode address, from Slack's ``apps.connections.open``: asked a few times
    while Slack answers with an error of its own, never again for a refused token."""
    attempt = 0
    while True:
        attempt += 1
        try:
            answer = await client.apps_connections_open(app_token=app_token)
            return str(answer.get("url") or "")
        except SlackApiError as e:
            code = code_of(e)
            if code in TOKEN_REFUSED:
                raise SlackUnavailable(
                    f"Slack refused copbot's app-level token ({code}); check "
                    "SLACK_APP_TOKEN is the app's current App-Level Token (xapp-…) with the "
                    "connections:write scope"
                ) from None
            if attempt == SOCKET_TRIES:
                raise SlackUnavailable(
                    f"Slack didn't open a Socket Mode connection for copbot "
                    f"({code or 'no answer'}, {SOCKET_TRIES} tries); Slack may be having "
                    "trouble (status.slack.com): start copbot again later"
                ) from None
            log.warning("Slack didn't give a Socket Mode address yet (%s)", code)
            await asyncio.sleep(SOCKET_WAIT_S)
        except (aiohttp.ClientError, TimeoutError):
            raise _unreachable(client, " for Socket Mode", "") from None


def _unreachable(client: AsyncWebClient, purpose: str, also: str) -> SlackUnavailable:
    host = urlsplit(client.base_url).netloc or client.base_url
    return SlackUnavailable(
        f"copbot couldn't reach Slack at {host}{purpose}; check this server's network "
        f"connection and proxy settings (HTTPS_PROXY){also}"
    )
