"""The playground's API under hostile input and from other sites: foreign hosts refused,
text that isn't text refused, edits held to the posting limit, and never a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.local.guard import Served
from bot.app import create_app, playground_path
from bot.model import MessageEdited, MessagePosted
from bot.settings import Settings
from storage import sqlite
from tests.test_playground import Playground

API = "/api/playground"


@dataclass
class Site:
    runner: asyncio.Runner
    pg: Playground
    db_path: Path

    def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async def go() -> tuple[int, Any]:
            async with self.pg.client.request(method, path, data=body, headers=headers) as r:
                raw = await r.read()
                try:
                    return r.status, json.loads(raw)
                except ValueError:
                    return r.status, raw

        return self.runner.run(go())

    def post(self, path: str, body: object, **headers: str) -> tuple[int, Any]:
        return self.send(
            "POST",
            API + path,
            json.dumps(body).encode(),
            {"Content-Type": "application/json"} | headers,
        )

    @property
    def port(self) -> int:
        return int(self.pg.client.port)  # type: ignore[arg-type]

    def stored(self) -> list[tuple[Any, ...]]:
        conn = sqlite.connect(playground_path(self.db_path))
        try:
            return conn.execute(
                "select author, typeof(body), length(body), channel, typeof(thread_root)"
                " from playground_messages where author != 'local:copbot'"
            ).fetchall()
        finally:
            conn.close()


@pytest.fixture
def site(db_path: Path) -> Iterator[Site]:
    # One loop and server for every example: hypothesis calls the tests synchronously.
    with asyncio.Runner() as runner:

        async def start() -> Playground:
            client = TestClient(TestServer(create_app(Settings(db_path=db_path))))
            await client.start_server()
            pg = Playground(client)
            await pg.settled()
            return pg

        pg = runner.run(start())
        yield Site(runner, pg, db_path)
        runner.run(pg.client.close())


def test_a_page_on_a_rebound_host_is_refused_even_with_a_matching_origin(site: Site) -> None:
    evil = f"evil.example:{site.port}"
    attack = {"as": "alex", "channel": "general", "text": "/cop role grant admin local:mallory"}
    status, answer = site.post("/messages", attack, Host=evil, Origin=f"http://{evil}")
    assert status == 421 and "its own address" in answer["error"]
    status, _ = site.send("GET", f"{API}/state?as=alex", headers={"Host": evil})
    assert status == 421
    assert site.pg.events == [] and site.stored() == []
    # Its own addresses are fine: the one it was reached at, and localhost on this machine.
    for host in (f"127.0.0.1:{site.port}", f"localhost:{site.port}"):
        status, _ = site.post("/messages", {"as": "sam", "channel": "general", "text": "hi"},
                              Host=host, Origin=f"http://{host}")  # fmt: skip
        assert status == 200


def test_closing_a_form_is_guarded_like_every_other_change(site: Site) -> None:
    status, _ = site.post("/forms/anything/close", {}, Origin="https://evil.example")
    assert status == 403
    status, _ = site.send(
        "POST", f"{API}/forms/anything/close", b"{}", {"Content-Type": "text/plain"}
    )
    assert status == 415
    status, _ = site.post("/forms/anything/close", {}, Host=f"evil.example:{site.port}")
    assert status == 421
    assert site.post("/forms/anything/close", {"as": "sam"})[0] == 200


def test_public_url_bound_address_and_this_machine_are_the_only_hosts() -> None:
    served = Served("https://copbot.example.nhs.uk", ("0.0.0.0", 3978))
    assert served.accepts("copbot.example.nhs.uk")
    assert served.accepts("COPBOT.example.nhs.uk:443")
    assert served.accepts("0.0.0.0:3978")
    assert not served.accepts("copbot.example.nhs.uk.evil.example")
    assert not served.accepts("evil.example:3978")
    assert not served.accepts("localhost.evil.example:3978")
    assert not served.accepts("127.0.0.1.evil.example")
    # This machine's own names, at any port: no other site controls them, and in a
    # container (bound to its own address, 172.17.0.2) the browser's port is the host's.
    in_docker = Served("", ("172.17.0.2", 3978))
    for host in ("localhost:8080", "127.0.0.1:3978", "[::1]:8080", "localhost"):
        assert in_docker.accepts(host), host
    assert not in_docker.accepts("localhost:http")
    assert Served("", ("::1", 3978)).accepts("[::1]:3978")


@pytest.mark.parametrize(
    "text", [42, 4.5, True, {"a": 1}, ["hi"], "\ud800 lone surrogate"], ids=repr
)
def test_text_that_is_not_text_is_refused_and_nothing_is_kept(site: Site, text: object) -> None:
    status, answer = site.post("/messages", {"as": "sam", "channel": "general", "text": text})
    assert status == 400 and "as text" in answer["error"]
    assert site.stored() == [] and site.pg.events == []


def test_an_edit_is_held_to_the_posting_limit(site: Site) -> None:
    status, mine = site.post("/messages", {"as": "sam", "channel": "general", "text": "short"})
    assert status == 200
    for text in ("x" * 4001, "x" * 900_000, 7):
        status, answer = site.post(f"/messages/{mine['id']}/edit", {"as": "sam", "text": text})
        assert status in (400, 413), answer
        if status == 400:
            assert "4,000 characters" in answer["error"] or "as text" in answer["error"]
    assert site.stored() == [("local:sam", "text", 5, "general", "null")]
    assert not [e for e in site.pg.events if isinstance(e, MessageEdited)]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
_KEYS = ["as", "channel", "text", "thread_root", "message_id", "action_id", "value", "values"]
_BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "as": st.sampled_from(["sam", "priya", "alex"]) | _JSON,
            "channel": st.sampled_from(["general", "@sam", "north"]) | _JSON,
            **dict.fromkeys(_KEYS[2:], _JSON),
        },
    ).map(lambda d: json.dumps(d).encode()),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)
_PATHS = st.sampled_from(
    ["/messages", "/messages/{id}/edit", "/messages/{id}/delete", "/actions",
     "/messages/{id}/dismiss", "/forms/{id}", "/forms/{id}/close", "/state", "/events"]
)  # fmt: skip


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"]),
    path=_PATHS,
    segment=st.text(min_size=1, max_size=12),
    body=_BODIES,
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=bogus",
            "application/json; charset=utf-32",
            "text/plain",
            "",
        ]
    ),
)
def test_no_playground_request_gets_a_500_or_stores_anything_malformed(
    site: Site, method: str, path: str, segment: str, body: bytes, content_type: str
) -> None:
    from urllib.parse import quote

    if path == "/events":
        return  # a stream that stays open; its input is a query that is never parsed
    url = API + path.replace("{id}", quote(segment, safe=""))
    headers = {"Content-Type": content_type} if content_type else {}
    status, _ = site.send(method, url, body, headers)
    assert status < 500
    for author, kind, length, channel, root in site.stored():
        assert author in ("local:sam", "local:priya", "local:alex")
        assert kind == "text" and 0 < length <= 4000
        assert channel in (
            "general",
            "north",
            "midlands",
            "london",
            "south",
            "@sam",
            "@priya",
            "@alex",
        )
        assert root in ("null", "text")
    assert all(
        isinstance(e.text, str) and len(e.text) <= 4000
        for e in site.pg.events
        if isinstance(e, MessagePosted | MessageEdited)
    )


def test_the_console_is_refused_to_a_rebound_host_while_the_playground_is_on(site: Site) -> None:
    """Anyone may act as anyone at the playground's sign-in page: a page on a rebound host
    must reach none of the console, or it could sign in as the admin and export."""
    evil = f"evil.example:{site.port}"
    for method, path in [
        ("GET", "/console/playground"),
        ("POST", "/console/playground"),
        ("GET", "/console"),
        ("GET", "/console/archive"),
        ("POST", "/console/archive/export"),
        ("GET", "/console/sign-in"),
        ("GET", "/console/no-such-page"),
    ]:
        status, _ = site.send(
            method,
            path,
            b"persona=local%3Aalex",
            {
                "Host": evil,
                "Origin": f"http://{evil}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert status == 421, (method, path)
    # At its own address the sign-in page is there, as before.
    status, page = site.send(
        "GET", "/console/playground", headers={"Host": f"127.0.0.1:{site.port}"}
    )
    assert status == 200 and b"token" in page
