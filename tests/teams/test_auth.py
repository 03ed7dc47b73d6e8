"""With an app id, every activity needs a valid Bot Framework token: every kind of bad one is
a 401 (never a 500), a key fetch that hangs is a 503 (never a hung server), and nothing of a
refused request is kept or logged."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import TeamsSettings
from tests.teams.conftest import APP_ID, TeamsBot, serve, signer
from tests.teams.fake_connector import TENANT, FakeConnector

TRUSTED = signer("key-1")
STRANGER = signer("key-1")  # the same key id, another key: a forgery
EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"


@pytest.fixture
async def secured(db_path: Path, fake: FakeConnector) -> AsyncIterator[TeamsBot]:
    fake.jwks.append(TRUSTED.jwk())
    settings = TeamsSettings(app_id=APP_ID, app_password="secret", tenants=frozenset({TENANT}))
    async for bot in serve(db_path, fake, settings, auth_timeout=1.0):
        yield bot


def _unsigned(claims: dict[str, object]) -> str:
    def part(doc: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'key-1'})}.{part(claims)}.c2ln"


def _refusals(bot: TeamsBot) -> list[str]:
    return [
        "",  # no header
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer " + _unsigned({"iss": "https://api.botframework.com", "exp": 1}),  # expired
        "Bearer " + STRANGER.token(bot.fake.url),  # forged
        "Bearer " + TRUSTED.token(bot.fake.url, aud="someone-else"),  # not for copbot
        "Bearer " + TRUSTED.token(bot.fake.url, exp=int(time.time()) - 3600),  # expired
        "Bearer "
        + TRUSTED.token(bot.fake.url, iss="https://sts.windows.net/evil/"),  # emulator-ish
        # Signed with a key botbuilder trusts for emulator and skill tokens, and minted for
        # copbot's app id: such a token is anything Entra ID issues to copbot itself (the
        # one it sends with every reply, say), never one Teams sends.
        "Bearer " + TRUSTED.token(bot.fake.url, iss=EMULATOR_ISSUER, ver="1.0", appid=APP_ID),
        "Bearer " + TRUSTED.token(bot.fake.url, iss=EMULATOR_ISSUER, ver="2.0", azp=APP_ID),
        "Bearer " + TRUSTED.token(bot.fake.url, iss=EMULATOR_ISSUER, ver="1.0", appid="a-skill"),
    ]


async def test_every_kind_of_bad_token_is_refused_with_401_and_nothing_kept(
    secured: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    activity = secured.activity("channel_top_level", text="<p>secret words</p>")
    for header in _refusals(secured):
        headers = {"Authorization": header} if header else {}
        response = await secured.send(activity, headers)
        assert response.status == 401, header
    assert secured.inbox_count() == 0
    assert secured.rows("select count(*) from teams_conversations") == [(0,)]
    logged = caplog.text
    assert "secret words" not in logged
    assert "Traceback" not in logged
    assert "refused a Teams request" in logged


async def test_a_valid_token_is_accepted(secured: TeamsBot) -> None:
    activity = secured.activity("channel_top_level")
    token = TRUSTED.token(secured.fake.url)
    response = await secured.send(activity, {"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert secured.inbox_count() == 1


async def test_a_valid_token_from_another_tenant_is_refused(secured: TeamsBot) -> None:
    activity = secured.activity("channel_top_level")
    activity["channelData"]["tenant"]["id"] = "somebody-elses-tenant"
    token = TRUSTED.token(secured.fake.url)
    response = await secured.send(activity, {"Authorization": f"Bearer {token}"})
    assert response.status == 403
    assert secured.inbox_count() == 0


async def test_a_hanging_key_fetch_is_a_503_and_the_server_keeps_answering(
    db_path: Path, fake: FakeConnector
) -> None:
    fake.stall_keys()
    settings = TeamsSettings(app_id=APP_ID, app_password="secret", tenants=frozenset({TENANT}))
    async for bot in serve(db_path, fake, settings, auth_timeout=0.3):
        token = TRUSTED.token(fake.url)
        activity = bot.activity("channel_top_level")
        async with asyncio.timeout(5):
            response = await bot.send(activity, {"Authorization": f"Bearer {token}"})
            assert response.status == 503
            health = await bot.client.get("/healthz")  # the event loop was never blocked
            assert health.status == 200
        assert fake.key_fetches >= 1
        assert bot.inbox_count() == 0
