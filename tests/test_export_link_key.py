"""Export links are signed with a key derived from COPBOT_SECRET_KEY when it is set: changing
it voids every link already sent, and the database holds no key that signs one. Without it,
links are signed with a key kept in the database, as before, and outlive a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.commands import Args
from bot.interaction import Interaction
from bot.model import Origin, Role
from bot.services.exports import ExportsFeature
from bot.settings import Settings
from bot.visibility import Visibility
from storage.archive_reader import SqliteArchiveReader
from storage.exports import SqliteExportLinkRepository
from tests.support.harness import ALEX, GENERAL, Harness

PUBLIC = "http://copbot.test"
K1 = "first-secret-key-0123456789-abcdefghijklmnop"
K2 = "second-secret-key-0123456789-abcdefghijklmno"


@pytest.fixture
def bot(db_path: Path) -> Iterator[Harness]:
    settings = Settings(db_path=db_path, admins=frozenset({ALEX.identity}), public_url=PUBLIC)
    h = Harness.open(db_path, settings)
    yield h
    h.close()


def exports(h: Harness, secret_key: str) -> ExportsFeature:
    """The exports feature as copbot starts it, with COPBOT_SECRET_KEY ("" when unset)."""
    core = h.core
    return ExportsFeature(
        SqliteArchiveReader(core.db.path),
        SqliteExportLinkRepository(core.db),
        core.prompts,
        core.chat,
        core.clock,
        PUBLIC,
        core.roles,
        Visibility(core.chat, core.channels, core.archive, core.clock),
        secret_key=secret_key,
    )


async def link_from(h: Harness, feature: ExportsFeature) -> str:
    """Alex asks for an export in chat; the path of the link copbot sends them."""
    await feature.export(
        Interaction(Origin(ALEX, GENERAL), Role.ADMIN, h.core.chat), Args(("csv",))
    )
    dm = h.adapter.of_kind("direct")[-1]
    return dm.text.split("](", 1)[1].split(")", 1)[0].removeprefix(PUBLIC)


@asynccontextmanager
async def served(feature: ExportsFeature) -> AsyncIterator[TestClient]:
    app = web.Application()
    app.router.add_routes(feature.routes())
    async with TestClient(TestServer(app)) as client:
        yield client


async def status(feature: ExportsFeature, path: str, method: str = "GET") -> int:
    async with served(feature) as client:
        return (await client.request(method, path)).status


async def test_a_link_made_under_one_key_is_refused_after_a_restart_with_another(
    bot: Harness,
) -> None:
    path = await link_from(bot, exports(bot, K1))
    assert await status(exports(bot, K1), path) == 200  # genuine, under the key it was made with
    restarted = exports(bot, K2)  # COPBOT_SECRET_KEY changed, copbot restarted
    assert await status(restarted, path) == 404
    assert await status(restarted, path, "POST") == 404  # no download either
    # It is the key that decides: back under K1, the unused link is good again.
    assert await status(exports(bot, K1), path, "POST") == 200


async def test_with_a_secret_key_the_database_holds_no_key_for_links(bot: Harness) -> None:
    await link_from(bot, exports(bot, K1))
    assert bot.rows("select name from secrets where name = 'export-link-key'") == []


async def test_setting_a_secret_key_voids_links_signed_with_the_databases(bot: Harness) -> None:
    path = await link_from(bot, exports(bot, ""))
    assert await status(exports(bot, K1), path) == 404


async def test_without_a_secret_key_links_outlive_a_restart_as_before(bot: Harness) -> None:
    path = await link_from(bot, exports(bot, ""))
    assert bot.rows("select name from secrets where name = 'export-link-key'") != []
    assert await status(exports(bot, ""), path) == 200  # a new start reads the same key
    assert await status(exports(bot, ""), path, "POST") == 200
