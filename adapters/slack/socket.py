"""Socket Mode: bolt's handler, behind the checks the HTTP route makes before bolt reads a
request (``inbound.unusable``, and bolt building its request). Imported only in Socket
Mode, so that HTTP never loads the Socket Mode client and its websockets."""

from __future__ import annotations

import logging
from time import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack import inbound

log = logging.getLogger(__name__)


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time()
        payload: object = req.payload  # the SDK lets a string through too
        if not isinstance(payload, dict):
            await _set_aside(client, req, "its payload is not an object")
            return
        refusal = inbound.unusable(payload, command=req.type == "slash_commands")
        if refusal is not None:
            await _set_aside(client, req, refusal.reason)
            return
        if payload.get("type") == inbound.RATE_LIMITED:
            log.warning(inbound.HELD_BACK)
            await _ack(client, req)
            return
        try:
            request = AsyncBoltRequest(mode="socket_mode", body=payload, headers=build_headers(req))
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
            # bolt reads the team, user and channel from fields of any type, and trips on some.
            await _set_aside(client, req, f"bolt could not read it ({type(e).__name__})")
            return
        answer = await self.app.async_dispatch(request)
        await send_async_response(client, req, answer, start)
        if 400 <= answer.status < 500:
            # Unhandled: acknowledged as refused, since Slack would only send it again. A
            # failure (5xx) is left unacknowledged, so Slack does send it again.
            await _ack(client, req)


async def _set_aside(client: AsyncBaseSocketModeClient, req: SocketModeRequest, why: str) -> None:
    # Acknowledged, or Slack sends it again; bolt would trip on it (a logged stack).
    log.warning("set aside a Slack Socket Mode message copbot could not take: %s", why)
    await _ack(client, req)


async def _ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
