"""The playground's server side of the first hour: a closed tab is no error, private answers
can be dismissed by their one reader, buttons are named after their message, a favicon."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.local.render import SUBJECT_LENGTH, message_html, named, subject, summary
from bot.app import create_app
from bot.model import Button, Buttons, Context, OutgoingMessage, Text
from bot.settings import Settings
from tests.support.inprocess import STOPPED, post_message, recording, serving_in_process
from tests.test_playground import Playground


@pytest.fixture
async def pg(db_path: Path) -> AsyncIterator[Playground]:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as client:
        pg = Playground(client)
        await pg.settled()
        yield pg


def test_a_closed_event_stream_ends_quietly(db_path: Path) -> None:
    """As `copbot serve` runs it (aiohttp's test server would cancel the handler instead)."""
    with recording() as records, serving_in_process(db_path) as url:
        address = urlsplit(url).netloc
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as tab:
            tab.sendall(f"GET /api/playground/events HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
            received = b""
            while b"data:" not in received:  # open, and waiting for a change
                received += tab.recv(4096)
            assert received.startswith(b"HTTP/1.1 200")
        # The tab is closed. Each change wakes its stream, which finds the page gone.
        for n in range(50):
            post_message(url, f"anyone there? {n}")
            with records.arrived:
                if records.arrived.wait_for(lambda: records.count(STOPPED) or records.loud(), 0.5):
                    break
        assert records.loud() == []
        assert records.count(STOPPED) == 1


async def _private(pg: Playground, who: str) -> list[dict[str, Any]]:
    return [m for m in (await pg.state(who))["messages"] if m["private"]]


async def test_a_private_answer_is_dismissed_by_its_reader_only(pg: Playground) -> None:
    await pg.say("/cop help", "sam")
    await pg.until(lambda: _private(pg, "sam"))
    (answer,) = await _private(pg, "sam")
    public = (await pg.say("a public message", "sam"))["id"]

    # Not someone else's private answer, not a public message, not a message that isn't there.
    for who, message_id in (("priya", answer["id"]), ("sam", public), ("sam", "m9999")):
        status, body = await pg.post(f"/messages/{message_id}/dismiss", {"as": who})
        assert status == 400 and body == {"error": "That message isn't there any more."}
    assert [m["id"] for m in await _private(pg, "sam")] == [answer["id"]]
    assert public in [m["id"] for m in (await pg.state("sam"))["messages"]]

    status, body = await pg.post(f"/messages/{answer['id']}/dismiss", {"as": "sam"})
    assert (status, body) == (200, {"ok": True})
    assert await _private(pg, "sam") == []
    status, _ = await pg.post(f"/messages/{answer['id']}/dismiss", {"as": "sam"})
    assert status == 400  # once is enough


async def test_the_favicon_is_served_and_linked(pg: Playground) -> None:
    page = await (await pg.client.get("/")).text()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = await pg.client.get("/static/favicon.svg")
    assert icon.status == 200 and icon.content_type == "image/svg+xml"
    assert (await icon.text()).startswith("<svg")


async def test_messages_carry_a_subject_for_naming_their_buttons(pg: Playground) -> None:
    await pg.say("/cop prompt discomfort", "priya")
    prompt = await pg.until(lambda: _prompt(pg))
    assert prompt["subject"] == "Where the discomfort sits"
    assert 'aria-label="Suggest a prompt: &#x27;Where the discomfort sits&#x27;"' in prompt["html"]
    mine = await pg.say("**Plain** words\nand a second line", "sam", channel="london")
    (message,) = [
        m for m in (await pg.state(channel="london"))["messages"] if m["id"] == mine["id"]
    ]
    assert message["subject"] == "Plain words"


async def _prompt(pg: Playground) -> dict[str, Any] | None:
    for m in (await pg.state(channel="general"))["messages"]:
        if m["bot"] and "Reply in this thread" in m["html"]:
            return m
    return None


def test_a_subject_is_the_first_text_as_plain_words() -> None:
    message = OutgoingMessage(
        (Context("Content note"), Text("**Title** & <more>\nbody"), Text("second"))
    )
    assert subject(message) == "Title & <more>"
    html = message_html(
        OutgoingMessage((Text('Hi "you" <b>'), Buttons((Button("a", "Go"),)))), "m1"
    )
    assert 'aria-label="Go: &#x27;Hi &quot;you&quot; &lt;b&gt;&#x27;"' in html
    assert named("Go", "") == "Go" and named("Go", "Go") == "Go"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_a_summary_is_one_short_plain_line(text: str) -> None:
    out = summary(text)
    assert len(out) <= SUBJECT_LENGTH
    assert "\n" not in out and "\r" not in out
    assert "<" not in out or "<" in text  # markup's tags are gone, the text's own stay
