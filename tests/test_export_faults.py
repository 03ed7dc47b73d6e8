"""An export link pressed while copbot's database can't be written (disk full, read-only,
locked) is answered with a page in words, as the console's forms are: why, and what to do;
never aiohttp's bare 500, SQLite's words or a traceback. The link still works afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_core
from bot.settings import Settings
from storage.database import Database
from tests.support.fakes import FakeAdapter, ManualClock
from tests.support.faults import REFUSALS, Faults
from tests.support.harness import ALEX, Harness

REASONS = REFUSALS


@pytest.mark.parametrize("fault", sorted(REASONS))
async def test_an_export_link_pressed_while_writes_fail_says_why_and_works_later(
    db_path: Path, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    error, reason = REASONS[fault]
    faults = Faults()
    settings = Settings(
        db_path=db_path, admins=frozenset({ALEX.identity}), public_url="http://copbot.test"
    )
    adapter, clock = FakeAdapter(), ManualClock()
    core = build_core(settings, Database.open(db_path, gate=faults), clock, [adapter])
    h = Harness(core, adapter, clock)
    try:
        await h.command("export jsonl", ALEX)
        [dm] = h.adapter.of_kind("direct")
        token = dm.text.split("](", 1)[1].split(")", 1)[0].rsplit("/", 1)[1]
        app = web.Application()
        app.router.add_routes(h.core.registry.routes)
        async with TestClient(TestServer(app)) as client:
            faults.fail_writes(error)
            r = await client.post(f"/export/{token}")
            page = await r.text()
            assert r.status == 503 and r.content_type == "text/html"
            assert "couldn&#x27;t give you the file just now" in page and reason in page
            for leak in ("database or disk", "readonly database", "is locked", "Traceback"):
                assert leak not in page and leak not in caplog.text
            faults.clear()
            r = await client.post(f"/export/{token}")  # the link wasn't used up
            assert r.status == 200 and r.content_type == "application/x-ndjson"
    finally:
        h.close()
