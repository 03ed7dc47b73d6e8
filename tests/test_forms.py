"""Playground forms never lose work: a problem keeps the dialog open with the person's values;
an abandoned form does not reopen on the next visit; a thank-you shows where they are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CORE, create_app
from bot.interaction import Interaction
from bot.model import ChannelRef, Form, FormSubmitted, LongText, Origin, OutgoingMessage, UserRef
from bot.settings import Settings

NORTH = ChannelRef("local", "north", "", "north")
SAM = UserRef("local", "sam")
FORM = Form("note", "A note", (LongText("thoughts", "Thoughts"),), thanks="Thank you, noted.")


@pytest.fixture
async def client(db_path: Path) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as c:
        yield c


async def _state(client: TestClient, page: str, channel: str = "north") -> dict[str, Any]:
    r = await client.get(f"/api/playground/state?as=sam&channel={channel}&page={page}")
    assert r.status == 200
    return await r.json()


async def _submit(client: TestClient, token: str, text: str) -> tuple[int, dict[str, Any]]:
    r = await client.post(
        f"/api/playground/forms/{token}", json={"as": "sam", "values": {"thoughts": text}}
    )
    return r.status, await r.json()


async def test_a_problem_keeps_the_form_open_and_nothing_is_kept(client: TestClient) -> None:
    core = client.server.app[CORE]  # type: ignore[union-attr]
    got: list[FormSubmitted] = []

    async def check(event: FormSubmitted) -> dict[str, str]:
        return {} if len(event.value("thoughts")) > 5 else {"thoughts": "Say a little more."}

    async def handler(ix: Interaction, event: FormSubmitted) -> None:
        got.append(event)

    core.registry.form("note", handler, check=check)
    await core.chat.open_form(Origin(SAM, NORTH), FORM)
    [form] = (await _state(client, "page-1"))["forms"]
    assert await _submit(client, form["token"], "Hm") == (
        422,
        {"ok": False, "errors": {"thoughts": "Say a little more."}},
    )
    assert [f["token"] for f in (await _state(client, "page-1"))["forms"]] == [form["token"]]
    status, answer = await _submit(client, form["token"], "It felt like a safe space.")
    assert status == 200 and answer == {"ok": True, "thanks": "Thank you, noted."}
    async with asyncio.timeout(5):
        while not got:
            await asyncio.sleep(0.02)
    state = await _state(client, "page-1")
    assert state["forms"] == []
    # The thank-you is in the channel they were in, visible to them only, not in a thread.
    [thanks] = [m for m in state["messages"] if "Thank you, noted." in m["html"]]
    assert thanks["private"] and not thanks.get("thread_root")
    r = await client.get("/api/playground/state?as=priya&channel=north")
    assert all("Thank you, noted." not in m["html"] for m in (await r.json())["messages"])


async def test_an_abandoned_form_does_not_reopen_on_the_next_visit(client: TestClient) -> None:
    core = client.server.app[CORE]  # type: ignore[union-attr]
    await core.chat.open_form(Origin(SAM, NORTH), FORM)
    assert len((await _state(client, "first-visit"))["forms"]) == 1
    assert len((await _state(client, "first-visit"))["forms"]) == 1  # same page: still open
    assert (await _state(client, "next-visit"))["forms"] == []  # a reload: it was left
    assert (await _state(client, "first-visit"))["forms"] == []  # and it is gone for good


async def test_nobody_closes_or_presses_what_is_someone_elses(client: TestClient) -> None:
    core = client.server.app[CORE]  # type: ignore[union-attr]
    await core.chat.open_form(Origin(SAM, NORTH), FORM)
    [form] = (await _state(client, "page-1"))["forms"]
    r = await client.post(f"/api/playground/forms/{form['token']}/close", json={"as": "priya"})
    assert r.status == 400
    assert len((await _state(client, "page-1"))["forms"]) == 1  # still open for Sam
    # A button on a message in Alex's direct conversation, and on an answer only Priya sees.
    alex_dm = await core.chat.send_direct(
        UserRef("local", "alex"), OutgoingMessage.of("for Alex only")
    )
    await core.chat.respond(
        Origin(UserRef("local", "priya"), NORTH), OutgoingMessage.of("for Priya only")
    )
    state = await client.get("/api/playground/state?as=priya&channel=north")
    [note] = [m for m in (await state.json())["messages"] if "for Priya only" in m["html"]]
    for message_id in (alex_dm.id, note["id"]):
        r = await client.post(
            "/api/playground/actions",
            json={"as": "sam", "message_id": message_id, "action_id": "prompt.suggest"},
        )
        assert r.status == 400
