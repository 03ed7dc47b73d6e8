"""Anonymous replies in the playground, through HTTP and the whole core, proved from the
bytes: several people reply anonymously under a prompt; each reply is posted once, after
its delay, even across a restart; afterwards copbot's database file, its WAL and every log
line at DEBUG hold none of their ids or names."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.local import LocalAdapter
from adapters.local.world import PERSONAS
from bot.app import create_app, playground_path
from bot.clock import from_text
from bot.services.anonymous_replies import AUTHOR, POST_JOB, REPLY
from bot.settings import Settings
from storage import sqlite
from storage.database import Database
from storage.migrations import PLAYGROUND_MIGRATIONS
from storage.playground import SqlitePlaygroundRepository
from tests.support.fakes import ManualClock
from tests.test_anonymity import stored_bytes
from tests.test_feedback_proof import NOOR, TOMASZ, Client

WRITERS = {"sam": "Sam Okafor", "noor": "Noor Hassan", "tomasz": "Tomasz Nowak"}


def words(who: str) -> str:
    return f"what I could not say aloud, from the {len(who)}-letter voice, {who[::-1]}"


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite.connect(path)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


@asynccontextmanager
async def playground(db_path: Path, clock: ManualClock) -> AsyncIterator[Client]:
    store_db = Database.open(playground_path(db_path), migrations=PLAYGROUND_MIGRATIONS)
    adapter = LocalAdapter(
        SqlitePlaygroundRepository(store_db), clock, personas=(*PERSONAS, NOOR, TOMASZ)
    )
    app = create_app(Settings(db_path=db_path), clock=clock, adapters=[adapter])
    try:
        async with TestClient(TestServer(app)) as client:
            yield Client(client)
    finally:
        store_db.close()


async def reply_anonymously(
    pg: Client, db_path: Path, who: str, prompt_id: str, known: set[str]
) -> None:
    """Reply as ``who``, and wait until copbot has queued it."""
    queued = len(pending(db_path))
    body = {"as": who, "message_id": prompt_id, "action_id": REPLY, "value": ""}
    assert (await pg.post("/actions", body))[0] == 200
    status, done = await pg.submit(who, await pg.form(who, known), {"text": words(who)})
    assert status == 200 and AUTHOR in done["thanks"] and "within 2 minutes" in done["thanks"]

    async def in_queue() -> bool:
        return len(pending(db_path)) > queued

    await pg.until(in_queue)


def posted(db_path: Path, prompt_id: str) -> list[str]:
    rows = query(
        playground_path(db_path),
        f"select body from playground_messages where thread_root = '{prompt_id}'",
    )
    return [str(r[0]) for r in rows]


def pending(db_path: Path) -> list[datetime]:
    rows = query(
        db_path, f"select due_at from jobs where kind = '{POST_JOB}' and state = 'pending'"
    )
    return sorted(from_text(str(r[0])) for r in rows)


async def test_anonymous_replies_are_posted_once_after_a_delay_and_leave_no_trace(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    tokens: set[str] = set()
    async with playground(db_path, clock) as pg:
        status, _ = await pg.post(
            "/messages", {"as": "priya", "channel": "north", "text": "/cop prompt language"}
        )
        assert status == 200

        async def prompt() -> list[str]:
            found = re.compile(rf'data-action="{re.escape(REPLY)}"[^>]*data-message="([^"]+)"')
            return [
                v.group(1)
                for m in (await pg.state("sam"))["messages"]
                if (v := found.search(m["html"]))
            ]

        [prompt_id] = await pg.until(prompt)
        await reply_anonymously(pg, db_path, "sam", prompt_id, tokens)
        [due] = pending(db_path)
        assert clock.now() <= due <= clock.now() + timedelta(seconds=120)
        assert posted(db_path, prompt_id) == []
        clock.advance(due - clock.now())
        await pg.core.scheduler.tick()
        assert [words("sam") in b for b in posted(db_path, prompt_id)] == [True]

        for who in ("noor", "tomasz"):
            await reply_anonymously(pg, db_path, who, prompt_id, tokens)
        assert len(pending(db_path)) == 2
    # copbot stops with two replies queued, and starts again.
    async with playground(db_path, clock) as pg:
        clock.advance(timedelta(minutes=30))
        await pg.core.scheduler.tick()
        await pg.core.scheduler.tick()
        bodies = posted(db_path, prompt_id)
        for who in WRITERS:
            assert sum(words(who) in b for b in bodies) == 1, who
        assert len(bodies) == 3 and pending(db_path) == []
        kept = query(
            db_path, "select author_id, author_name, text from archive_messages where anonymous"
        )
        assert sorted(kept) == sorted((None, AUTHOR, words(w)) for w in WRITERS)
        await pg.core.db.checkpoint()

    data = stored_bytes(db_path)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for who, name in WRITERS.items():
        assert words(who).encode() in data  # the archive has them (the probe works)
        for trace in (f"local:{who}", name):
            assert trace.encode() not in data, trace
            assert trace not in logged, trace
        assert words(who) not in logged


async def test_a_playground_form_someone_else_opened_or_made_up_is_refused_and_kept_nowhere(
    db_path: Path,
) -> None:
    """The playground keeps a form's context on the server, by token and person: a post to
    another person's form, or to a token copbot never gave, gets a message and changes
    nothing."""
    clock = ManualClock()
    async with playground(db_path, clock) as pg:
        await pg.post(
            "/messages", {"as": "priya", "channel": "north", "text": "/cop prompt language"}
        )

        async def prompt() -> list[str]:
            found = re.compile(rf'data-action="{re.escape(REPLY)}"[^>]*data-message="([^"]+)"')
            return [
                v.group(1)
                for m in (await pg.state("sam"))["messages"]
                if (v := found.search(m["html"]))
            ]

        [prompt_id] = await pg.until(prompt)
        body = {"as": "sam", "message_id": prompt_id, "action_id": REPLY, "value": ""}
        assert (await pg.post("/actions", body))[0] == 200
        sams = await pg.form("sam", set())
        for who, token in (("noor", sams), ("sam", "made-up-token")):
            status, said = await pg.submit(who, token, {"text": "forged words"})
            assert status == 400 and said == {
                "error": "That form has closed. Please open it again."
            }
        clock.advance(timedelta(minutes=30))
        await pg.core.scheduler.tick()
        assert pending(db_path) == [] and posted(db_path, prompt_id) == []
        await pg.core.db.checkpoint()
    assert b"forged words" not in stored_bytes(db_path)
