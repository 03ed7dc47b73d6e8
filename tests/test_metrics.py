"""`GET /metrics` (Prometheus text) when asked for, and JSON log lines: counts, never words."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.logs import JsonLines, TextLines
from bot.metrics import Metrics
from bot.settings import ConfigError, Settings
from storage.database import Database
from storage.inbox import SqliteInboxRepository
from storage.jobs import SqliteJobRepository
from tests.support.fakes import ManualClock
from tests.test_inbox import posted
from tests.test_playground import Playground


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
async def pg(db_path: Path) -> AsyncIterator[Playground]:
    app = create_app(Settings(db_path=db_path, metrics=True))
    async with TestClient(TestServer(app)) as client:
        playground = Playground(client)
        await playground.settled()
        yield playground


async def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await client.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=")
    text = await r.text()
    return samples(text)


async def test_metrics_are_off_unless_asked_for(db_path: Path) -> None:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as client:
        assert (await client.get("/metrics")).status == 404


async def test_requests_are_counted_by_route_template_never_by_path(pg: Playground) -> None:
    client = pg.client
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/no-such-page/Priya-Shah")).status == 404
    text = await (await client.get("/metrics")).text()
    got = samples(text)
    assert got[("copbot_http_requests_total", (("route", "/healthz"), ("status", "200")))] == 1
    assert got[("copbot_http_requests_total", (("route", "unmatched"), ("status", "404")))] == 1
    assert "Priya" not in text and "no-such-page" not in text


async def test_posts_are_counted_by_platform_and_kind(pg: Playground) -> None:
    before = await scrape(pg.client)
    await pg.say("/cop prompt", "alex")
    await pg.settled()
    after = await scrape(pg.client)
    key = (
        "copbot_posts_total",
        (("kind", "post"), ("outcome", "ok"), ("platform", "local")),
    )
    assert after[key] == before.get(key, 0) + 1


async def test_the_inbox_backlog_is_a_depth_and_an_age(db_path: Path) -> None:
    clock = ManualClock()
    db = Database.open(db_path)
    try:
        repo = SqliteInboxRepository(db)
        jobs = SqliteJobRepository(db, clock)
        metrics = Metrics(repo, jobs, clock)
        app = web.Application()
        app.router.add_get("/metrics", metrics.page)
        async with TestClient(TestServer(app)) as client:
            assert (await scrape(client))[("copbot_inbox_depth", ())] == 0
            for n in range(3):
                await repo.accept([(f"Ev{n}", posted(f"Ev{n}"), None)], clock.now())
                clock.advance(timedelta(seconds=30))
            got = await scrape(client)
            assert got[("copbot_inbox_depth", ())] == 3
            assert got[("copbot_inbox_oldest_seconds", ())] == 90
            [first, *_] = await repo.pending(10, clock.now())
            await repo.done([first.id])
            got = await scrape(client)
            assert got[("copbot_inbox_depth", ())] == 2
            assert got[("copbot_inbox_oldest_seconds", ())] == 60
            assert got[("copbot_scheduler_lag_seconds", ())] == 0
    finally:
        db.close()


def test_json_log_lines_carry_where_an_error_happened_but_not_its_words() -> None:
    words = "Priya said something private"
    try:
        raise ValueError(words)
    except ValueError:
        record = logging.LogRecord(
            "bot.router", logging.ERROR, __file__, 1, "handling %s failed", ("a command",), None
        )
        import sys

        record.exc_info = sys.exc_info()
    line = JsonLines().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "ERROR" and parsed["logger"] == "bot.router"
    assert parsed["message"] == "handling a command failed"
    assert parsed["error"].startswith("ValueError at")
    assert "Priya" not in line


def test_text_log_lines_carry_where_an_error_happened_but_not_its_words() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.text_lines")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextLines())
    logger.addHandler(handler)
    words = "Priya said something private"
    try:
        try:
            raise ValueError(words)
        except ValueError:
            logger.error("handling %s hit an error", "inbox item 7", exc_info=True)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    # Nor when another handler's formatter already wrote the error out, message and all.
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
    try:
        raise ValueError(words)
    except ValueError:
        record.exc_info = sys.exc_info()
    logging.Formatter().format(record)
    assert words in (record.exc_text or "")
    assert words not in TextLines().format(record)
    assert " ERROR tests.text_lines: handling inbox item 7 hit an error\nValueError at\n" in text
    assert "test_text_log_lines_carry_where_an_error_happened" in text  # its stack
    assert "Priya" not in text


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("COPBOT_METRICS", "maybe", "COPBOT_METRICS must be on or off, not 'maybe'"),
        ("COPBOT_LOG_FORMAT", "xml", "COPBOT_LOG_FORMAT must be text or json, not 'xml'"),
    ],
)
def test_bad_switches_are_refused_in_one_line(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Settings.from_env({name: value})
    assert Settings.from_env({"COPBOT_METRICS": "on", "COPBOT_LOG_FORMAT": "JSON"}).metrics
