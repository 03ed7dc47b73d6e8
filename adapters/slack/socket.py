"""Socket Mode: bolt's handler, behind the checks the HTTP route makes before bolt reads a
request (``inbound.unusable``, and bolt building its request), on slack_sdk's client behind
a check of each envelope before the SDK reads it. Imported only in Socket Mode, so that HTTP
never loads the Socket Mode client and its websockets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from time import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack import inbound
from bot.codec import parse_json

log = logging.getLogger(__name__)

SET_ASIDE = "set aside a Slack Socket Mode message copbot could not take: %s"
PING_INTERVAL_S = 10  # bolt's


@dataclass(frozen=True)
class SetAside:
    envelope_id: str  # "" when there is none to acknowledge
    why: str  # for the log: what was wrong, never what was sent


def read_envelope(text: str) -> dict[str, Any] | SetAside:
    """One Socket Mode message, as far as slack_sdk can take it: an object whose type is a
    string, envelope_id a string and payload an object, or Slack's word about the connection
    itself (``hello``, ``disconnect``: no envelope_id, no payload)."""
    if not text.startswith("{"):
        return SetAside("", "it is not a JSON object")
    try:
        value = parse_json(text)
    except ValueError:
        return SetAside("", "it is not JSON")
    except RecursionError:
        return SetAside("", "it is nested too deeply")
    if not isinstance(value, dict):
        return SetAside("", "it is not a JSON object")
    if "envelope_id" not in value and "payload" not in value:
        return value
    envelope_id = value.get("envelope_id")
    if not (isinstance(envelope_id, str) and envelope_id):
        return SetAside("", "it has no envelope_id to acknowledge")
    if not isinstance(value.get("type"), str):
        return SetAside(envelope_id, "its type is not a string")
    if not isinstance(value.get("payload"), dict):
        # The SDK raises on a list, number or null, and takes a string as {"text": …}.
        return SetAside(envelope_id, "its payload is not an object")
    return value


class CheckedSocketModeClient(SocketModeClient):
    """slack_sdk's client, with each message read by ``read_envelope`` first. The SDK trips
    on an envelope whose payload isn't an object (a logged stack, and never acknowledged, so
    Slack sends it again) and drops one without a type, payload or envelope_id unsaid."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._running: set[asyncio.Future[None]] = set()  # held, or the loop may drop them

    async def process_message(self) -> None:
        text = await self.message_queue.get()
        if text is None:
            return
        read = read_envelope(text)
        if isinstance(read, SetAside):
            log.warning(SET_ASIDE, read.why)
            if read.envelope_id:
                self._later(self._acknowledge(read.envelope_id))
            return
        # As the SDK does: each message on its own task, so that none holds up the next.
        self._later(self.run_message_listeners(read, text))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _acknowledge(self, envelope_id: str) -> None:
        try:
            await self.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
        except Exception as e:  # the connection is going: Slack sends it again, set aside then
            log.warning("couldn't acknowledge a Slack Socket Mode message (%s)", type(e).__name__)


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, app: AsyncApp, app_token: str) -> None:
        # bolt's, but on the checked client (bolt's would start a client of its own).
        self.app = app
        self.app_token = app_token
        self.client = CheckedSocketModeClient(
            app_token=app_token,
            logger=app.logger,
            web_client=app.client,
            ping_interval=PING_INTERVAL_S,
        )
        self.client.socket_mode_request_listeners.append(self.handle)

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time()
        payload = req.payload  # an object: CheckedSocketModeClient let nothing else by
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
    log.warning(SET_ASIDE, why)
    await _ack(client, req)


async def _ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
