"""`copbot serve` when Slack can't be used at start: a refused bot token, or Slack out of
reach. Either way, one sentence on standard error and exit status 1, never a traceback."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.support.server import copbot_command, free_port, keep_log

pytestmark = pytest.mark.subprocess


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(users={"UBOT": "copbot"}, channels={"C1": "general"}).start()
    yield slack
    await slack.close()


async def serve(
    db_path: Path, token: str, api_url: str, app_token: str = ""
) -> tuple[int, str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COPBOT_", "SLACK_"))},
        "SLACK_BOT_TOKEN": token,
        **(
            {"SLACK_APP_TOKEN": app_token}
            if app_token
            else {"SLACK_SIGNING_SECRET": SIGNING_SECRET}
        ),
        "SLACK_API_URL": api_url,
        "COPBOT_PUBLIC_URL": "https://copbot.example.nhs.uk",
        "PYTHONUNBUFFERED": "1",
    }
    process = await asyncio.create_subprocess_exec(
        *copbot_command(), "serve", "--port", str(free_port()), "--db", str(db_path),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()  # a start that never ends must not outlive the test
        await process.wait()
        raise
    keep_log("slack-start-refused", out.decode() + err.decode())
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def closed_port() -> int:
    """A port on this machine that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_bot_token_ends_in_one_sentence(db_path: Path, fake: FakeSlack) -> None:
    code, out, err = await serve(db_path, "xoxb-not-the-right-token", fake.api_url)
    assert code == 1
    assert err == (
        "Error: Slack refused copbot's bot token (invalid_auth); check SLACK_BOT_TOKEN is the "
        "app's current Bot User OAuth Token (xoxb-…)\n"
    )
    assert "Traceback" not in out + err
    assert "copbot is running" not in out
    assert [c.method for c in fake.calls] == ["auth.test"]  # tried once, then stopped


async def test_slack_out_of_reach_ends_in_one_sentence_naming_where(db_path: Path) -> None:
    port = closed_port()
    code, out, err = await serve(db_path, BOT_TOKEN, f"http://127.0.0.1:{port}/api/")
    assert code == 1
    assert err == (
        f"Error: copbot couldn't reach Slack at 127.0.0.1:{port}; check this server's network "
        "connection and proxy settings (HTTPS_PROXY), and SLACK_API_URL if it is set\n"
    )
    assert "Traceback" not in out + err and "ClientConnectorError" not in out + err


async def test_a_refused_app_token_ends_socket_mode_in_one_sentence(
    db_path: Path, fake: FakeSlack
) -> None:
    """Slack's SDK would ask again for a Socket Mode address every few seconds, for ever."""
    code, out, err = await serve(db_path, BOT_TOKEN, fake.api_url, app_token="xapp-1-revoked")
    assert code == 1
    assert err == (
        "Error: Slack refused copbot's app-level token (invalid_auth); check SLACK_APP_TOKEN is "
        "the app's current App-Level Token (xapp-…) with the connections:write scope\n"
    )
    assert "Traceback" not in out + err and "xapp-1-revoked" not in out + err
    assert [c.method for c in fake.calls] == ["auth.test", "apps.connections.open"]


async def test_slack_failing_at_every_socket_mode_try_ends_in_one_sentence(
    db_path: Path, fake: FakeSlack
) -> None:
    """An error of Slack's own is asked again, a few times, then copbot stops saying so."""
    from adapters.slack.startup import SOCKET_TRIES

    fake.fail("apps.connections.open", "internal_error", times=SOCKET_TRIES)
    code, out, err = await serve(db_path, BOT_TOKEN, fake.api_url, app_token=APP_TOKEN)
    assert code == 1
    assert err.splitlines()[-1] == (
        "Error: Slack didn't open a Socket Mode connection for copbot (internal_error, 3 "
        "tries); Slack may be having trouble (status.slack.com): start copbot again later"
    )
    assert "Traceback" not in out + err
    opened = [c.outcome for c in fake.calls if c.method == "apps.connections.open"]
    assert opened == ["internal_error"] * SOCKET_TRIES  # asked no more
