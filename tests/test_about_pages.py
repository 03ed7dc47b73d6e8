"""The pages a Teams app links to, readable without signing in: what copbot keeps
(``/privacy``, from what the features declare) and what it is for (``/terms``)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.settings import Settings


async def _text(db_path: Path, path: str, **settings: object) -> tuple[int, str, str]:
    app = create_app(Settings(db_path=db_path, **settings))  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path)
        body = html.unescape(re.sub(r"<[^>]+>", "", await response.text()))
        return response.status, body, response.headers.get("X-Content-Type-Options", "")


@pytest.mark.parametrize(
    ("retention", "said"),
    [(None, "kept until they are deleted or erased"), (30, "erased 30 days after")],
)
async def test_the_privacy_page_says_what_is_kept_for_how_long_and_what_erasure_leaves(
    db_path: Path, retention: int | None, said: str
) -> None:
    status, page, nosniff = await _text(db_path, "/privacy", retention_days=retention)
    assert status == 200 and nosniff == "nosniff"
    assert said in page
    assert "A private channel's messages are found only by its members" in page
    # Straight from the features' declarations: a new kept thing shows here by itself.
    assert "Roles: a role is access, which an admin takes away by revoking it." in page
    assert "Audit trail: admins answer for access with it" in page


async def test_the_terms_page_asks_for_nothing_that_identifies_a_client(db_path: Path) -> None:
    status, page, _ = await _text(db_path, "/terms")
    assert status == 200
    assert "Never write anything that could identify a client" in page
