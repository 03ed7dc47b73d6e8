"""An export asked for in chat holds the asker's community only, through its link."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.records import ArchivedMessage
from bot.settings import Settings
from tests.support.harness import ALEX, Harness


def _message(workspace: str, text: str) -> ArchivedMessage:
    return ArchivedMessage(
        "test", workspace, "C1", "general", "1", f"m-{workspace}", "test:sam", "Sam", False,
        text, datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
    )  # fmt: skip


async def test_a_chat_export_holds_the_askers_community_only(db_path: Path) -> None:
    settings = Settings(
        db_path=db_path, admins=frozenset({ALEX.identity}), public_url="http://copbot.test"
    )
    h = Harness.open(db_path, settings)
    try:
        await h.core.archive.capture(_message("T1", "words from our own community"))
        await h.core.archive.capture(_message("T9", "words from another workspace"))
        await h.reply_text("export jsonl", ALEX)  # asked in #general of workspace T1
        [dm] = h.adapter.of_kind("direct")
        path = dm.text.split("](", 1)[1].split(")", 1)[0].removeprefix("http://copbot.test")
        app = web.Application()
        app.router.add_routes(h.core.registry.routes)
        async with TestClient(TestServer(app)) as client:
            text = await (await client.post(path)).text()
        assert "words from our own community" in text
        assert "another workspace" not in text
    finally:
        h.close()
