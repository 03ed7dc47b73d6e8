"""The whole copbot app with the real Teams adapter (botbuilder's CloudAdapter), served on an
ephemeral port; activities name a fake Bot Framework connector on another as their
``serviceUrl``."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.teams import TeamsAdapter
from bot.app import CORE, create_app
from bot.clock import SystemClock
from bot.core import Core
from bot.settings import Settings, TeamsSettings
from bot.signing import Signing
from storage import sqlite
from storage.conversations import SqliteConversationRepository
from tests.teams.fake_connector import TENANT, Call, FakeConnector

FIXTURES = Path(__file__).parent / "fixtures"
ADMIN_AAD = "aad-admin-0009"
APP_ID = "00000000-0000-0000-0000-00000000b0b0"
ADMIN = {"id": "29:1admin-teams-id", "name": "Alex Morgan", "aadObjectId": ADMIN_AAD}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Sleeps:
    asked: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@dataclass
class TeamsBot:
    client: TestClient
    fake: FakeConnector
    db_path: Path
    sleeps: Sleeps

    @property
    def core(self) -> Core:
        return self.client.server.app[CORE]  # type: ignore[union-attr]

    @property
    def adapter(self) -> TeamsAdapter:
        adapter = self.core.chat.adapter("teams")
        assert isinstance(adapter, TeamsAdapter)
        return adapter

    def activity(self, name: str, **changes: Any) -> dict[str, Any]:
        doc = copy.deepcopy(fixture(name))
        doc["serviceUrl"] = self.fake.url
        doc.update(changes)
        return doc

    async def send(
        self, activity: dict[str, Any], headers: dict[str, str] | None = None
    ) -> ClientResponse:
        return await self.client.post("/api/messages", json=activity, headers=headers or {})

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite.connect(self.db_path)
        try:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def inbox_count(self) -> int:
        return int(self.rows("select count(*) from inbox")[0][0])

    async def until(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (result := check()):
                await asyncio.sleep(0.01)
            return result

    async def install(self) -> None:
        response = await self.send(self.activity("installed_in_team"))
        assert response.status == 200
        await self.until(lambda: self.fake.of("create"))  # the hello in General


async def open_dialog(bot: TeamsBot, sent: Call, **changes: Any) -> dict[str, Any]:
    """Press the one button of a card copbot sent (a form opened outside a dialog): Teams
    asks with ``task/fetch``, and the answer is the dialog's card."""
    [button] = sent.body["attachments"][0]["content"]["actions"]
    assert button["data"]["msteams"] == {"type": "task/fetch"}
    fetch = bot.activity(
        "task_fetch",
        value={"type": "task/fetch", "data": button["data"], "context": {}},
        replyToId=sent.activity_id,
        **changes,
    )
    response = await bot.send(fetch)
    assert response.status == 200
    answer = await response.json()
    assert answer["task"]["type"] == "continue", answer
    return dict(answer["task"]["value"]["card"]["content"])


@pytest.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    connector = await FakeConnector().start()
    yield connector
    await connector.close()


class LateStore:
    """The conversation store, bound once create_app has opened the database."""

    target: SqliteConversationRepository | None = None

    def __getattr__(self, name: str) -> Any:
        assert self.target is not None, "the store is used before the app has started"
        return getattr(self.target, name)


async def serve(
    db_path: Path, fake: FakeConnector, teams: TeamsSettings, **kwargs: Any
) -> AsyncIterator[TeamsBot]:
    sleeps = Sleeps()
    settings = Settings(
        db_path=db_path,
        playground=False,
        admins=frozenset({f"teams:{ADMIN_AAD}"}),
        teams=teams,
        public_url="http://copbot.test",
    )
    store = LateStore()
    adapter = TeamsAdapter(
        teams,
        store,  # type: ignore[arg-type]
        SystemClock(),
        sealer=Signing(b"k" * 32, SystemClock()).signer("teams-form"),
        sleep=sleeps,
        metadata_url=fake.metadata_url,
        **kwargs,
    )
    app = create_app(settings, adapters=[adapter])
    store.target = SqliteConversationRepository(app[CORE].db, SystemClock())
    async with TestClient(TestServer(app)) as client:
        yield TeamsBot(client, fake, db_path, sleeps)


@pytest.fixture
async def teams(db_path: Path, fake: FakeConnector) -> AsyncIterator[TeamsBot]:
    """copbot with Teams unauthenticated (local testing), one tenant allowed."""
    async for bot in serve(db_path, fake, TeamsSettings(tenants=frozenset({TENANT}))):
        yield bot


# ---------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class Signer:
    kid: str
    key: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        doc = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return doc | {"kid": self.kid, "endorsements": ["msteams"], "use": "sig"}

    def token(self, service_url: str, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": "https://api.botframework.com",
            "aud": APP_ID,
            "serviceurl": service_url,
            "nbf": now - 10,
            "exp": now + 600,
        } | claims
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


def signer(kid: str) -> Signer:
    return Signer(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))
