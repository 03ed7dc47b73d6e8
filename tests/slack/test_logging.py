"""What reaches the logs, with everything at DEBUG: never the body of a request that failed
its signature check, never a token or the signing secret, and under attack never a request's
values or a traceback per hostile client."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.inbound import HELD_BACK
from adapters.slack.wiring import REJECTED, UNHANDLED, make_bolt, make_client
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


async def raw_request(client: TestClient, data: bytes, *, answer: bool = True) -> bytes:
    """Bytes straight onto the socket: aiohttp's own client won't send a malformed request."""
    assert client.server.host is not None and client.server.port is not None
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(data)
        await writer.drain()
        return await reader.read(200) if answer else b""
    finally:
        writer.close()


async def test_a_malformed_header_is_one_line_without_its_value_or_a_traceback(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"not-a-number-{uuid.uuid4().hex}"
    head = f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: {marker}\r\n\r\n"
    assert (await raw_request(slack.client, head.encode())).startswith(b"HTTP/1.0 400")
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [r.levelno for r in server] == [logging.WARNING]
    assert server[0].exc_info is None and "BadHttpMessage" in server[0].getMessage()
    assert "\n" not in server[0].getMessage()
    assert not [m for m in messages(caplog) if marker in m]


async def test_three_hundred_clients_that_hang_up_write_no_tracebacks(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    garbage = b"GET / HTTP/1.1\r\nHost x-no-colon\r\n\r\n"  # one bad header, then gone
    for _ in range(3):
        await asyncio.gather(
            *(raw_request(slack.client, garbage, answer=False) for _ in range(100))
        )
    # Each connection is answered (or dropped) before the server notices the next round.
    assert (await slack.client.get("/healthz")).status == 200
    await slack.until(lambda: len([r for r in caplog.records if r.name == "aiohttp.server"]) >= 1)
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
    server = [r for r in records if r.name == "aiohttp.server"]
    assert len(server) <= 300 and all("\n" not in r.getMessage() for r in server)
    assert not [m for m in messages(caplog) if "x-no-colon" in m]


async def test_bolt_logs_a_failing_listener_without_the_errors_message(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """bolt logs "Failed to run listener function (error: <message>)" with a traceback; the
    message may quote the request (``invalid literal for int() … 'not-a-number'``)."""
    caplog.set_level(logging.DEBUG)
    marker = f"not-a-number-{uuid.uuid4().hex}"

    async def failing(body: dict, ack: object) -> None:  # type: ignore[type-arg]
        int(body["text"])

    app = make_bolt(
        make_client(BOT_TOKEN, fake.api_url),
        SIGNING_SECRET,
        on_event=failing,
        on_command=failing,
        on_action=failing,
        on_view=failing,
    )
    body, kind = signing.command_body(fixture("slash_command") | {"text": marker})
    signed = signing.headers(SIGNING_SECRET, body, kind)
    response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=signed))
    assert response.status == 500  # a real failure still reaches Slack, which retries
    failed = [r for r in caplog.records if "Failed to run listener" in r.getMessage()]
    assert failed and all(r.exc_info is None for r in failed)
    assert "ValueError" in failed[0].getMessage()
    assert not [m for m in messages(caplog) if marker in m]


async def test_an_unhandled_kind_of_request_is_logged_without_its_fields(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"MARKER{uuid.uuid4().hex}"
    # A form that is neither a command nor interactivity reaches bolt, which has no listener.
    body, kind = signing.command_body({"callback_id": marker, "trigger_id": "1.2.3"})
    assert (await slack.deliver(body, kind)).status == 404
    assert any(r.getMessage() == UNHANDLED for r in caplog.records)
    # A kind copbot doesn't use is refused before bolt, as plainly.
    shortcut = {"type": "shortcut", "callback_id": marker, "trigger_id": "1.2.3"}
    assert (await slack.interact(shortcut)).status == 404
    assert any("a kind copbot doesn't use" in m for m in messages(caplog))
    assert not [m for m in messages(caplog) if marker in m]


def test_starting_with_a_token_in_the_environment_logs_no_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bolt reads SLACK_BOT_TOKEN itself, then warns that the client copbot gives it wins.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    caplog.set_level(logging.DEBUG)

    async def nothing(body: object, ack: object) -> None: ...

    make_bolt(
        make_client(BOT_TOKEN),
        SIGNING_SECRET,
        on_event=nothing,
        on_command=nothing,
        on_action=nothing,
        on_view=nothing,
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


RATE_LIMITED = {
    "token": "unused",
    "type": "app_rate_limited",
    "team_id": "T1",
    "minute_rate_limited": 1518467820,
    "api_app_id": "A1",
}


async def test_slack_holding_back_events_is_acknowledged_and_said_plainly_in_the_log(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body, kind = signing.event_body(RATE_LIMITED)
    assert (await slack.deliver(body, kind)).status == 200
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [HELD_BACK]
    assert slack.inbox_count() == 0


async def test_slack_holding_back_events_over_socket_mode_is_said_the_same_way(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with TestClient(TestServer(create_app(settings(db_path, fake, socket_mode=True)))):
        await fake.until(lambda: fake.socket_connected)
        envelope = {"envelope_id": "env-held", "type": "events_api", "payload": RATE_LIMITED}
        await fake.send_envelope(envelope)
        await fake.until(lambda: [a for a in fake.acks if a.get("envelope_id") == "env-held"])
    assert HELD_BACK in [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_slacks_unsigned_certificate_check_is_answered_and_nothing_else_is(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack checks a slash command URL's certificate with an unsigned ``ssl_check=1``
    (bolt answers it before its signature check): answered, with no warning that would send
    an admin looking for a forger. Anything more in the body still needs a signature."""
    caplog.set_level(logging.DEBUG)
    app = create_app(settings(db_path, fake))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with TestClient(TestServer(app)) as client:
        check = await client.post("/slack/events", data="ssl_check=1&token=abc123", headers=form)
        assert check.status == 200 and await check.text() == ""
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        for body in ("ssl_check=1&token=abc&command=%2Fcop&text=help", "ssl_check=2&token=a"):
            refused = await client.post("/slack/events", data=body, headers=form)
            assert refused.status == 401
    assert fake.of("chat.postEphemeral") == [] and fake.of("chat.postMessage") == []


async def test_a_press_slack_sends_again_is_logged_by_its_kind_not_its_id(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    """As on Teams: a press's id is its trigger id (a form's, its view id), which Slack's
    own records tie to whoever pressed, an anonymous form's button included."""
    caplog.set_level(logging.DEBUG)
    press = fixture("block_actions") | {"trigger_id": "9876543210.738474920.dddd"}
    for _ in range(2):
        assert (await slack.interact(press)).status == 200
    again = [m for m in messages(caplog) if "again" in m and "accepted" in m]
    assert again == ["Slack delivered a ButtonPressed again; it was already accepted"]
    assert not [m for m in messages(caplog) if "9876543210.738474920.dddd" in m]
