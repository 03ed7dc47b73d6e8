"""What reaches the logs, with everything at DEBUG: never the body of a request that failed
its signature check, and never a token or the signing secret."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.wiring import REJECTED, make_bolt, make_client
from bot.app import create_app
from tests.slack import signing
from tests.slack.conftest import SlackBot, Sleeps, fixture, settings
from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


async def test_rejected_bodies_tokens_and_secrets_stay_out_of_debug_logs(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"MARKER-{uuid.uuid4().hex}"
    app = create_app(settings(db_path, fake))
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        body, kind = signing.command_body(fixture("slash_command") | {"text": f"help {marker}"})
        forged = signing.headers("a-guess", body, kind)
        assert (await client.post("/slack/events", data=body, headers=forged)).status == 401
        assert (await bot.command("help")).status == 200  # a genuine one, logged in full
        await fake.until(lambda: fake.of("chat.postEphemeral"))
    logged = messages(caplog)
    assert any("signature did not check out" in m and "not logged" in m for m in logged)
    assert any(
        r.levelno == logging.DEBUG and r.name == "adapters.slack.api" for r in caplog.records
    )
    assert any(r.name.startswith("adapters.slack.bolt") for r in caplog.records)
    for secret in (marker, BOT_TOKEN, SIGNING_SECRET, APP_TOKEN):
        assert not [m for m in logged if secret in m], secret


async def test_bolts_own_signature_check_logs_no_body_either(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """bolt logs a rejected request with its body at INFO; copbot's filter replaces it."""
    caplog.set_level(logging.DEBUG)
    marker = f"MARKER-{uuid.uuid4().hex}"

    async def never(body: dict, ack: object) -> None:  # type: ignore[type-arg]
        raise AssertionError("a forged request reached a listener")

    app = make_bolt(
        make_client(BOT_TOKEN, "http://127.0.0.1:9/api/"),
        SIGNING_SECRET,
        on_event=never,
        on_command=never,
        on_action=never,
        on_view=never,
    )
    body, kind = signing.command_body({"command": "/cop", "text": marker})
    forged = signing.headers("a-guess", body, kind)
    response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=forged))
    assert response.status == 401
    verification = [r for r in caplog.records if r.name == "slack_bolt.RequestVerification"]
    assert [r.getMessage() for r in verification] == [REJECTED]  # bolt did log; the body did not
    assert not [m for m in messages(caplog) if marker in m]


def test_tokens_in_any_sdk_log_line_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    make_client(BOT_TOKEN)  # installs the filter on the API logger
    logging.getLogger("adapters.slack.api").debug(
        "url %s with %s", "wss://wss.example/link/?ticket=abc123&app_id=A1", BOT_TOKEN
    )
    [line] = messages(caplog)
    assert BOT_TOKEN not in line and "abc123" not in line and "(redacted)" in line
