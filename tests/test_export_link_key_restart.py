"""copbot restarted with another COPBOT_SECRET_KEY refuses the export links it sent before."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import Settings
from tests.support.harness import ALEX, Harness

PUBLIC = "http://copbot.test"
K1 = "first-secret-key-0123456789-abcdefghijklmnop"
K2 = "second-secret-key-0123456789-abcdefghijklmno"


def start(db_path: Path, secret_key: str) -> Harness:
    return Harness.open(
        db_path,
        Settings(
            db_path=db_path,
            admins=frozenset({ALEX.identity}),
            public_url=PUBLIC,
            secret_key=secret_key,
        ),
    )


async def opened(h: Harness, path: str) -> int:
    app = web.Application()
    app.router.add_routes(h.core.registry.routes)
    async with TestClient(TestServer(app)) as client:
        return (await client.get(path)).status


async def test_a_link_made_under_k1_is_refused_after_restarting_with_k2(db_path: Path) -> None:
    first = start(db_path, K1)
    try:
        await first.reply_text("export csv", ALEX)
        dm = first.adapter.of_kind("direct")[-1]
        path = dm.text.split("](", 1)[1].split(")", 1)[0].removeprefix(PUBLIC)
        assert await opened(first, path) == 200
    finally:
        first.close()
    again = start(db_path, K2)
    try:
        assert await opened(again, path) == 404
    finally:
        again.close()
    same = start(db_path, K1)
    try:
        assert await opened(same, path) == 200
    finally:
        same.close()
