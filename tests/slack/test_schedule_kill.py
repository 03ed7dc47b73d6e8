"""Killed while posting a schedule's prompts, restarted, every channel has exactly one:
`copbot serve` as a subprocess on the fake Slack, copbot added to six channels, a prompt
scheduled in each for the same minute from the command line; once a few are out and the
fake holds back its answer to the next (posted, but copbot hasn't heard), SIGKILL; restart;
the post in doubt is not made again, and the ones not yet tried are made."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.services.schedules import POST_PROMPT
from tests.slack import signing
from tests.slack.conftest import fixture
from tests.slack.fake_slack import SIGNING_SECRET, FakeSlack
from tests.slack.test_events_kill import Served, until_db
from tests.support.server import copbot_command

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

CHANNELS = [f"C{n:02}" for n in range(1, 7)]


def joined(channel: str) -> dict[str, Any]:
    envelope = fixture("member_joined_bot")
    envelope["event"] = envelope["event"] | {"channel": channel, "event_ts": f"{time.time()}"}
    return envelope | {"event_id": f"EvJoin{channel}", "event_time": int(time.time())}


async def deliver(served: Served, envelope: dict[str, Any]) -> None:
    body, kind = signing.event_body(envelope)
    headers = signing.headers(SIGNING_SECRET, body, kind)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{served.url}/slack/events", data=body, headers=headers) as r,
    ):
        assert r.status == 200


async def cli(db_path: Path, *args: str) -> str:
    done = await asyncio.create_subprocess_exec(
        *copbot_command(), *args, "--db", str(db_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    return out.decode()


async def test_killed_while_posting_a_schedule_every_channel_has_exactly_one(
    db_path: Path,
) -> None:
    fake = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan"},
        channels={c: f"ips-{c.lower()}" for c in CHANNELS},
    ).start()
    try:
        await _scenario(fake, db_path)
    finally:
        await fake.close()


async def _scenario(fake: FakeSlack, db_path: Path) -> None:
    first = await Served.start(fake, db_path)
    try:
        for channel in CHANNELS:
            await deliver(first, joined(channel))
        await until_db(db_path, "select count(*) = 6 from channels where bot_member", timeout=15)
        await fake.until(lambda: len(fake.of("chat.postMessage")) >= len(CHANNELS))  # hellos
        hellos = len(fake.of("chat.postMessage"))
        # Every channel's schedule comes due in the same minute, at least 20 s from now.
        due = (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)
        for channel in CHANNELS:
            await cli(
                db_path, "schedule", "prompt", "any", "every", "day", "at",
                f"{due:%H:%M}", "in", f"#ips-{channel.lower()}",
            )  # fmt: skip
        fake.slow("chat.postMessage", 0.5)  # posts one by one, slowly enough to stop mid-way

        def posted() -> int:
            return len(fake.of("chat.postMessage")) - hellos

        await fake.until(lambda: posted() >= 2, timeout=150)
        fake.slow("chat.postMessage", 60)  # the next is posted, and never answered
        await fake.until(lambda: posted() >= 3, timeout=30)
        assert first.process.returncode is None
        first.process.kill()
        await first.process.wait()
    finally:
        await first.stop()
    before = [str(c.args["channel"]) for c in fake.of("chat.postMessage")[hellos:]]
    assert 3 <= len(before) < len(CHANNELS) and set(Counter(before).values()) == {1}

    fake.slow("chat.postMessage", 0)
    again = await Served.start(fake, db_path)
    try:
        await fake.until(
            lambda: len(fake.of("chat.postMessage")) - hellos >= len(CHANNELS), timeout=60
        )
        # All but the one in doubt are done (the post comes before its job closes).
        done = f"select count(*) = {len(CHANNELS) - 1} from jobs where kind = '{POST_PROMPT}'"
        await until_db(db_path, done + " and state = 'done'", timeout=30)
    finally:
        await again.stop()
    after = [str(c.args["channel"]) for c in fake.of("chat.postMessage")[hellos:]]
    assert Counter(after) == Counter(CHANNELS)  # exactly one each, across both runs
