"""`copbot serve` with Slack and no COPBOT_PUBLIC_URL: links to this machine would reach
nobody in Slack, so copbot says so once at start (what breaks, and the variable to set), and
sends none: an admin's export in chat answers that COPBOT_PUBLIC_URL isn't set. The
playground alone, where links to this machine work, starts without a word about it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.slack import signing
from tests.slack.conftest import fixture
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.support.server import copbot_command, free_port, keep_log, until_healthy

pytestmark = pytest.mark.subprocess

WARNING = (
    "COPBOT_PUBLIC_URL isn't set, so copbot can't send people in Slack links to export "
    "downloads, console sign-ins or event calendars; set it to the address they reach copbot "
    "at, like https://copbot.example.nhs.uk"
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan"}, channels={"C1": "ips-north"}
    ).start()
    yield slack
    await slack.close()


def slack_env(fake: FakeSlack) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "COPBOT_ADMINS": "slack:UADMIN",
    }


class Output:
    text = ""


@asynccontextmanager
async def serving(db_path: Path, env: Mapping[str, str]) -> AsyncIterator[tuple[str, Output]]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COPBOT_", "SLACK_"))}
    process = await asyncio.create_subprocess_exec(
        *copbot_command(), "serve", "--port", str(port), "--db", str(db_path),
        env={**clean, "PYTHONUNBUFFERED": "1", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    output = Output()
    try:
        await until_healthy(f"{url}/healthz", process)
        yield url, output
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 15)
        output.text = (await process.stdout.read()).decode()  # type: ignore[union-attr]
        keep_log("public-url-unset", output.text)


async def test_with_slack_and_no_public_url_copbot_warns_once_and_sends_no_dead_link(
    fake: FakeSlack, db_path: Path
) -> None:
    async with serving(db_path, slack_env(fake)) as (url, output):
        fields = fixture("slash_command") | {
            "text": "export html",
            "user_id": "UADMIN",
            "user_name": "alex",
            "channel_id": "C1",
            "channel_name": "ips-north",
            "trigger_id": "trigger-public-url",
            "response_url": f"{fake.api_url}unused-response-url",
        }
        body, kind = signing.command_body(fields)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{url}/slack/events",
                data=body,
                headers=signing.headers(SIGNING_SECRET, body, kind),
            ) as r,
        ):
            assert r.status == 200
            said = (await r.text()) + str([c.args for c in fake.calls])
        if "COPBOT_PUBLIC_URL" not in said:
            await fake.until(lambda: "COPBOT_PUBLIC_URL" in str([c.args for c in fake.calls]))
            said = str([c.args for c in fake.calls])
    assert "I can't make a download link because COPBOT_PUBLIC_URL isn't set" in said
    assert "/export/" not in said and "127.0.0.1" not in str([c.args for c in fake.calls])
    lines = [line for line in output.text.splitlines() if "COPBOT_PUBLIC_URL" in line]
    assert len(lines) == 1 and lines[0].endswith(WARNING), output.text
    assert "WARNING" in lines[0] or '"level": "warning"' in lines[0].lower()


async def test_with_a_public_url_set_copbot_says_nothing_of_it(
    fake: FakeSlack, db_path: Path
) -> None:
    env = slack_env(fake) | {"COPBOT_PUBLIC_URL": "https://copbot.example.nhs.uk"}
    async with serving(db_path, env) as (_, output):
        pass
    # Read after the process ended, so all of its output is in.
    assert "connected to Slack workspace" in output.text
    assert "COPBOT_PUBLIC_URL" not in output.text, output.text


@pytest.mark.parametrize(
    "env",
    [{}, {"COPBOT_TEAMS": "on"}],  # the playground; Teams with an emulator on this machine
    ids=["playground", "teams-emulator"],
)
async def test_on_this_machine_alone_copbot_says_nothing_of_it(
    db_path: Path, env: dict[str, str]
) -> None:
    async with serving(db_path, env) as (_, output):
        pass
    assert "copbot is running at" in output.text
    assert "COPBOT_PUBLIC_URL" not in output.text, output.text
