"""Anonymous feedback in the playground, through HTTP and the whole core, proved from the
bytes: several people answer a round; afterwards copbot's database file, its WAL and every
log line at DEBUG hold none of their ids or names, every answer is there once, a second
answer is refused and absent, and results show once the round closes with k, never while it is open.

(On Slack: tests/slack/test_feedback_proof.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.local import LocalAdapter
from adapters.local.world import PERSONAS, Persona
from bot.app import CORE, create_app, playground_path
from bot.clock import SystemClock
from bot.feedback_messages import ANSWER
from bot.model import Role
from bot.services.feedback_answers import ALREADY
from bot.settings import Settings
from storage import sqlite
from storage.database import Database
from storage.migrations import PLAYGROUND_MIGRATIONS
from storage.playground import SqlitePlaygroundRepository
from tests.test_anonymity import stored_bytes

NOOR = Persona("noor", "Noor Hassan", "Employment specialist", Role.STAFF)
TOMASZ = Persona("tomasz", "Tomasz Nowak", "Employment specialist", Role.STAFF)
ANSWERERS = {"sam": "Sam Okafor", "noor": "Noor Hassan", "tomasz": "Tomasz Nowak"}


def words(who: str) -> str:
    return f"hearing others talk about privilege, said the {len(who)}-letter voice"


class Client:
    def __init__(self, client: TestClient) -> None:
        self.http = client
        self.core = client.server.app[CORE]  # type: ignore[union-attr]

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = await self.http.post(f"/api/playground{path}", json=body)
        return r.status, await r.json()

    async def state(self, who: str, channel: str = "north") -> dict[str, Any]:
        r = await self.http.get(f"/api/playground/state?as={who}&channel={channel}")
        assert r.status == 200
        return await r.json()

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (result := await check()):
                await asyncio.sleep(0.02)
            return result

    async def texts(self, who: str) -> list[str]:
        state = await self.state(who)
        return [re.sub(r"<[^>]+>", " ", m["html"]) for m in state["messages"]]

    async def press(self, who: str, message_id: str, round_id: int) -> None:
        body = {"as": who, "message_id": message_id, "action_id": ANSWER, "value": str(round_id)}
        status, _ = await self.post("/actions", body)
        assert status == 200

    async def form(self, who: str, known: set[str]) -> str:
        """The token of a form newly opened for ``who``."""

        async def fresh() -> list[str]:
            return [f["token"] for f in (await self.state(who))["forms"] if f["token"] not in known]

        [token] = await self.until(fresh)
        known.add(token)
        return token

    async def submit(self, who: str, token: str, values: dict[str, str]) -> tuple[int, Any]:
        return await self.post(f"/forms/{token}", {"as": who, "values": values})


def kept(db_path: Path) -> list[dict[str, str]]:
    conn = sqlite.connect(db_path)
    try:
        rows = conn.execute("select answers from feedback_answers").fetchall()
        return [json.loads(r[0]) for r in rows]
    finally:
        conn.close()


def answers(who: str) -> dict[str, str]:
    return {"useful": "5", "impactful": words(who), "change": "a longer session", "else": ""}


@pytest.fixture
async def pg(db_path: Path) -> AsyncIterator[Client]:
    store_db = Database.open(playground_path(db_path), migrations=PLAYGROUND_MIGRATIONS)
    adapter = LocalAdapter(
        SqlitePlaygroundRepository(store_db), SystemClock(), personas=(*PERSONAS, NOOR, TOMASZ)
    )
    app = create_app(Settings(db_path=db_path), adapters=[adapter])
    try:
        async with TestClient(TestServer(app)) as client:
            yield Client(client)
    finally:
        store_db.close()


async def test_playground_feedback_leaves_no_trace_of_who_answered(
    pg: Client, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, _ = await pg.post(
        "/messages",
        {"as": "priya", "channel": "north", "text": '/cop feedback open "Workshop 3" min 3'},
    )
    assert status == 200

    async def announced() -> list[tuple[str, int]]:
        found = re.compile(rf'data-action="{re.escape(ANSWER)}"[^>]*data-value="(\d+)"')
        return [
            (m["id"], int(v.group(1)))
            for m in (await pg.state("sam"))["messages"]
            if (v := found.search(m["html"]))
        ]

    [(message_id, round_id)] = await pg.until(announced)
    tokens: set[str] = set()

    # Sam opens two forms before sending either: the second is refused in the form.
    await pg.press("sam", message_id, round_id)
    first = await pg.form("sam", tokens)
    await pg.press("sam", message_id, round_id)
    second = await pg.form("sam", tokens)
    assert (await pg.submit("sam", first, answers("sam")))[0] == 200
    await pg.until(lambda: _at_least(db_path, 1))
    status, refused = await pg.submit("sam", second, answers("sam") | {"change": "SECOND"})
    assert status == 422 and refused["errors"] == {"useful": ALREADY}

    for n, who in enumerate(["noor", "tomasz"], start=2):
        await pg.press(who, message_id, round_id)
        status, done = await pg.submit(who, await pg.form(who, tokens), answers(who))
        assert status == 200 and "nothing to say it was yours" in done["thanks"]
        await pg.until(lambda n=n: _at_least(db_path, n))
        results = f"/cop feedback results {round_id}"
        await pg.post("/messages", {"as": "priya", "channel": "north", "text": results})
        # While the round is open, the count only, at k - 1 and at k alike.
        await pg.until(lambda n=n: _said(pg, "priya", f"({n} so far)"))
        assert not [t for t in await pg.texts("priya") if words("noor") in t]

    await pg.press("sam", message_id, round_id)  # a third try, by the button
    await pg.until(lambda: _said(pg, "sam", "You have already answered"))
    # Closed with k answers: now shown.
    await pg.post(
        "/messages", {"as": "priya", "channel": "north", "text": f"/cop feedback close {round_id}"}
    )
    await pg.post(
        "/messages",
        {"as": "priya", "channel": "north", "text": f"/cop feedback results {round_id}"},
    )
    await pg.until(lambda: _said(pg, "priya", words("noor")))

    stored = kept(db_path)
    assert sorted(a["impactful"] for a in stored) == sorted(words(w) for w in ANSWERERS)
    assert not [a for a in stored if a["change"] == "SECOND"]
    await pg.core.db.checkpoint()
    data = stored_bytes(db_path)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for who, name in ANSWERERS.items():
        assert words(who).encode() in data
        for trace in (f"local:{who}", name):
            assert trace.encode() not in data, trace
            assert trace not in logged, trace
        assert words(who) not in logged


async def _at_least(db_path: Path, n: int) -> bool:
    return len(kept(db_path)) >= n


async def _said(pg: Client, who: str, text: str) -> bool:
    return any(text in t for t in await pg.texts(who))
