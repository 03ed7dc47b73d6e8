"""A stop ends on its own within STOP_LIMIT of SIGTERM, inside docker stop's 10 seconds,
however long the requests, the work under way and the platforms take: each step gets what
the ones before it left."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.settings import Settings
from bot.stopping import CLOSING, GRACE, REQUESTS, STOP_LIMIT, Stopping
from tests.support.fakes import FakeAdapter


class Seconds:
    """A clock moved by hand."""

    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


def test_the_limit_fits_inside_docker_stops_ten_seconds() -> None:
    assert REQUESTS + GRACE + CLOSING <= STOP_LIMIT < 10


@pytest.mark.parametrize("requests", [0.0, 1.0, REQUESTS, REQUESTS + 2.5, STOP_LIMIT, 20.0])
def test_every_step_takes_what_the_ones_before_it_left(requests: float) -> None:
    now = Seconds()
    stopping = Stopping(now=now)
    stopping.begin()  # SIGTERM
    now.at += requests  # the requests in flight (and any that had to be cancelled)
    stopping.begin()  # counted from the first call, not again
    grace = stopping.left(GRACE, keep=CLOSING)
    assert grace == max(0.0, min(GRACE, STOP_LIMIT - CLOSING - requests))
    now.at += grace  # a command under way used all of it
    closing = stopping.left(STOP_LIMIT)
    assert closing >= min(CLOSING, max(0.0, STOP_LIMIT - requests))  # adapters always get some
    assert requests + grace + closing <= max(STOP_LIMIT, requests)


@dataclass
class Hung(FakeAdapter):
    """A platform that never answers copbot's goodbye (a Socket Mode close gone quiet)."""

    platform: str = "hung"

    async def stop(self) -> None:
        await asyncio.Event().wait()


@dataclass
class Counted(FakeAdapter):
    stopped: int = 0

    async def stop(self) -> None:
        self.stopped += 1


async def test_a_platform_that_never_stops_keeps_copbot_no_longer_than_the_limit(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limit = 0.5  # STOP_LIMIT, shortened so the test doesn't wait nine seconds
    other = Counted()
    app = create_app(Settings(db_path=db_path), adapters=[other, Hung()], stopping=Stopping(limit))
    client = TestClient(TestServer(app))
    await client.start_server()
    assert (await client.get("/healthz")).status == 200
    loop = asyncio.get_running_loop()
    began = loop.time()
    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(limit + 5):  # without the limit: never
            await client.close()
    assert loop.time() - began < limit + 0.4
    assert other.stopped == 1  # the others closed alongside the hung one
    assert "the hung adapter hadn't closed its connections after" in caplog.text


def test_the_docs_the_dockerfile_and_the_unit_give_the_same_limit() -> None:
    root = Path(__file__).resolve().parent.parent
    said = f"within {STOP_LIMIT:g} seconds"
    assert said in (root / "docs" / "operations.md").read_text()
    assert f"within {STOP_LIMIT:g} s " in (root / "Dockerfile").read_text()
    unit = (root / "deploy" / "copbot.service").read_text()
    assert said in unit and "TimeoutStopSec=15" in unit  # more than the limit
