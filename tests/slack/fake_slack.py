"""A fake Slack Web API (and Socket Mode server) on aiohttp, on an ephemeral port.

It answers ``/api/<method>`` like Slack does (form-encoded, JSON or query arguments; the
``Authorization: Bearer`` header checked), records every call in order, and can be told to
fail: ``fail(method, error, times)`` answers ``{"ok": false, "error": …}`` and
``rate_limit(method, times, retry_after)`` answers HTTP 429 with ``Retry-After``, and
``outage(method, answers)`` answers as a Slack having a bad time: ``"500"``, ``"502"``,
``"503"`` (HTTP errors with an HTML page) or ``"malformed"`` (200 with broken JSON).
``slow(method, seconds)`` does the work at once and answers late (a post lands, and copbot
hears of it only later). Messages posted are kept per channel, with their metadata, for
``conversations.history``. ``limits`` (tests/support/rate_limits.py) answers 429 as Slack's
published limits would.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.support.rate_limits import Limits

BOT_TOKEN = "xoxb-test-0000-fake"
APP_TOKEN = "xapp-1-test-fake"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T1"
BOT_USER = "UBOT"
BOT_ID = "BBOT"


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]
    outcome: str  # "ok", "429", or the error answered
    answer: dict[str, Any] = field(default_factory=dict)  # what the fake said back

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class FakeSlack:
    users: dict[str, str] = field(default_factory=lambda: {BOT_USER: "copbot"})
    channels: dict[str, str] = field(default_factory=dict)
    private: set[str] = field(default_factory=set)  # which of ``channels`` are private
    members: dict[str, list[str]] = field(default_factory=dict)  # user -> channel ids
    calls: list[Call] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    _limits: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    _outages: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    _stalls: dict[str, asyncio.Event] = field(default_factory=dict)
    _slow: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # newest last
    limits: Limits | None = None
    _ts: count[int] = field(default_factory=lambda: count(100, 100))
    _socket: web.WebSocketResponse | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    server: TestServer | None = None

    # -- running --------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket_mode)
        self.server = TestServer(app, port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        for gate in self._stalls.values():
            gate.set()
        if self._socket is not None:
            await self._socket.close()
        if self.server is not None:
            await self.server.close()

    @property
    def api_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/api/"))

    # -- scripting --------------------------------------------------------------------

    def fail(self, method: str, error: str, times: int = 1) -> None:
        self._failures[method].extend([error] * times)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 0) -> None:
        self._limits[method].extend([retry_after] * times)

    def outage(self, method: str, answers: list[str]) -> None:
        self._outages[method].extend(answers)

    def heal(self) -> None:
        """The outage is over: every method answers normally again."""
        self._outages.clear()

    def slow(self, method: str, seconds: float) -> None:
        """Answer ``method`` ``seconds`` late, after doing it (0: on time again)."""
        self._slow[method] = seconds

    def stall(self, method: str) -> asyncio.Event:
        """Hold every call of ``method`` until the returned event is set."""
        gate = self._stalls[method] = asyncio.Event()
        return gate

    # -- what happened -----------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        """Successful calls of ``method``, in order."""
        return [c for c in self.calls if c.method == method and c.ok]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    async def until(self, check: Any, timeout: float = 5.0) -> Any:
        """Wait until ``check()`` is truthy (re-checked whenever a call or ack arrives)."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := check()):
                await self._changed.wait()
            return result

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # -- the Web API ---------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            await self._record(Call(method, args, "invalid_auth"))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        retry_after = self._limits[method].popleft() if self._limits[method] else None
        if retry_after is None and self.limits is not None:
            retry_after = self.limits.refuse(method, str(args.get("channel", "")))
        if retry_after is not None:
            await self._record(Call(method, args, "429"))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if self._outages[method]:
            answer = self._outages[method].popleft()
            await self._record(Call(method, args, answer))
            if answer == "malformed":
                return web.Response(text='{"ok": true, "ts": "17', content_type="application/json")
            return web.Response(
                status=int(answer), text="<html>Slack is having trouble</html>",
                content_type="text/html",
            )  # fmt: skip
        if method in self._stalls:
            await self._stalls[method].wait()
        if self._failures[method]:
            error = self._failures[method].popleft()
            await self._record(Call(method, args, error))
            return web.json_response({"ok": False, "error": error})
        answer = self._answer(method, args, request)
        await self._record(
            Call(method, args, "ok" if answer.get("ok") else answer["error"], answer)
        )
        if self._slow.get(method):
            await asyncio.sleep(self._slow[method])
        return web.json_response(answer)

    def _answer(self, method: str, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        match method:
            case "auth.test":
                return ok | {
                    "url": "https://example.slack.com/",
                    "team": "Example",
                    "user": self.users.get(BOT_USER, "copbot"),
                    "team_id": TEAM,
                    "user_id": BOT_USER,
                    "bot_id": BOT_ID,
                }
            case "chat.postMessage":
                ts = self._next_ts()
                self._keep(args, ts)
                return ok | {"channel": args.get("channel"), "ts": ts, "message": {"ts": ts}}
            case "conversations.history":
                return ok | self._history(args)
            case "chat.postEphemeral":
                return ok | {"message_ts": self._next_ts()}
            case "chat.update":
                return ok | {"channel": args.get("channel"), "ts": args.get("ts")}
            case "chat.delete":
                return ok | {"channel": args.get("channel"), "ts": args.get("ts")}
            case "chat.getPermalink":
                channel, ts = args.get("channel", ""), str(args.get("message_ts", ""))
                link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
                return ok | {"channel": channel, "permalink": link}
            case "conversations.open":
                return ok | {"channel": {"id": f"D{args.get('users', '')}"}}
            case "conversations.info":
                channel_id = str(args.get("channel", ""))
                if channel_id not in self.channels:
                    return {"ok": False, "error": "channel_not_found"}
                return ok | {
                    "channel": {
                        "id": channel_id,
                        "name": self.channels[channel_id],
                        "is_private": channel_id in self.private,
                    }
                }
            case "users.conversations":
                return ok | self._conversations(args)
            case "users.info":
                user_id = str(args.get("user", ""))
                if user_id not in self.users:
                    return {"ok": False, "error": "user_not_found"}
                name = self.users[user_id]
                profile = {"display_name": name, "real_name": name}
                return ok | {"user": {"id": user_id, "name": name.lower(), "profile": profile}}
            case "views.open" | "views.publish":
                return ok | {"view": {"id": f"V{self._next_ts().replace('.', '')}"}}
            case "apps.connections.open":
                return ok | {"url": str(request.url.with_path("/socket").with_scheme("ws"))}
        return {"ok": False, "error": "unknown_method"}

    def _conversations(self, args: dict[str, Any]) -> dict[str, Any]:
        """A page of someone's channels; the cursor is where the next page starts."""
        kinds = set(str(args.get("types") or "public_channel").split(","))
        mine = [
            c
            for c in self.members.get(str(args.get("user", "")), [])
            if ("private_channel" if c in self.private else "public_channel") in kinds
        ]
        start = int(str(args.get("cursor") or "0").removeprefix("at:"))
        end = start + int(args.get("limit") or 100)
        page = [
            {"id": c, "name": self.channels.get(c, c), "is_private": c in self.private}
            for c in mine[start:end]
        ]
        return {
            "channels": page,
            "response_metadata": {"next_cursor": f"at:{end}" if end < len(mine) else ""},
        }

    def _keep(self, args: dict[str, Any], ts: str) -> None:
        message = {"type": "message", "ts": ts, "user": BOT_USER, "bot_id": BOT_ID}
        message |= {k: args[k] for k in ("text", "blocks", "metadata", "thread_ts") if k in args}
        if isinstance(message.get("metadata"), str):
            message["metadata"] = json.loads(message["metadata"])
        self.history.setdefault(str(args.get("channel", "")), []).append(message)

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """A page of a channel's top-level messages, newest first; metadata only if asked."""
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        newest_first = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in reversed(self.history.get(str(args.get("channel", "")), []))
            if "thread_ts" not in m
        ]
        start = int(str(args.get("cursor") or "0").removeprefix("at:"))
        end = start + int(args.get("limit") or 100)
        more = end < len(newest_first)
        return {
            "messages": newest_first[start:end],
            "has_more": more,
            "response_metadata": {"next_cursor": f"at:{end}" if more else ""},
        }

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    # -- Socket Mode ------------------------------------------------------------------------

    async def _socket_mode(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1})
        async with self._changed:
            self._changed.notify_all()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
                async with self._changed:
                    self._changed.notify_all()
        return ws

    @property
    def socket_connected(self) -> bool:
        return self._socket is not None and not self._socket.closed

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        assert self._socket is not None, "nobody is connected over Socket Mode"
        await self._socket.send_json(envelope)

    async def send_text(self, text: str) -> None:
        """Any text as one WebSocket message, for envelopes no JSON object can write."""
        assert self._socket is not None, "nobody is connected over Socket Mode"
        await self._socket.send_str(text)


async def _arguments(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        args.update(await request.json())
    elif request.can_read_body:
        args.update(dict(await request.post()))
    for key in ("blocks", "view"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args
