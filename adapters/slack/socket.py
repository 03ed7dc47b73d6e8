"""Socket Mode: bolt's handler, behind the checks the HTTP route makes before bolt reads a
request (``inbound.unusable``). Imported only in Socket Mode, so that HTTP never loads the
Socket Mode client and its websockets."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack import inbound

log = logging.getLogger(__name__)


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        payload: object = req.payload  # the SDK lets a string through too
        if not isinstance(payload, dict):
            refusal: inbound.Refusal | None = inbound.Refusal(400, "its payload is not an object")
        else:
            refusal = inbound.unusable(payload, command=req.type == "slash_commands")
        if refusal is not None:
            # Acknowledged, or Slack sends it again; bolt would trip on it (a logged stack).
            log.warning(
                "set aside a Slack Socket Mode message copbot could not take: %s", refusal.reason
            )
        elif isinstance(payload, dict) and payload.get("type") == inbound.RATE_LIMITED:
            log.warning(inbound.HELD_BACK)
        else:
            await super().handle(client, req)  # type: ignore[arg-type]
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
