"""`/cop remove LINK` in the playground, through HTTP and the whole core: a facilitator
removes an anonymous reply by its link (gone from the thread and the archive); staff, a link
to someone's own message, and a link copbot can't read are each refused, changing nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.local import LocalAdapter
from adapters.local.links import message_at
from adapters.local.world import PERSONAS
from bot.app import create_app, playground_path
from bot.clock import SystemClock
from bot.model import MessageRef, Role
from bot.services.anonymous_replies import (
    NO_LINK,
    NOT_ANONYMOUS,
    REMOVED,
    REPLY,
    UNREADABLE,
)
from bot.settings import Settings
from storage.database import Database
from storage.migrations import PLAYGROUND_MIGRATIONS
from storage.playground import SqlitePlaygroundRepository
from tests.support.harness import ALEX, PRIYA, SAM, Harness
from tests.test_anonymous_replies_proof import query
from tests.test_feedback_proof import Client, _said

SAID = "a thought I'd rather not sign"


@pytest.fixture
async def pg(db_path: Path) -> AsyncIterator[Client]:
    store_db = Database.open(playground_path(db_path), migrations=PLAYGROUND_MIGRATIONS)
    adapter = LocalAdapter(SqlitePlaygroundRepository(store_db), SystemClock(), personas=PERSONAS)
    settings = Settings(db_path=db_path, anonymous_delay=timedelta(0))
    app = create_app(settings, adapters=[adapter])
    try:
        async with TestClient(TestServer(app)) as client:
            yield Client(client)
    finally:
        store_db.close()


def archived(db_path: Path) -> list[tuple[object, ...]]:
    return query(db_path, "select message_id, anonymous, text from archive_messages")


def in_thread(db_path: Path, root: str) -> list[str]:
    rows = query(
        playground_path(db_path),
        f"select id from playground_messages where thread_root = '{root}' and not deleted",
    )
    return [str(r[0]) for r in rows]


async def say(pg: Client, who: str, text: str) -> None:
    status, _ = await pg.post("/messages", {"as": who, "channel": "north", "text": text})
    assert status == 200


async def anonymous_reply(pg: Client, db_path: Path) -> tuple[str, str]:
    """A prompt in #north with one anonymous reply under it: (prompt id, reply id)."""
    await say(pg, "priya", "/cop prompt language")
    found = re.compile(rf'data-action="{re.escape(REPLY)}"[^>]*data-message="([^"]+)"')

    async def prompt() -> list[str]:
        state = await pg.state("sam")
        return [v.group(1) for m in state["messages"] if (v := found.search(m["html"]))]

    [root] = await pg.until(prompt)
    body = {"as": "sam", "message_id": root, "action_id": REPLY, "value": ""}
    assert (await pg.post("/actions", body))[0] == 200
    token = await pg.form("sam", set())
    assert (await pg.submit("sam", token, {"text": SAID}))[0] == 200

    async def posted() -> list[str]:
        await pg.core.scheduler.tick()
        return [str(r[0]) for r in archived(db_path) if r[1]]

    [reply] = await pg.until(posted)
    return root, reply


async def link_to(pg: Client, root: str, message: str) -> str:
    ref = MessageRef(pg.core.chat.adapter("local")._channel("north"), message, root)  # type: ignore[attr-defined]
    return await pg.core.chat.permalink(ref)


async def test_a_facilitator_removes_an_anonymous_reply_by_its_link(
    pg: Client, db_path: Path
) -> None:
    root, reply = await anonymous_reply(pg, db_path)
    link = await link_to(pg, root, reply)
    assert message_at(link, ["north"]) == MessageRef(
        pg.core.chat.adapter("local")._channel("north"),  # type: ignore[attr-defined]
        reply,
        root,
    )
    await say(pg, "priya", f"/cop remove {link}")
    assert await pg.until(lambda: _said(pg, "priya", REMOVED))
    assert reply not in in_thread(db_path, root)
    assert not [r for r in archived(db_path) if r[0] == reply]


@pytest.mark.parametrize(
    ("who", "link", "words"),
    [
        ("sam", "REPLY", "is for facilitators and admins"),
        ("priya", "OWN", NOT_ANONYMOUS),
        ("priya", "https://example.org/?channel=north#m1", UNREADABLE),
        ("priya", "http://127.0.0.1:8080/?channel=nowhere#m3", UNREADABLE),
        ("priya", "/?channel=north#not-a-message", UNREADABLE),
        ("priya", "not a link at all", UNREADABLE),
        ("priya", "", NO_LINK),
    ],
    ids=["staff", "not-anonymous", "other-site", "unknown-channel", "no-id", "words", "nothing"],
)
async def test_removing_is_refused_kindly_and_changes_nothing(
    pg: Client, db_path: Path, who: str, link: str, words: str
) -> None:
    root, reply = await anonymous_reply(pg, db_path)
    # Sam replies in the thread under his own name: archived, not anonymous.
    body = {"as": "sam", "channel": "north", "text": "my own words", "thread_root": root}
    assert (await pg.post("/messages", body))[0] == 200
    [own] = await pg.until(lambda: _signed(db_path))
    if link == "REPLY":
        link = await link_to(pg, root, reply)
    elif link == "OWN":
        link = await link_to(pg, root, own)
    before = (in_thread(db_path, root), archived(db_path))
    await say(pg, who, f"/cop remove {link}".strip())
    # The page escapes apostrophes: the words after the first one are looked for.
    assert await pg.until(lambda: _said(pg, who, words.split("'")[-1][:40]))
    assert (in_thread(db_path, root), archived(db_path)) == before


async def _signed(db_path: Path) -> list[str]:
    return [str(r[0]) for r in archived(db_path) if not r[1]]


async def test_help_offers_remove_and_the_open_form_to_facilitators_only(bot: Harness) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    facilitators = await bot.reply_text("help", PRIYA)
    assert "`/cop remove LINK`" in facilitators
    assert '`/cop feedback open ["TITLE" [closes YYYY-MM-DD] [min N]]`' in facilitators
    staff = await bot.reply_text("help", SAM)
    assert "/cop remove" not in staff and "/cop feedback open" not in staff
    assert "own questions" in await bot.reply_text("help feedback open", PRIYA)
    assert "only anonymous" in (await bot.reply_text("help remove", PRIYA)).lower()
