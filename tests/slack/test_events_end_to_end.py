"""Regional events on Slack, end to end: `copbot serve` as a subprocess against a fake
Slack; `/cop region link North` in a channel; `copbot events add` from another process for
10:00 London on a date after the next change of the clocks; exactly one announcement in
that channel, at 10:00 local; its "Add to calendar" link, fetched from the running copbot,
carries the same instant; a "Going" press updates its counts in place."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from storage import sqlite
from tests.slack import signing
from tests.slack.conftest import fixture
from tests.slack.fake_slack import SIGNING_SECRET, FakeSlack
from tests.slack.test_end_to_end import C1, Copbot
from tests.slack.test_end_to_end import copbot as copbot
from tests.support.server import copbot_command

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan", "U1": "Ade"},
        channels={C1: "ips-north", "C2": "ips-london"},
    ).start()
    yield slack
    await slack.close()


def after_the_next_clock_change() -> date:
    """A weekday a few days after the next time UK clocks change."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    while True:
        before = datetime(day.year, day.month, day.day, 0, tzinfo=LONDON).utcoffset()
        after = datetime(day.year, day.month, day.day, 12, tzinfo=LONDON).utcoffset()
        if before != after:
            return day + timedelta(days=4)
        day += timedelta(days=1)


def blocks_of(call: Any) -> list[dict[str, Any]]:
    blocks = call.args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def text_of(call: Any) -> str:
    return json.dumps(blocks_of(call), ensure_ascii=False)


def linked(db_path: Path) -> bool:
    conn = sqlite.connect(db_path)
    try:
        return bool(conn.execute("select count(*) from region_links").fetchone()[0])
    finally:
        conn.close()


async def test_an_event_added_from_the_command_line_is_announced_once_and_answered(
    copbot: Copbot, fake: FakeSlack, db_path: Path
) -> None:
    fields = fixture("slash_command") | {
        "text": "region link North",
        "user_id": "UADMIN",
        "user_name": "alex",
        "channel_id": C1,
        "channel_name": "ips-north",
        "trigger_id": "trigger-events-1",
        "response_url": f"{fake.api_url}unused-response-url",
    }
    body, kind = signing.command_body(fields)
    assert (await copbot.post(body, signing.headers(SIGNING_SECRET, body, kind)))[0] == 200
    async with asyncio.timeout(10):
        while not linked(db_path):
            await asyncio.sleep(0.05)

    day = after_the_next_clock_change()
    added = await asyncio.create_subprocess_exec(
        *copbot_command(), "events", "add", "--db", str(db_path),
        "--title", "Conversations about race with IPS clients", "--region", "north",
        "--start", f"{day:%Y-%m-%d} 10:00", "--duration", "90",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await added.communicate()
    assert added.returncode == 0, err.decode()
    assert out.decode().startswith("event 1 planned: Conversations about race")

    def announcements() -> list[Any]:
        return [c for c in fake.of("chat.postMessage") if "Conversations about race" in text_of(c)]

    # The running copbot looks for jobs from other processes every 20 seconds.
    [post] = await fake.until(announcements, timeout=60)
    assert post.args["channel"] == C1
    assert ", 10:00 to 11:30" in text_of(post) and f" {day.day} " in text_of(post)
    # "Add to calendar" leads to the event's .ics, served by the same copbot: 10:00 London.
    [address] = re.findall(r"<(http[^|>]+)\|Add '[^']+' to your calendar>", text_of(post))
    assert address == f"{copbot.url}/calendar/event/1.ics"
    async with copbot.session.get(address) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
        [vevent] = icalendar.Calendar.from_ical(await response.read()).events
    starts = datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)
    assert vevent.start == starts and str(vevent.start.tzinfo) == "Europe/London"
    assert vevent.start.astimezone(UTC) == starts.astimezone(UTC)
    [going] = [
        e
        for b in blocks_of(post)
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Going"
    ]

    payload = copy.deepcopy(fixture("block_actions"))
    ts = str(post.answer["ts"])
    payload["user"] = {"id": "U1", "username": "ade", "name": "ade", "team_id": "T1"}
    payload["container"] |= {"message_ts": ts, "thread_ts": None, "channel_id": C1}
    payload["channel"] = {"id": C1, "name": "ips-north"}
    payload["message"] |= {"ts": ts, "thread_ts": None}
    payload["actions"][0] |= {"action_id": going["action_id"], "value": going["value"]}
    body, kind = signing.interaction_body(payload)
    assert (await copbot.post(body, signing.headers(SIGNING_SECRET, body, kind)))[0] == 200
    [update] = await fake.until(lambda: fake.of("chat.update"), timeout=10)
    assert update.args["channel"] == C1 and update.args["ts"] == ts
    assert "Going 1 · Maybe 0" in text_of(update)
    assert len(announcements()) == 1  # exactly one, in that channel only
