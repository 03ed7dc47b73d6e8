"""Export links under hostile input: whatever the address, query or method, never a 500,
never a traceback in the log, and a genuine link still works."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot.settings import Settings
from tests.support.harness import ALEX, Harness

PUBLIC = "http://copbot.test"


@dataclass
class Links:
    runner: asyncio.Runner
    client: TestClient
    harness: Harness
    token: str  # a genuine link's last path segment

    def status(self, method: str, segment: str, query: dict[str, str] | None = None) -> int:
        url = URL("/export/" + quote(segment, safe=""), encoded=True).with_query(query or {})

        async def go() -> int:
            async with self.client.request(method, url) as r:
                await r.read()
                return r.status

        return self.runner.run(go())

    def page(self, method: str, segment: str) -> tuple[int, str, str]:
        """The status, content type and text of what a browser is shown."""

        async def go() -> tuple[int, str, str]:
            async with self.client.request(method, "/export/" + quote(segment, safe="")) as r:
                return r.status, r.content_type, await r.text()

        return self.runner.run(go())

    def response(self, method: str, segment: str) -> tuple[int, dict[str, str], str]:
        async def go() -> tuple[int, dict[str, str], str]:
            async with self.client.request(method, "/export/" + quote(segment, safe="")) as r:
                return r.status, dict(r.headers), await r.text()

        return self.runner.run(go())


@pytest.fixture
def links(db_path: Path) -> Iterator[Links]:
    # One loop and server for every example: hypothesis calls the test synchronously.
    with asyncio.Runner() as runner:
        settings_ = Settings(db_path=db_path, admins=frozenset({ALEX.identity}), public_url=PUBLIC)
        h = Harness.open(db_path, settings_)

        async def start() -> tuple[TestClient, str]:
            await h.command("export jsonl", ALEX)
            [dm] = h.adapter.of_kind("direct")
            url = dm.text.split("](", 1)[1].split(")", 1)[0]
            app = web.Application()
            app.router.add_routes(h.core.registry.routes)
            client = TestClient(TestServer(app))
            await client.start_server()
            return client, url.rsplit("/", 1)[1]

        client, token = runner.run(start())
        yield Links(runner, client, h, token)
        runner.run(client.close())
        h.close()


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    "segment",
    [
        "abc.²³.sig",  # digits isdigit() accepts and int() refuses
        "abc.1.¹" + "A" * 42,
        "abc.1700000000.sïgnature",  # compare_digest refuses non-ASCII text
        "abc." + "9" * 5000 + ".sig",  # past Python's int-conversion limit
        "abc." + "9" * 12 + "." + "A" * 43,  # a year datetime can't hold
        "abc.1700000000." + "A" * 43 + "\n",
        "",
        "...",
    ],
)
def test_malformed_links_are_not_found_in_one_short_line(
    links: Links, segment: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for method in ("GET", "POST"):
        # An empty segment is another address (the folder), which exists for nobody.
        assert links.status(method, segment) in (404, 405)
    _no_traceback(caplog)
    ours = [r for r in caplog.records if r.name != "aiohttp.access"]  # serve turns that off
    assert len(ours) <= 2  # a line for each request, at most
    assert not any(segment and segment in r.getMessage() for r in ours)


def _mutations(token: str) -> st.SearchStrategy[str]:
    cut = st.integers(0, len(token))
    return st.one_of(
        st.tuples(cut, st.text(max_size=8)).map(lambda t: token[: t[0]] + t[1] + token[t[0] :]),
        st.tuples(cut, cut).map(lambda t: token[: min(t)] + token[max(t) :]),
        st.tuples(cut, st.text(min_size=1, max_size=1)).map(
            lambda t: token[: t[0]] + t[1] + token[t[0] + 1 :]
        ),
    )


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_no_export_address_query_or_method_gets_a_500(
    links: Links, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    segment = data.draw(
        st.one_of(
            st.text(max_size=80),
            _mutations(links.token),
            st.from_regex(r"\A[A-Za-z0-9_-]{0,20}\.[0-9²³¹٣]{0,6000}\.[^/]{0,60}\Z"),
        ),
        label="segment",
    )
    method = data.draw(
        st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]), label="method"
    )
    query = data.draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3))
    assert links.status(method, segment, query) < 500
    _no_traceback(caplog)


def test_the_genuine_link_still_downloads_once(links: Links) -> None:
    assert links.status("GET", links.token) == 200
    assert links.status("POST", links.token) == 200
    assert links.status("POST", links.token) == 410


def test_the_link_s_page_says_when_it_can_no_longer_be_used(links: Links) -> None:
    """Opened again after its download, the page says so, instead of "ready" and a button
    that can only fail; every refusal is a page a phone shows at its own width."""
    status, kind, page = links.page("GET", links.token)
    assert (status, kind) == (200, "text/html") and "is ready" in page
    assert links.status("POST", links.token) == 200
    for method in ("GET", "POST"):
        status, kind, page = links.page(method, links.token)
        assert (status, kind) == (410, "text/html"), method
        assert "This link has been used already." in page and "is ready" not in page
        assert "<form" not in page
    status, kind, missing = links.page("GET", "not-a-link")
    assert (status, kind) == (404, "text/html") and "no export at this address" in missing
    for shown in (page, missing):
        assert "<main>" in shown and 'name="viewport"' in shown
        assert '<link rel="icon" href="/console/static/favicon.svg"' in shown


def test_every_export_page_and_the_download_carry_the_security_headers(links: Links) -> None:
    """The pages name a one-time link in their address: no other site may frame them (to
    press Download for someone), and none is kept in a cache; no style runs inline."""
    seen = [links.response("GET", links.token), links.response("POST", links.token)]
    seen += [links.response(m, links.token) for m in ("GET", "POST")]  # used
    seen.append(links.response("GET", "not-a-link"))
    link_id, _, signature = links.token.split(".")
    seen.append(links.response("GET", f"{link_id}.1.{signature}"))  # its expiry altered
    assert [status for status, _, _ in seen] == [200, 200, 410, 410, 404, 404]
    for status, headers, body in seen:
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, status
        assert "unsafe-inline" not in csp and "<style" not in body
        assert headers.get("X-Content-Type-Options") == "nosniff"
        assert headers.get("X-Frame-Options") == "DENY"
        assert headers.get("Referrer-Policy") == "strict-origin"  # the address holds the link
        assert headers.get("Cache-Control") == "no-store"
    page = seen[0][2]
    assert '<link rel="stylesheet" href="/console/static/console.css">' in page
