"""The pages a Teams app links to, readable without signing in: what copbot keeps
(``/privacy``, from what the features declare) and what it is for (``/terms``)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CORE, create_app
from bot.settings import Settings


async def _text(db_path: Path, path: str, **settings: object) -> tuple[int, str, str]:
    app = create_app(Settings(db_path=db_path, **settings))  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path)
        body = html.unescape(re.sub(r"<[^>]+>", "", await response.text()))
        return response.status, body, response.headers.get("X-Content-Type-Options", "")


@pytest.mark.parametrize(
    ("retention", "said"),
    [
        (None, "kept until they are deleted or erased"),
        (30, "erased 30 days after they were written (backups your organisation took before"),
    ],
)
async def test_the_privacy_page_says_what_is_kept_for_how_long_and_what_erasure_leaves(
    db_path: Path, retention: int | None, said: str
) -> None:
    status, page, nosniff = await _text(db_path, "/privacy", retention_days=retention)
    assert status == 200 and nosniff == "nosniff"
    assert said in page
    assert "A private channel's messages are found only by its members" in page
    assert "in Teams a standard channel's only by its team's members" in page  # as Teams shows
    # An erasure reaches the live file, not copies taken before it (docs/operations.md).
    assert "Backups your organisation took before then still hold them" in page
    # Straight from the features' declarations: a new kept thing shows here by itself.
    assert "Roles: a role is access, which an admin takes away by revoking it." in page
    assert "Audit trail: admins answer for access with it" in page


async def test_the_terms_page_asks_for_nothing_that_identifies_a_client(db_path: Path) -> None:
    status, page, _ = await _text(db_path, "/terms")
    assert status == 200
    assert "Never write anything that could identify a client" in page


async def test_the_privacy_page_names_everything_copbot_keeps_of_people(db_path: Path) -> None:
    # Schedules, rounds opened, region links, export links, console sign-ins and the Teams
    # chat are kept too: the page lists each feature's declaration, none left out.
    app = create_app(Settings(db_path=db_path))
    async with TestClient(TestServer(app)) as client:
        page = html.unescape(re.sub(r"<[^>]+>", "", await (await client.get("/privacy")).text()))
        declared = app[CORE].registry.personal_data
    for kept in (
        "The prompt schedules you set up.",
        "The feedback rounds you open",
        "The channels you linked to a region.",
        "the export links you asked for.",
        "your sign-ins to the web console.",
        "the way to your 1:1 chat with copbot",
        "Prompts you add to the library, and the prompts you post.",
    ):
        assert kept in page
    assert len(declared) > 10
    for data in declared:
        assert data.notice in page, data.what
