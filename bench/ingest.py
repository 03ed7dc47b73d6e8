"""The Slack ingest benchmark: signed thread replies through POST /slack/events.

    python -m bench ingest [--quick] [--size N] [--clients 1,16,64] [--crash]

Concurrent clients (1, then 16, then 64, unless --clients names others) send signed
`message` events (replies in a prompt's thread) to `copbot serve`, configured for Slack
against a fake Slack Web API; with --crash, 16 clients, once. The reference, measured
in the same run with the same clients: a minimal aiohttp handler that verifies the
signature and inserts one row per request into SQLite (WAL, with SQLite's default
synchronous=FULL: the same promise copbot makes, that an acknowledged event survives even
a power cut). Reported: throughput of each,
copbot's acknowledgement latency (p50, p99), whether every acknowledged message
reached the archive, and how long after the last acknowledgement every one of them could
be found by search (the inbox's drain: acknowledged is not yet archived). With --crash,
copbot is killed (SIGKILL) at the last acknowledgement and started again: reported are the
events it had left to handle and how long the restarted copbot took to replay them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import (
    CLIENTS,
    LEVELS,
    cpu_seconds,
    headline,
    load,
    load_levels,
    memory_kib,
    per_request,
    print_levels,
    stop,
)
from storage import sqlite
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.support.server import copbot_command, free_port, until_healthy

CHANNEL = "C1"
MARK = "benchmarked"


def _signed(body: str, stamp: int) -> dict[str, str]:
    base = f"v0:{stamp}:{body}".encode()
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature,
    }


def _replies(n: int, root: str, run: str, first: int = 0) -> list[tuple[str, dict[str, str]]]:
    stamp = int(time.time())
    requests = []
    for i in range(first, first + n):
        ts = f"1800{i:06d}.000100"
        envelope = {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{run}{i}",
            "event_time": stamp,
            "event": {
                "type": "message",
                "user": f"U{i % 50}",
                # MARK: a word no prompt has, so that search finds these replies only.
                "text": f"reply {i}: what we noticed about language in referral letters {MARK}",
                "ts": ts,
                "thread_ts": root,
                "channel": CHANNEL,
                "event_ts": ts,
                "channel_type": "channel",
            },
        }
        body = json.dumps(envelope)
        requests.append((body, _signed(body, stamp)))
    return requests


async def bench_copbot(
    n: int, folder: Path, crash: bool = False, levels: tuple[int, ...] = (CLIENTS,)
) -> dict[str, float]:
    fake = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex"}, channels={CHANNEL: "ips-north"}
    ).start()
    db = folder / "copbot.db"
    port = free_port()
    env = {
        **os.environ,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake.api_url,
        "COPBOT_ADMINS": "slack:UADMIN",
    }
    server_log = (folder / "copbot.log").open("wb")

    def serve() -> Any:
        return asyncio.create_subprocess_exec(
            *copbot_command(), "serve", "--port", str(port), "--db", str(db),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=server_log,
        )  # fmt: skip

    process = await serve()
    replay: dict[str, float] = {}
    cpu: dict[str, float] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        await until_healthy(f"{base}/healthz", process)
        root = await _post_prompt(base, fake)
        # Warm up (connections, caches), then the measured runs, one a concurrency.
        await load(f"{base}/slack/events", _replies(200, root, "warm"))
        idle = memory_kib(process.pid)["VmRSS"]
        cpu_before = cpu_seconds(process.pid)
        acked, per_level = await load_levels(
            f"{base}/slack/events",
            lambda run, first: _replies(n, root, run, first=200 + first),
            n,
            levels,
        )
        last_ack = time.perf_counter()
        peak = memory_kib(process.pid)["VmHWM"]
        if crash:
            process.kill()  # as a power cut would, mid-drain
            await process.wait()
            replay["left_to_replay"] = _pending(db)
            restarted = time.perf_counter()
            process = await serve()
            await until_healthy(f"{base}/healthz", process)
            searchable, drain = await _searchable(db, acked + 200, restarted)
            replay["replay_s"] = drain
        else:
            searchable, drain = await _searchable(db, acked + 200, last_ack)
            # Everything acknowledged has been archived: its whole cost is counted.
            cpu["cpu_s"] = cpu_seconds(process.pid) - cpu_before
        archived = await _archived(db, acked + 200)
    finally:
        await stop(process)
        await fake.close()
        server_log.close()
    figures = copbot_figures(
        levels, per_level, acked, archived - 200, searchable - 200, drain, folder, (idle, peak)
    )
    return figures | replay | cpu


def copbot_figures(
    levels: tuple[int, ...],
    per_level: dict[str, float],
    acked: int,
    archived: int,
    searchable: int,
    drain: float,
    folder: Path,
    memory_kib: tuple[int, int],
) -> dict[str, float]:
    """The figures every ingest run reports, from its loads, its server's log and memory
    (idle, peak); the one-line figures are the headline level's."""
    # An error while draining (a failed write, say) stalls the inbox: count them.
    errors = sum(" ERROR " in line for line in (folder / "copbot.log").read_text().splitlines())
    main = headline(levels)
    idle, peak = memory_kib
    return per_level | {
        "copbot_rps": per_level[f"c{main}_rps"],
        "ack_p50_ms": per_level[f"c{main}_ack_p50_ms"],
        "ack_p99_ms": per_level[f"c{main}_ack_p99_ms"],
        "acked": acked,
        "archived": archived,
        "searchable": searchable,
        "searchable_after_s": drain,
        "server_errors": errors,
        "rss_idle_mib": idle / 1024,
        "rss_peak_mib": peak / 1024,
    }


async def _post_prompt(base: str, fake: FakeSlack) -> str:
    from urllib.parse import urlencode

    fields = {
        "token": "x",
        "team_id": "T1",
        "channel_id": CHANNEL,
        "channel_name": "ips-north",
        "user_id": "UADMIN",
        "user_name": "alex",
        "command": "/cop",
        "text": "prompt",
        "trigger_id": "trigger-bench",
        "response_url": f"{fake.api_url}unused",
    }
    body = urlencode(fields)
    headers = _signed(body, int(time.time())) | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/slack/events", data=body, headers=headers) as r,
    ):
        assert r.status == 200
    [post] = await fake.until(lambda: fake.of("chat.postMessage"), timeout=15)
    return str(post.answer["ts"])


async def _searchable(db: Path, expected: int, since: float) -> tuple[int, float]:
    """Wait (up to a minute) until search finds ``expected`` replies; return how many it
    found and the seconds from ``since`` (the last acknowledgement) until then."""
    count = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = sqlite.connect(db)
        try:
            count = conn.execute(
                "select count(*) from archive_fts where archive_fts match ?", [f"text : {MARK}"]
            ).fetchone()[0]
        finally:
            conn.close()
        if count >= expected:
            break
        await asyncio.sleep(0.02)
    return int(count), time.perf_counter() - since


def _pending(db: Path) -> int:
    conn = sqlite.connect(db)
    try:
        return int(conn.execute("select count(*) from inbox where state = 'pending'").fetchone()[0])
    finally:
        conn.close()


async def _archived(db: Path, expected: int) -> int:
    """Wait (up to a minute) until the archive holds ``expected`` messages; return the count."""
    count = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = sqlite.connect(db)
        try:
            count = conn.execute("select count(*) from archive_messages").fetchone()[0]
        finally:
            conn.close()
        if count >= expected:
            break
        await asyncio.sleep(0.2)
    return int(count)


REFERENCE = """
import hashlib, hmac, sqlite3, sys, time
from aiohttp import web
secret = sys.argv[3].encode()
db = sqlite3.connect(sys.argv[2], isolation_level=None, check_same_thread=False)
db.execute("pragma journal_mode = wal")  # synchronous stays FULL, SQLite's default
db.execute("create table if not exists events (id integer primary key, body text)")
async def events(request):
    body = await request.read()
    stamp = request.headers.get("X-Slack-Request-Timestamp", "0")
    if abs(time.time() - int(stamp)) > 300:
        return web.Response(status=401)
    expected = "v0=" + hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Slack-Signature", "")):
        return web.Response(status=401)
    db.execute("insert into events (body) values (?)", [body.decode()])
    return web.Response(text="")
async def health(request):
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/slack/events", events)
app.router.add_get("/healthz", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def bench_reference(
    n: int, folder: Path, levels: tuple[int, ...] = (CLIENTS,)
) -> dict[str, float]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REFERENCE, str(port), str(folder / "reference.db"), SIGNING_SECRET,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        await until_healthy(f"{base}/healthz", process)
        await load(f"{base}/slack/events", _replies(200, "1.0", "warm"))
        cpu_before = cpu_seconds(process.pid)
        _, measured = await load_levels(
            f"{base}/slack/events", lambda run, first: _replies(n, "1.0", run, first), n, levels
        )
        measured["cpu_s"] = cpu_seconds(process.pid) - cpu_before
        figures = {f"reference_{k}": v for k, v in measured.items()}
    finally:
        await stop(process)
    main_level = headline(levels)
    return figures | {
        "reference_rps": figures[f"reference_c{main_level}_rps"],
        "reference_p99_ms": figures[f"reference_c{main_level}_ack_p99_ms"],
    }


async def run(n: int, crash: bool = False, levels: tuple[int, ...] = LEVELS) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        reference = await bench_reference(n, Path(folder), levels)
        ours = await bench_copbot(n, Path(folder), crash, levels)
    return per_request({**reference, **ours})


def main(argv: list[str], out: dict[str, Any] | None = None) -> int:
    n = 300 if "--quick" in argv else 5000
    if "--size" in argv:
        n = int(argv[argv.index("--size") + 1])
    levels: tuple[int, ...] = LEVELS
    if "--clients" in argv:
        levels = tuple(int(c) for c in argv[argv.index("--clients") + 1].split(","))
    crash = "--crash" in argv
    if crash:
        levels = (CLIENTS,)  # the replay after a kill is timed once
    figures = asyncio.run(run(n, crash=crash, levels=levels))
    if out is not None:
        out.update(figures, requests=n, levels=list(levels))
    share = figures["copbot_rps"] / figures["reference_rps"]
    print(
        f"copbot Slack ingest benchmark: {n:,} signed thread replies (and 2% of them again, as"
        f" Slack redelivers) at each of {', '.join(map(str, levels))} concurrent clients"
        f" ({os.cpu_count()} cores)"
    )
    print_levels(figures, levels)
    print(
        f"copbot      {figures['copbot_rps']:7.0f} requests/s   ack p50 {figures['ack_p50_ms']:.1f} ms   "
        f"p99 {figures['ack_p99_ms']:.1f} ms"
        + (" (target < 20 ms at 16 clients)" if headline(levels) == CLIENTS else "")
    )
    print(
        f"reference   {figures['reference_rps']:7.0f} requests/s   p99 {figures['reference_p99_ms']:.1f} ms   "
        f"(aiohttp, signature check, one SQLite insert a request, fsynced)"
    )
    print(
        f"            copbot runs at {share:.2f} of the reference's throughput (target ≥ 0.9 at 16 and 64 clients)"
    )
    print(
        f"archive     {figures['archived']:,} of {figures['acked']:,} acknowledged replies archived"
        + (" (all)" if figures["archived"] == figures["acked"] else " (MISSING SOME)")
    )
    everything = figures["searchable"] == figures["acked"]
    print(
        f"search      every acknowledged reply found {figures['searchable_after_s']:.2f} s after"
        f" {'the restart' if 'replay_s' in figures else 'the last acknowledgement'}"
        if everything
        else f"search      only {figures['searchable']:,} of {figures['acked']:,} acknowledged"
        f" replies found after {figures['searchable_after_s']:.0f} s (MISSING SOME)"
    )
    if "replay_s" in figures:
        print(
            f"crash       killed at the last acknowledgement with {figures['left_to_replay']:,.0f}"
            f" events left to handle; the restarted copbot made every reply searchable"
            f" {figures['replay_s']:.2f} s after it was started"
        )
    print(f"server log  {figures['server_errors']} errors")
    return 0 if figures["archived"] == figures["acked"] and everything else 1
