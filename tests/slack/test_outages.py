"""Slack having a bad time (HTTP 500s, 502s, broken JSON, 429s) for a while: every event
acknowledged meanwhile is archived once, /healthz says what is degraded, and copbot
recovers on its own, without a restart."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.slack.conftest import ADMIN, SlackBot

BAD_TIME = ["500", "malformed", "502", "503"]


def reply(n: int, root: str) -> dict[str, Any]:
    ts = f"1800000{n:03d}.000100"
    return {
        "token": "XXYYZZ",
        "team_id": "T1",
        "api_app_id": "A0COPBOT",
        "type": "event_callback",
        "event_id": f"EvOut{n}",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "user": "U1SAM",
            "text": f"outage reply {n}",
            "ts": ts,
            "thread_ts": root,
            "channel": "C1NORTH",
            "event_ts": ts,
            "channel_type": "channel",
        },
    }


def archived(slack: SlackBot) -> list[str]:
    from storage import sqlite

    conn = sqlite.connect(slack.db_path)
    try:
        rows = conn.execute("select text from archive_messages order by text").fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


async def health(slack: SlackBot) -> dict[str, Any]:
    r = await slack.client.get("/healthz")
    assert r.status == 200
    body: dict[str, Any] = await r.json()
    return body


async def test_a_slack_outage_loses_nothing_and_heals_without_a_restart(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    await slack.command("prompt language", user=ADMIN)
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    root = post.answer["ts"]
    assert (await health(slack))["status"] == "ok"

    # Slack goes bad for every call copbot makes to it.
    for method in ("chat.postMessage", "chat.postEphemeral", "users.info", "conversations.info"):
        slack.fake.outage(method, BAD_TIME * 2)
    for n in range(6):
        assert (await slack.event(reply(n, root))).status == 200
    await slack.command("prompt language", user=ADMIN)  # a post that fails meanwhile
    await slack.until(lambda: any(c.outcome in BAD_TIME for c in slack.fake.calls))

    async def degraded() -> dict[str, Any] | None:
        body = await health(slack)
        return body if body["status"] == "degraded" else None

    body = await slack.until_async(degraded)
    assert "slack" in body["degraded"]
    assert "outage reply" not in str(body)

    # Slack is well again: the same copbot posts, and says so.
    slack.fake.heal()
    posted = len(slack.fake.of("chat.postMessage"))
    await slack.command("prompt language", user=ADMIN)
    await slack.fake.until(lambda: len(slack.fake.of("chat.postMessage")) > posted)

    async def healed() -> dict[str, Any] | None:
        body = await health(slack)
        return body if body["status"] == "ok" else None

    assert "degraded" not in await slack.until_async(healed)
    await slack.until(lambda: len([t for t in archived(slack) if t.startswith("outage")]) == 6)
    assert [t for t in archived(slack) if t.startswith("outage")] == [
        f"outage reply {n}" for n in range(6)
    ]
    # Failing to post, and failing to say so, are logged as such, never as copbot's own bug.
    assert not [r for r in caplog.records if "AttributeError" in r.getMessage()]
