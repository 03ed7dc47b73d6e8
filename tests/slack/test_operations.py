"""Operating copbot under load, as a subprocess on Slack's fake: `copbot db backup` while
events pour in (the copy passes `copbot db check` and, restored, holds every message
acknowledged before the backup began), and SIGTERM (copbot stops within 10 s, and loses
nothing it acknowledged)."""

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
from tests.support.server import copbot_command, free_port, log_file, until_healthy

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
    with log_file("operations") as log:
        process = await asyncio.create_subprocess_exec(
            *copbot_command(), "serve", "--port", str(port), "--db", str(db_path),
            env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        try:
            await until_healthy(f"{url}/healthz", process)
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


async def start_prompt(copbot: Copbot, fake: FakeSlack) -> str:
    fields = fixture("slash_command") | {
        "text": "prompt",
        "user_id": "UADMIN",
        "channel_id": C1,
        "channel_name": "ips-north",
        "trigger_id": f"trigger-{len(fake.of('chat.postMessage'))}",
        "response_url": f"{fake.api_url}unused",
    }
    body, kind = signing.command_body(fields)
    assert (await copbot.post(body, signing.headers(SIGNING_SECRET, body, kind)))[0] == 200
    [post] = await fake.until(lambda: fake.of("chat.postMessage"))
    return str(post.answer["ts"])


class Load:
    """Replies posted one after another into a thread, noting each one acknowledged."""

    def __init__(self, copbot: Copbot, root: str) -> None:
        self.copbot, self.root = copbot, root
        self.acknowledged: list[str] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            text = f"reply number {n}"
            envelope = message(f"Ev{n}", "U1", text, f"18000{n:05d}.000100", self.root)
            try:
                if await self.copbot.event(envelope) == 200:
                    self.acknowledged.append(text)
            except aiohttp.ClientError:
                pass  # copbot stopping: not acknowledged, so Slack would retry it

    async def reached(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.acknowledged) < count:
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._stop.set()
        await self._task


async def archived(db_path: Path, expected: list[str]) -> set[str]:
    async with asyncio.timeout(30):
        while True:
            texts = {r["text"] for r in await export(db_path)}
            if set(expected) <= texts:
                return texts
            await asyncio.sleep(0.2)


async def test_a_backup_under_load_restores_everything_acknowledged_before_it(
    fake: FakeSlack, tmp_path: Path
) -> None:
    db_path, copy = tmp_path / "copbot.db", tmp_path / "backup.db"
    async with serving(db_path, fake) as copbot:
        load = Load(copbot, await start_prompt(copbot, fake))
        await load.reached(40)
        before = list(load.acknowledged)  # acknowledged before the backup began
        status, output = await copbot_cli("db", "backup", str(copy), "--db", str(db_path))
        await load.stop()
    assert status == 0, output
    assert "passed its check" in output
    assert len(load.acknowledged) > len(before), "the load went on during the backup"

    status, output = await copbot_cli("db", "check", "--db", str(copy))
    assert status == 0, output
    assert "is healthy" in output

    # Restore: copbot started on the copy finishes whatever its inbox holds.
    async with serving(copy, fake):
        texts = await archived(copy, before)
    assert len(texts & set(before)) == len(before)


async def test_sigterm_under_load_stops_within_ten_seconds_and_loses_nothing(
    fake: FakeSlack, db_path: Path
) -> None:
    async with serving(db_path, fake) as copbot:
        load = Load(copbot, await start_prompt(copbot, fake))
        await load.reached(30)
        copbot.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await copbot.process.wait() == 0
        await load.stop()
    acknowledged = list(load.acknowledged)
    assert len(acknowledged) >= 30
    # Whatever it held but had not handled is still in its inbox: the next start does it.
    async with serving(db_path, fake):
        texts = await archived(db_path, acknowledged)
    assert {t for t in texts if t.startswith("reply number")} >= set(acknowledged)
    assert len(await export(db_path)) == len(texts), "nothing twice"


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
