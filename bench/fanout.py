"""The fan-out benchmark: one event announced in N Slack channels and N Teams channels.

    python -m bench fanout [--channels N]

`copbot serve` runs as its own process with Slack and Teams on, against a fake Slack Web
API and a fake Bot Framework connector that enforce the platforms' published rate limits
(tests/support/rate_limits.py) and answer 429 with Retry-After when they are exceeded. The
event is planned, and the channels linked to its region, before copbot starts, so it
announces at once (as after a restart).

The limit-bound minimum is the shortest time, from the first post to the last, that the
published limits allow for the same posts: one post per channel never meets a
per-channel limit, so it is set by the app-wide limits (Teams: 50 requests a second; Slack
publishes no figure for its workspace-wide limit, so none is enforced or counted).

The reference, measured in the same run against fresh fakes with the same limits: a bare
aiohttp client making the same posts on the ideal schedule, which shows what the machine
allows under its present load.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.teams.conversations import Place
from bench.load import stop
from storage import sqlite
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlack
from tests.support.rate_limits import (
    SLACK_PER_CHANNEL,
    TEAMS_PER_APP,
    TEAMS_PER_CONVERSATION,
    Limits,
    Rate,
)
from tests.support.server import copbot_command, free_port, until_healthy
from tests.teams.fake_connector import BOT, TENANT, FakeConnector
from tests.teams.fake_connector import TEAM as TEAMS_TEAM

TITLE = "Regional session: supporting people into work after a long absence"
TARGET = 1.2  # within this much of the limit-bound minimum


def limit_bound(posts: int, overall: tuple[Rate, ...]) -> float:
    """Seconds from the first post to the last that app-wide limits allow at best: each
    window's worth of posts at once, the next batch a window later."""
    return max((math.ceil(posts / r.limit) - 1) * r.per for r in overall) if overall else 0.0


def _seed(db: Path, slack_channels: list[str], teams_channels: list[str], service_url: str) -> None:
    place = Place(service_url, TENANT, BOT, TEAMS_TEAM).dumps()
    now = datetime.now(UTC).isoformat()
    conn = sqlite.connect(db)
    try:
        with conn:
            conn.executemany(
                "insert into region_links (platform, workspace, channel_id, channel_name,"
                " region, linked_by, linked_at) values (?, ?, ?, ?, 'north', '', ?)",
                [("slack", TEAM, c, f"ips-north-{c.lower()}", now) for c in slack_channels]
                + [("teams", TENANT, c, "", now) for c in teams_channels],
            )
            conn.executemany(
                "insert into teams_conversations (kind, key, team, name, reference, updated_at)"
                " values ('channel', ?, ?, ?, ?, ?)",
                [(c, TEAMS_TEAM, f"North {i}", place, now) for i, c in enumerate(teams_channels)],
            )
    finally:
        conn.close()


def _announced(db: Path) -> bool:
    conn = sqlite.connect(db)
    try:
        row = conn.execute("select announced_at is not null from events").fetchone()
        return bool(row and row[0])
    finally:
        conn.close()


async def run(n: int) -> dict[str, float]:
    slack_channels = [f"C{i:04}" for i in range(n)]
    teams_channels = [f"19:north{i:04}@thread.tacv2" for i in range(n)]
    slack_limits = Limits(per_key=SLACK_PER_CHANNEL, methods=frozenset({"chat.postMessage"}))
    teams_limits = Limits(per_key=TEAMS_PER_CONVERSATION, overall=TEAMS_PER_APP)
    slack = await FakeSlack(
        users={"UBOT": "copbot"},
        channels={c: f"ips-north-{c.lower()}" for c in slack_channels},
        limits=slack_limits,
    ).start()
    teams = await FakeConnector(channels={}, limits=teams_limits).start()
    with tempfile.TemporaryDirectory(prefix="copbot-fanout-") as folder:
        db = Path(folder) / "copbot.db"
        migrated = await asyncio.create_subprocess_exec(
            *copbot_command(), "db", "migrate", "--db", str(db),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await migrated.wait()
        start = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d 10:00")
        added = await asyncio.create_subprocess_exec(
            *copbot_command(), "events", "add", "--db", str(db),
            "--title", TITLE, "--region", "north", "--start", start,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await added.communicate()
        if added.returncode != 0:
            raise SystemExit(f"copbot events add failed: {err.decode().strip()}")
        _seed(db, slack_channels, teams_channels, teams.url)
        port = free_port()
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": slack.api_url,
            "COPBOT_TEAMS": "on",
            "COPBOT_TEAMS_TENANTS": TENANT,
            "COPBOT_PLAYGROUND": "auto",
        }
        log = (Path(folder) / "copbot.log").open("wb")
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *copbot_command(), "serve", "--port", str(port), "--db", str(db),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            await until_healthy(f"http://127.0.0.1:{port}/healthz", process)
            async with asyncio.timeout(120 + n):
                while True:  # copbot writes the database; this process only reads it
                    if _announced(db):
                        break
                    await asyncio.sleep(0.05)
        finally:
            await stop(process)
            log.close()
        errors = [
            line
            for line in (Path(folder) / "copbot.log").read_text().splitlines()
            if " ERROR " in line or "Traceback" in line
        ]
    await slack.close()
    await teams.close()

    slack_posts = Counter(str(c.args["channel"]) for c in slack.of("chat.postMessage"))
    teams_posts = Counter(
        str(c.body["channelData"]["channel"]["id"])
        for c in teams.of("create")
        if c.body.get("isGroup")
    )
    times = slack_limits.accepted.get("chat.postMessage", []) + teams_limits.accepted.get(
        "create", []
    )
    first, last = min(times), max(times)
    return {
        "channels": n,
        "slack_once": float(slack_posts == Counter(slack_channels)),
        "teams_once": float(teams_posts == Counter(teams_channels)),
        "span": last - first,
        "slack_span": _span(slack_limits.accepted.get("chat.postMessage", [])),
        "teams_span": _span(teams_limits.accepted.get("create", [])),
        "from_start": last - started,
        "minimum": limit_bound(n, TEAMS_PER_APP),
        "slack_429": slack_limits.refused,
        "teams_429": teams_limits.refused,
        "errors": len(errors),
    }


async def reference(n: int) -> dict[str, float]:
    """The same posts from a bare aiohttp client, against the same fakes and limits, on the
    ideal schedule (Teams: 50 at once, the next 50 a second after the first was answered; 8
    in flight a platform): what this machine allows under its present load."""
    slack_limits = Limits(per_key=SLACK_PER_CHANNEL, methods=frozenset({"chat.postMessage"}))
    teams_limits = Limits(per_key=TEAMS_PER_CONVERSATION, overall=TEAMS_PER_APP)
    slack = await FakeSlack(users={"UBOT": "copbot"}, limits=slack_limits).start()
    teams = await FakeConnector(channels={}, limits=teams_limits).start()
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    [rate] = TEAMS_PER_APP
    async with aiohttp.ClientSession() as http:
        slack_turns, teams_turns = asyncio.Semaphore(8), asyncio.Semaphore(8)
        batch_answered: list[float] = []

        async def to_slack(i: int) -> None:
            body = {"channel": f"C{i:04}", "text": TITLE}
            async with slack_turns:
                while True:
                    url = slack.api_url + "chat.postMessage"
                    async with http.post(url, json=body, headers=headers) as r:
                        if r.status != 429:
                            return
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

        async def to_teams(i: int) -> None:
            body = {
                "isGroup": True,
                "channelData": {"channel": {"id": f"19:north{i:04}@thread.tacv2"}},
                "activity": {"type": "message", "text": TITLE},
            }
            if i >= rate.limit:  # a window after the first of the batch before was answered
                await answered[i - rate.limit].wait()
                await asyncio.sleep(
                    max(0.0, batch_answered[i - rate.limit] + rate.per - time.monotonic())
                )
            async with teams_turns:
                while True:
                    async with http.post(teams.url + "v3/conversations", json=body) as r:
                        if r.status != 429:
                            batch_answered[i] = time.monotonic()
                            answered[i].set()
                            return
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

        batch_answered.extend([0.0] * n)
        answered = [asyncio.Event() for _ in range(n)]
        # Each Teams post waits on the one a batch earlier, so they go in order.
        teams_posts = asyncio.gather(*(to_teams(i) for i in range(n)))
        await asyncio.gather(*(to_slack(i) for i in range(n)), teams_posts)
    await slack.close()
    await teams.close()
    times = slack_limits.accepted.get("chat.postMessage", []) + teams_limits.accepted.get(
        "create", []
    )
    return {
        "span": max(times) - min(times),
        "slack_429": slack_limits.refused,
        "teams_429": teams_limits.refused,
    }


def _span(times: list[float]) -> float:
    return max(times) - min(times) if times else 0.0


QUICK_CHANNELS = 20  # per platform: what CI can afford


def main(argv: list[str], out: dict[str, Any] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fanout")
    parser.add_argument("--channels", type=int, default=None, metavar="N")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    channels = args.channels or (QUICK_CHANNELS if args.quick else 200)
    if channels < 1:
        parser.error("--channels must be at least 1")
    args.channels = channels
    figures = asyncio.run(run(args.channels))
    bare = asyncio.run(reference(args.channels))
    if out is not None:
        out.update(
            figures,
            channels=args.channels,
            reference_span=bare["span"],
            reference_slack_429=bare["slack_429"],
            reference_teams_429=bare["teams_429"],
        )
    n = args.channels
    minimum = figures["minimum"]
    print(f"copbot fan-out benchmark: one event to {n} Slack and {n} Teams channels")
    bound = (
        f"limit-bound minimum {minimum:.2f} s (Teams, 50 requests/s per app); ratio "
        f"{figures['span'] / minimum:.2f} (target <= {TARGET})"
        if minimum
        else "too few channels for the limits to bind (no minimum to compare with)"
    )
    print(f"first post to last: {figures['span']:.2f} s; {bound}")
    print(
        f"by platform: Slack {figures['slack_span']:.2f} s, Teams {figures['teams_span']:.2f} s;"
        f" from starting copbot to the last post {figures['from_start']:.2f} s"
    )
    print(
        f"reference, same run (a bare aiohttp client, same fakes and limits): first post to "
        f"last {bare['span']:.2f} s (copbot at {figures['span'] / bare['span']:.2f}x); "
        f"429s: Slack {bare['slack_429']:.0f}, Teams {bare['teams_429']:.0f}"
    )
    print(f"429s: Slack {figures['slack_429']:.0f}, Teams {figures['teams_429']:.0f}")
    once = figures["slack_once"] and figures["teams_once"]
    print(
        "exactly one post in every channel: "
        + ("yes" if once else "NO")
        + f"; errors in the server's log: {figures['errors']:.0f}"
    )
    return 0 if once and not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
