"""`copbot db backup` while Slack events pour in: the copy passes `copbot db check`, and once
restored it holds every message acknowledged before the backup began."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.slack import signing
from tests.slack.conftest import fixture
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.slack.test_end_to_end import C1, Copbot, export, message
from tests.support.server import copbot_command, free_port

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan", "U1": "Ade"},
        channels={C1: "ips-north"},
    ).start()
    yield slack
    await slack.close()


@asynccontextmanager
async def serving(db_path: Path, fake: FakeSlack) -> AsyncIterator[Copbot]:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake.api_url,
        "COPBOT_ADMINS": "slack:UADMIN",
    }
    process = await asyncio.create_subprocess_exec(
        *copbot_command(), "serve", "--port", str(port), "--db", str(db_path),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(30):
                while True:
                    assert process.returncode is None, "copbot serve stopped"
                    try:
                        async with session.get(f"{url}/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
            yield Copbot(url, process, session)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 15)


async def copbot_cli(*args: str) -> tuple[int, str]:
    done = await asyncio.create_subprocess_exec(
        *copbot_command(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await done.communicate()
    return done.returncode or 0, out.decode()


async def test_a_backup_under_load_restores_everything_acknowledged_before_it(
    fake: FakeSlack, tmp_path: Path
) -> None:
    db_path, copy = tmp_path / "copbot.db", tmp_path / "backup.db"
    acknowledged: list[str] = []
    async with serving(db_path, fake) as copbot:
        fields = fixture("slash_command") | {
            "text": "prompt",
            "user_id": "UADMIN",
            "channel_id": C1,
            "channel_name": "ips-north",
            "trigger_id": "trigger-backup",
            "response_url": f"{fake.api_url}unused",
        }
        body, kind = signing.command_body(fields)
        assert (await copbot.post(body, signing.headers(SIGNING_SECRET, body, kind)))[0] == 200
        [post] = await fake.until(lambda: fake.of("chat.postMessage"))
        root = post.answer["ts"]

        stop = asyncio.Event()

        async def load() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                text = f"reply number {n}"
                envelope = message(f"Ev{n}", "U1", text, f"18000{n:05d}.000100", root)
                if await copbot.event(envelope) == 200:
                    acknowledged.append(text)

        loader = asyncio.create_task(load())
        async with asyncio.timeout(30):
            while len(acknowledged) < 40:
                await asyncio.sleep(0.05)
        before = list(acknowledged)  # acknowledged before the backup began
        status, output = await copbot_cli("db", "backup", str(copy), "--db", str(db_path))
        stop.set()
        await loader
    assert status == 0, output
    assert "passed its check" in output
    assert len(acknowledged) > len(before), "the load went on during the backup"

    status, output = await copbot_cli("db", "check", "--db", str(copy))
    assert status == 0, output
    assert "is healthy" in output

    # Restore: copbot started on the copy finishes whatever its inbox holds.
    async with serving(copy, fake):
        async with asyncio.timeout(30):
            while True:
                texts = {r["text"] for r in await export(copy)}
                if set(before) <= texts:
                    break
                await asyncio.sleep(0.2)
    assert len([t for t in texts if t in before]) == len(before)


async def test_backup_refuses_to_overwrite_and_check_names_a_damaged_file(tmp_path: Path) -> None:
    db_path, copy = tmp_path / "copbot.db", tmp_path / "backup.db"
    assert (await copbot_cli("db", "migrate", "--db", str(db_path)))[0] == 0
    copy.write_bytes(b"precious")
    status, output = await copbot_cli("db", "backup", str(copy), "--db", str(db_path))
    assert status == 1
    assert output.strip() == f"Error: {copy} already exists; choose a new file name for the backup"
    assert copy.read_bytes() == b"precious"

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db_path.read_bytes()[:4096] + b"\0" * 8192)
    status, output = await copbot_cli("db", "check", "--db", str(damaged))
    assert status == 1
    assert "has problems; restore it from a backup" in output
    assert "Traceback" not in output
