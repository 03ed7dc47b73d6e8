"""Anonymous forms, proved from the bytes: submitted from a direct conversation in the
playground (and on Slack: tests/slack/test_anonymity.py), nothing in copbot's database file or its WAL points at the person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CORE, create_app
from bot.interaction import Interaction
from bot.model import (
    ChannelKind,
    ChannelRef,
    Form,
    FormSubmitted,
    LongText,
    Origin,
    UserRef,
)
from bot.settings import Settings

WORDS = "the session made me think about my own assumptions"
FORM = Form("feedback", "Session feedback", (LongText("thoughts", "Thoughts"),), anonymous=True)


def stored_bytes(db_path: Path) -> bytes:
    wal = Path(f"{db_path}-wal")
    return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def listen(core: object, got: list[FormSubmitted]) -> None:
    async def handler(ix: Interaction, event: FormSubmitted) -> None:
        # Kept as a feature would keep it, so that the file certainly holds the answer.
        await core.db.write(  # type: ignore[attr-defined]
            lambda db: db["kept_answers"].insert({"text": event.value("thoughts")})
        )
        got.append(event)
        await ix.reply("Thank you: your answer is in, with nothing to say it was yours.")

    core.registry.form("feedback", handler, anonymous=True)  # type: ignore[attr-defined]


@pytest.fixture
async def playground(db_path: Path) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as client:
        yield client


async def test_playground_anonymous_form_from_a_direct_message(
    playground: TestClient, db_path: Path
) -> None:
    core = playground.server.app[CORE]  # type: ignore[union-attr]
    got: list[FormSubmitted] = []
    listen(core, got)
    dm = ChannelRef("local", "@priya", "", "", ChannelKind.DIRECT)
    await core.chat.open_form(Origin(UserRef("local", "priya"), dm), FORM)
    state = await (await playground.get("/api/playground/state?as=priya&channel=@priya")).json()
    token = state["forms"][0]["token"]
    answer = await playground.post(
        f"/api/playground/forms/{token}", json={"as": "priya", "values": {"thoughts": WORDS}}
    )
    assert answer.status == 200
    async with asyncio.timeout(5):  # the running inbox handles it
        while not got:
            await asyncio.sleep(0.02)
    [event] = got
    assert event.origin.user.is_anonymous and event.origin.channel.id != "@priya"
    stored = stored_bytes(db_path)
    assert WORDS.encode() in stored
    for trace in (b"priya", b"Priya"):
        assert trace not in stored, trace
