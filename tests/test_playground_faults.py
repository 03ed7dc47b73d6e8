"""A fault of copbot's while someone uses the playground (its database can't be written,
say) is answered in words the page shows, as every other refusal is: what happened, that
nothing changed, and what to do; never aiohttp's bare "500", a traceback or SQLite's text.
And nothing changed: a message copbot couldn't take in isn't left on the page unkept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.commands import Args
from bot.interaction import Interaction
from bot.model import Form, ShortText
from bot.records import ArchiveFilter
from bot.search_query import parse_terms
from bot.settings import Settings
from tests.support.faults import REFUSALS, Faults, disk_full, read_only
from tests.test_playground import Playground, _public_bot_messages, texts

ACCEPT = "SqliteInboxRepository.accept"  # copbot taking in what the page sent
SORRY = "so nothing was changed. Please try again in a minute"
REASONS = REFUSALS


@pytest.fixture
async def pg(db_path: Path, faults: Faults) -> AsyncIterator[Playground]:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path), gate=faults))) as c:
        pg = Playground(c)
        await pg.settled()
        yield pg


def worded(status: int, answer: dict[str, Any], reason: str) -> None:
    assert status == 503, answer
    assert answer["error"].startswith("copbot couldn't save that, because its database")
    assert reason in answer["error"] and SORRY in answer["error"]
    for leak in ("database or disk", "readonly database", "is locked", "Traceback", "sqlite"):
        assert leak not in answer["error"]


async def posted_after(pg: Playground, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = await pg.client.post("/api/playground/messages", json=body)
    assert r.content_type == "application/json"  # the page reads "error" from it
    assert r.headers["Cache-Control"] == "no-store"
    return r.status, await r.json()


@pytest.mark.parametrize("fault", sorted(REASONS))
@pytest.mark.parametrize("text", ["A thought on language", "/cop help", "@copbot help"])
async def test_a_message_copbot_cant_take_in_is_refused_in_words_and_not_left_shown(
    pg: Playground, faults: Faults, fault: str, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    error, reason = REASONS[fault]
    before = await pg.state()
    faults.fail(ACCEPT, error)
    status, answer = await posted_after(pg, {"as": "sam", "channel": "general", "text": text})
    worded(status, answer, reason)
    assert (await pg.state())["messages"] == before["messages"]  # not shown, unkept
    assert pg.events == []
    assert "disk is full" not in caplog.text and text not in caplog.text
    # Sent again once the file takes writes: taken, once.
    assert (await pg.say(text))["ok"] is True
    assert texts(await pg.state()).count(text) == (0 if text == "/cop help" else 1)


async def test_an_edit_or_a_deletion_copbot_cant_take_in_changes_nothing(
    pg: Playground, faults: Faults
) -> None:
    mine = await pg.say("A first thought")
    await pg.until(lambda: _events(pg, 1))
    faults.fail(ACCEPT, disk_full)
    status, answer = await pg.post(f"/messages/{mine['id']}/edit", {"as": "sam", "text": "Later"})
    worded(status, answer, REASONS["disk full"][1])
    faults.fail(ACCEPT, disk_full)
    status, answer = await pg.post(f"/messages/{mine['id']}/delete", {"as": "sam"})
    worded(status, answer, REASONS["disk full"][1])
    assert "A first thought" in texts(await pg.state())
    assert len(pg.events) == 1  # the post alone


async def test_a_button_or_a_form_copbot_cant_take_in_is_refused_in_words_and_stays(
    pg: Playground, faults: Faults
) -> None:
    form = Form("tell", "Tell us", (ShortText("name", "Name"),), thanks="Thank you.")

    async def open_it(ix: Interaction, args: Args) -> None:
        await ix.open_form(form)

    pg.core.registry.verb("openit", "opens a form", open_it)
    pg.core.registry.form("tell", _nothing)
    await pg.say("/cop openit")
    token = (await pg.until(lambda: _form_for(pg)))["forms"][0]["token"]
    faults.fail(ACCEPT, read_only)
    status, answer = await pg.post(f"/forms/{token}", {"as": "sam", "values": {"name": "Sam"}})
    worded(status, answer, REASONS["read-only"][1])
    assert (await pg.state())["forms"] != []  # still open, to send again
    hello = (await pg.state())["messages"][0]
    faults.fail(ACCEPT, read_only)
    status, answer = await pg.post(
        "/actions", {"as": "sam", "message_id": hello["id"], "action_id": "x", "value": "y"}
    )
    worded(status, answer, REASONS["read-only"][1])
    status, answer = await pg.post(f"/forms/{token}", {"as": "sam", "values": {"name": "Sam"}})
    assert (status, answer["thanks"]) == (200, "Thank you.")


async def test_the_playgrounds_own_file_refusing_is_worded_too(
    pg: Playground, faults: Faults
) -> None:
    faults.fail("SqlitePlaygroundRepository.add", disk_full)
    status, answer = await posted_after(pg, {"as": "sam", "channel": "general", "text": "Hi"})
    worded(status, answer, REASONS["disk full"][1])
    assert pg.events == []


async def test_any_other_fault_is_an_apology_in_words(pg: Playground, faults: Faults) -> None:
    faults.fail("SqlitePlaygroundRepository.conversation", lambda: KeyError("Sam's words"))
    r = await pg.client.get("/api/playground/state?as=sam&channel=general")
    answer = await r.json()
    assert r.status == 500
    assert answer["error"].startswith("Something went wrong on copbot's side")
    assert "Sam's words" not in answer["error"]


async def _nothing(ix: Interaction, event: object) -> None:
    return None


async def _events(pg: Playground, n: int) -> bool:
    return len(pg.events) >= n


async def _form_for(pg: Playground) -> dict[str, Any] | None:
    state = await pg.state()
    return state if state["forms"] else None


async def test_a_reply_naming_copbot_and_its_mention_are_taken_in_one_commit(
    pg: Playground, faults: Faults
) -> None:
    """ "@copbot thanks, …" is a reply to keep and a mention to answer: kept together or
    refused together, never the reply kept while the mention is refused (the page then
    says nothing was done, and the reply would be kept again when sent again)."""
    await pg.say("/cop prompt language", "priya", channel="north")
    state = await pg.until(lambda: _public_bot_messages(pg, "north", 2))
    root = state["messages"][-1]["id"]  # a prompt's thread, whose replies are kept
    faults.fail(ACCEPT, disk_full, after=1)  # a second commit, if there were one, fails
    said = "@copbot thanks, that helped"
    body = {"as": "sam", "channel": "north", "text": said, "thread_root": root}
    status, answer = await posted_after(pg, body)
    assert (status, answer.get("ok")) == (200, True), answer
    assert faults.raised == []  # one commit took both
    faults.clear()
    await pg.until(lambda: _kept(pg, said))
    assert await _kept(pg, said) == 1


async def _kept(pg: Playground, text: str) -> int:
    db = pg.core.archive
    return sum(
        1
        for hit in await db.search(parse_terms("helped"), ArchiveFilter(), 10)
        if hit.message.text == text
    )


@pytest.mark.parametrize("change", ["edit", "delete"])
async def test_an_edit_or_deletion_taken_but_not_shown_says_so(
    pg: Playground, faults: Faults, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    """copbot takes an edit or a deletion before the playground's own file changes: when
    only the file refuses, the page is told copbot has it, not that nothing changed."""
    mine = await pg.say("A first thought")
    await pg.until(lambda: _events(pg, 1))
    faults.fail(f"SqlitePlaygroundRepository.{change}", disk_full)
    body = {"as": "sam", "text": "A second thought"}
    status, answer = await pg.post(f"/messages/{mine['id']}/{change}", body)
    assert status == 503, answer
    words = answer["error"]
    assert words.startswith(f"copbot has taken your {'edit' if change == 'edit' else 'deletion'}")
    assert "the disk holding it is full" in words and "Sending it again is harmless" in words
    assert "nothing was changed" not in words
    for leak in ("database or disk", "Traceback", "sqlite", "A second thought"):
        assert leak not in words and leak not in caplog.text
    await pg.until(lambda: _events(pg, 2))  # copbot did take it
    # Sent again once the file takes writes: shown, and copbot still has it once.
    status, answer = await pg.post(f"/messages/{mine['id']}/{change}", body)
    assert (status, answer) == (200, {"ok": True})
    shown = texts(await pg.state())
    assert ("A second thought" in shown) == (change == "edit") and "A first thought" not in shown
