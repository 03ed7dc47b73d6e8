"""Killed mid-announcement, restarted, every channel has exactly one: `copbot serve` as a
subprocess on the fake Slack, 20 channels linked to North, an event added from the command
line; while its announcement is going out (the fake answers chat.postMessage late, so posts
land and copbot hasn't heard back), SIGKILL; restart; the posts in doubt are found in the
channels' history and kept, the rest are posted, and no channel gets two."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from storage import sqlite
from tests.slack import signing
from tests.slack.conftest import fixture
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.slack.test_events_end_to_end import text_of
from tests.support.server import copbot_command, free_port, log_file

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

CHANNELS = [f"C{n:02}" for n in range(1, 21)]
TITLE = "Reflective practice: first contacts with employers"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan"},
        channels={c: f"ips-north-{c.lower()}" for c in CHANNELS},
    ).start()
    yield slack
    await slack.close()


class Served:
    """One `copbot serve`, killed or stopped by the test."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    @classmethod
    async def start(cls, fake: FakeSlack, db_path: Path) -> Served:
        port = free_port()
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": fake.api_url,
            "COPBOT_ADMINS": "slack:UADMIN",
            "PYTHONUNBUFFERED": "1",
        }
        log = log_file("events-kill")
        process = await asyncio.create_subprocess_exec(
            *copbot_command(), "serve", "--port", str(port), "--db", str(db_path),
            env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        log.close()  # the process has its own copy
        served = cls(process, f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            while True:
                assert process.returncode is None, "copbot serve stopped"
                try:
                    async with session.get(f"{served.url}/healthz") as r:
                        if r.status == 200:
                            return served
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

    async def link(self, channel: str) -> None:
        fields = fixture("slash_command") | {
            "text": "region link North",
            "user_id": "UADMIN",
            "user_name": "alex",
            "channel_id": channel,
            "channel_name": f"ips-north-{channel.lower()}",
            "trigger_id": f"trigger-{channel}",
        }
        body, kind = signing.command_body(fields)
        headers = signing.headers(SIGNING_SECRET, body, kind)
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/slack/events", data=body, headers=headers) as r,
        ):
            assert r.status == 200

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await self.process.wait()


def query(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite.connect(db_path)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


async def until_db(db_path: Path, sql: str, timeout: float) -> None:
    """Wait until ``sql``'s first value is truthy (the server writes; the test reads)."""
    async with asyncio.timeout(timeout):
        while not query(db_path, sql)[0][0]:
            await asyncio.sleep(0.05)


async def test_killed_during_an_announcement_every_channel_has_exactly_one(
    fake: FakeSlack, db_path: Path
) -> None:
    first = await Served.start(fake, db_path)
    try:
        for channel in CHANNELS:
            await first.link(channel)
        await until_db(db_path, "select count(*) = 20 from region_links", timeout=15)

        def announcements() -> list[str]:
            return [
                str(c.args["channel"]) for c in fake.of("chat.postMessage") if TITLE in text_of(c)
            ]

        # Posts land at once but are answered only after the kill, so copbot never hears.
        fake.slow("chat.postMessage", 30)
        start = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d 10:00")
        added = await asyncio.create_subprocess_exec(
            *copbot_command(), "events", "add", "--db", str(db_path),
            "--title", TITLE, "--region", "north", "--start", start,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await added.communicate()
        assert added.returncode == 0, err.decode()
        # The running copbot looks for jobs from other processes every 20 seconds.
        await fake.until(lambda: len(announcements()) >= 3, timeout=60)
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
    finally:
        await first.stop()
    before_kill = Counter(announcements())
    assert 3 <= len(before_kill) < 20 and set(before_kill.values()) == {1}
    in_doubt = {
        str(c)
        for (c,) in query(
            db_path, "select channel_id from event_announcements where state = 'posting'"
        )
    }
    assert set(before_kill) <= in_doubt  # posted, and copbot never heard back

    fake.slow("chat.postMessage", 0)
    again = await Served.start(fake, db_path)
    try:
        await until_db(db_path, "select announced_at is not null from events", timeout=60)
    finally:
        await again.stop()

    assert Counter(announcements()) == Counter(CHANNELS)  # exactly one each, across both runs
    ledger = dict(query(db_path, "select channel_id, state from event_announcements"))
    assert ledger == dict.fromkeys(CHANNELS, "posted")
    # The posts in doubt were looked for in their channels and kept with Slack's own ids.
    looked = {str(c.args["channel"]) for c in fake.of("conversations.history")}
    assert in_doubt <= looked
    ids = dict(query(db_path, "select channel_id, message_id from event_announcements"))
    posted = {str(c.args["channel"]): c.answer["ts"] for c in fake.of("chat.postMessage")}
    assert ids == posted
