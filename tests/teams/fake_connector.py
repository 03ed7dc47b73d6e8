"""A fake Bot Framework connector (Teams' ``serviceUrl``) on aiohttp, on an ephemeral port.

It answers the v3 REST calls botbuilder makes (create conversation, send, reply, update,
delete, team channels with their ``membershipType``, members, a channel's members page by
page), records each in order, can answer a method with an error
status a number of times (``fail``; ``MALFORMED`` does the work and answers 200 with a body
cut short, ``0`` never answers), and serves OpenID metadata and signing keys so tests can
point token validation at it (``stall_keys`` makes the key fetch hang).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.rate_limits import Limits

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAM = "19:general@thread.tacv2"
NORTH = "19:north@thread.tacv2"
BOT = "28:00000000-0000-0000-0000-00000000b0b0"
# The team's roster (General's members, whose id is the team's): everyone the tests bring in,
# unless a test says otherwise. Someone outside it sees none of the team's channels.
PEOPLE = (
    "sam-0001",
    "priya-0002",
    "noor-0003",
    "kofi-0004",
    "admin-0009",
    "jo-0042",
    "sam",
    "priya",
    "admin",
    "bea",
    "ade",
    "cal",
    *(f"member-{n}" for n in range(10)),
)
ROSTER = [{"id": f"29:1{p}", "name": p, "aadObjectId": f"aad-{p}"} for p in PEOPLE]
MALFORMED = -1  # a status for ``fail``: done, and answered 200 with JSON cut short


@dataclass(frozen=True)
class Call:
    method: str  # create, send, update, delete, channels, member, pagedmembers
    conversation: str
    body: dict[str, Any]
    status: int
    activity_id: str = ""
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeConnector:
    channels: dict[str, str] = field(default_factory=lambda: {TEAM: "", NORTH: "North"})
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # 29: id -> account
    # membershipType by channel id: "standard" when not given, left out of the list when "".
    kinds: dict[str, str] = field(default_factory=dict)
    # A channel's members (accounts with aadObjectId), served a page of ``page_size`` at a time.
    channel_members: dict[str, list[dict[str, str]]] = field(
        default_factory=lambda: {TEAM: list(ROSTER)}
    )
    page_size: int = 2
    # 29: ids of people who have blocked copbot: Teams refuses to open a chat with them.
    blocked: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    jwks: list[dict[str, Any]] = field(default_factory=list)
    key_fetches: int = 0
    _failures: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    _ids: count[int] = field(default_factory=lambda: count(1800000000001))
    _stall: asyncio.Event | None = None
    limits: Limits | None = None  # answer 429 as Teams' published limits would
    server: TestServer | None = None

    async def start(self) -> FakeConnector:
        app = web.Application()
        conv = "{conv:[^/]+}"
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post(f"/v3/conversations/{conv}/activities", self._send)
        app.router.add_post(f"/v3/conversations/{conv}/activities/{{id}}", self._reply)
        app.router.add_put(f"/v3/conversations/{conv}/activities/{{id}}", self._update)
        app.router.add_delete(f"/v3/conversations/{conv}/activities/{{id}}", self._delete)
        app.router.add_get(f"/v3/conversations/{conv}/members/{{member}}", self._member)
        app.router.add_get(f"/v3/conversations/{conv}/pagedmembers", self._paged_members)
        app.router.add_get("/v3/teams/{team}/conversations", self._team_channels)
        app.router.add_get("/openid", self._openid)
        app.router.add_get("/keys", self._keys)
        self.server = TestServer(app, port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self._stall is not None:
            self._stall.set()
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/"))

    @property
    def metadata_url(self) -> str:
        return self.url + "openid"

    # -- scripting ----------------------------------------------------------------------

    def fail(self, method: str, status: int, times: int = 1) -> None:
        self._failures[method].extend([status] * times)

    def heal(self) -> None:
        """Forget every failure still to come: the connector is well again."""
        self._failures.clear()

    def stall_keys(self) -> None:
        self._stall = asyncio.Event()

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status < 300]

    # -- the connector -------------------------------------------------------------------

    def _failure(self, method: str) -> int | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    async def _answer(
        self, method: str, request: web.Request, answer: dict[str, Any], activity_id: str = ""
    ) -> web.Response:
        body = await request.json() if request.body_exists else {}
        conversation = request.match_info.get("conv", "")
        status = self._failure(method)
        retry_after = "1"
        if status is None and self.limits is not None:
            key = conversation.split(";")[0] or _channel_of(body)
            wait = self.limits.refuse(method, key)
            if wait is not None:
                status, retry_after = 429, str(wait)
        if status == 0:  # never answer (until the fake closes)
            self._stall = self._stall or asyncio.Event()
            await self._stall.wait()
            status = 503
        query = dict(request.query)
        if status == MALFORMED:  # done, but the answer was lost on the way back
            self.calls.append(Call(method, conversation, body, 200, activity_id, query))
            return web.Response(
                text=json.dumps(answer)[:7], status=200, content_type="application/json"
            )
        if status is not None:
            self.calls.append(Call(method, conversation, body, status, activity_id, query))
            headers = {"Retry-After": retry_after} if status == 429 else {}
            return web.json_response(
                {"error": {"code": "Throttled", "message": "no"}}, status=status, headers=headers
            )
        self.calls.append(Call(method, conversation, body, 200, activity_id, query))
        return web.json_response(answer)

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        new = str(next(self._ids))
        if body.get("isGroup"):
            channel = body["channelData"]["channel"]["id"]
            answer = {"id": f"{channel};messageid={new}", "activityId": new}
        else:
            member = body["members"][0]["id"]
            if member in self.blocked:
                refused = {"error": {"code": "ConversationBlockedByUser", "message": "blocked"}}
                return web.json_response(refused, status=403)
            answer = {"id": f"a:1dm-{member}", "activityId": ""}
        return await self._answer("create", request, answer, new)

    async def _send(self, request: web.Request) -> web.Response:
        new = str(next(self._ids))
        return await self._answer("send", request, {"id": new}, new)

    async def _reply(self, request: web.Request) -> web.Response:
        # botbuilder's proactive sends reply to the continuation's made-up id; Teams posts
        # them in the conversation all the same, so they count as sends.
        new = str(next(self._ids))
        return await self._answer("send", request, {"id": new}, new)

    async def _update(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        return await self._answer("update", request, {"id": ident}, ident)

    async def _delete(self, request: web.Request) -> web.Response:
        return await self._answer("delete", request, {}, request.match_info["id"])

    async def _member(self, request: web.Request) -> web.Response:
        member = self.members.get(request.match_info["member"])
        if member is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return await self._answer("member", request, member)

    async def _team_channels(self, request: web.Request) -> web.Response:
        listing = []
        for cid, name in self.channels.items():
            kind = self.kinds.get(cid, "standard")
            listing.append({"id": cid, "name": name} | ({"membershipType": kind} if kind else {}))
        return await self._answer("channels", request, {"conversations": listing})

    async def _paged_members(self, request: web.Request) -> web.Response:
        members = self.channel_members.get(request.match_info["conv"])
        if members is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        start = int(request.query.get("continuationToken", "at:0").removeprefix("at:"))
        end = start + self.page_size
        page: dict[str, Any] = {"members": members[start:end]}
        if end < len(members):
            page["continuationToken"] = f"at:{end}"
        return await self._answer("pagedmembers", request, page)

    async def _openid(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"issuer": "https://api.botframework.com", "jwks_uri": self.url + "keys"}
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.key_fetches += 1
        if self._stall is not None:
            await self._stall.wait()
        return web.Response(text=json.dumps({"keys": self.jwks}), content_type="application/json")


def _channel_of(body: dict[str, Any]) -> str:
    channel = (body.get("channelData") or {}).get("channel") or {}
    return str(channel.get("id") or "")
