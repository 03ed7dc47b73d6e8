"""The Teams ingest benchmark: channel replies through POST /api/messages.

    python -m bench ingest --platform teams [--quick] [--size N] [--clients 1,16,64]

Concurrent clients (1, then 16, then 64, unless --clients names others) send Teams
`message` activities (replies in a prompt's thread) to `copbot serve` with Teams on and a fake Bot Framework connector as the activities'
serviceUrl. Teams runs unauthenticated here (no app id: no token to validate), so the
figures leave out JWT validation, which a real deployment adds to each request. The
reference, measured in the same run with the same clients: a minimal aiohttp handler that
parses the JSON and inserts one row per request into SQLite (WAL, synchronous=FULL: an
acknowledged activity survives a power cut, as copbot promises).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.ingest import MARK, _archived, _searchable, copbot_figures
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
from tests.support.server import copbot_command, free_port, until_healthy
from tests.teams.fake_connector import NORTH, TEAM, TENANT, FakeConnector

ADMIN_AAD = "00000000-0000-0000-0000-00000000ad01"  # an Entra object id, as COPBOT_ADMINS needs
ADMIN = {"id": "29:1admin", "name": "Alex", "aadObjectId": ADMIN_AAD}
BOT = {"id": "28:bench-bot", "name": "copbot"}
HEADERS = {"Content-Type": "application/json"}


def _activity(
    service_url: str, ident: str, root: str, who: dict[str, str], text: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": ident,
        "timestamp": "2026-11-30T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": who,
        "recipient": BOT,
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={root}",
        },
        "channelData": {
            "channel": {"id": NORTH},
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
        },
        "text": text,
        "textFormat": "plain",
    }


def _replies(
    service_url: str, n: int, root: str, run: str, first: int = 0
) -> list[tuple[str, dict[str, str]]]:
    requests = []
    for i in range(first, first + n):
        who = {"id": f"29:{i % 50}", "name": f"Person {i % 50}", "aadObjectId": f"aad-{i % 50}"}
        text = f"<p>reply {i}: what we noticed about language in referral letters {MARK}</p>"
        body = json.dumps(_activity(service_url, f"{run}{i}", root, who, text))
        requests.append((body, HEADERS))
    return requests


async def _post(url: str, activity: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session, session.post(url, json=activity) as r:
        assert r.status == 200, r.status


async def _until(check: Any) -> Any:
    """Poll ``check`` (up to 15 s) until it is truthy."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.02)
    raise SystemExit("the fake connector never saw what copbot should have sent")


async def bench_copbot(n: int, folder: Path, levels: tuple[int, ...]) -> dict[str, float]:
    fake = await FakeConnector().start()
    db = folder / "copbot.db"
    port = free_port()
    env = {
        **os.environ,
        "COPBOT_TEAMS": "on",
        "COPBOT_TEAMS_TENANTS": TENANT,
        "COPBOT_ADMINS": f"teams:{ADMIN_AAD}",
        "COPBOT_PLAYGROUND": "auto",
    }
    server_log = (folder / "copbot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *copbot_command(), "serve", "--port", str(port), "--db", str(db),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=server_log,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/api/messages"
        await until_healthy(f"{base}/healthz", process)
        install = _activity(fake.url, "install", TEAM, ADMIN, "") | {
            "type": "conversationUpdate",
            "membersAdded": [BOT],
        }
        install["channelData"] = {
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
            "eventType": "teamMemberAdded",
        }
        await _post(url, install)
        await _until(lambda: fake.of("create"))
        command = _activity(fake.url, "cmd", "cmd", ADMIN, "<at>copbot</at> prompt")
        command["entities"] = [{"type": "mention", "mentioned": BOT, "text": "<at>copbot</at>"}]
        await _post(url, command)
        post = await _until(
            lambda: [
                c
                for c in fake.of("create")
                if c.body.get("isGroup") and c.body["channelData"]["channel"]["id"] == NORTH
            ]
        )
        root = post[-1].activity_id
        await load(url, _replies(fake.url, 200, root, "warm"))
        idle = memory_kib(process.pid)["VmRSS"]
        cpu_before = cpu_seconds(process.pid)
        acked, per_level = await load_levels(
            url, lambda run, first: _replies(fake.url, n, root, run, first=200 + first), n, levels
        )
        last_ack = time.perf_counter()
        peak = memory_kib(process.pid)["VmHWM"]
        searchable, drain = await _searchable(db, acked + 200, last_ack)
        cpu_s = cpu_seconds(process.pid) - cpu_before  # everything acknowledged archived
        archived = await _archived(db, acked + 200)
    finally:
        await stop(process)
        await fake.close()
        server_log.close()
    figures = copbot_figures(
        levels, per_level, acked, archived - 200, searchable - 200, drain, folder, (idle, peak)
    )
    return figures | {"cpu_s": cpu_s}


REFERENCE = """
import json, sqlite3, sys
from aiohttp import web
db = sqlite3.connect(sys.argv[2], isolation_level=None, check_same_thread=False)
db.execute("pragma journal_mode = wal")  # synchronous stays FULL, SQLite's default
db.execute("create table if not exists events (id integer primary key, body text)")
async def messages(request):
    body = await request.read()
    activity = json.loads(body)
    if not isinstance(activity, dict) or "type" not in activity:
        return web.Response(status=400)
    db.execute("insert into events (body) values (?)", [body.decode()])
    return web.Response(status=200)
async def health(request):
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/api/messages", messages)
app.router.add_get("/healthz", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def bench_reference(n: int, folder: Path, levels: tuple[int, ...]) -> dict[str, float]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REFERENCE, str(port), str(folder / "reference.db"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        await until_healthy(f"{base}/healthz", process)
        url = f"{base}/api/messages"
        await load(url, _replies("http://127.0.0.1:9/", 200, "1", "warm"))
        cpu_before = cpu_seconds(process.pid)
        _, measured = await load_levels(
            url, lambda run, first: _replies("http://127.0.0.1:9/", n, "1", run, first), n, levels
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


async def run(n: int, levels: tuple[int, ...] = LEVELS) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        reference = await bench_reference(n, Path(folder), levels)
        ours = await bench_copbot(n, Path(folder), levels)
    return per_request({**reference, **ours})


def main(argv: list[str], out: dict[str, Any] | None = None) -> int:
    n = 300 if "--quick" in argv else 5000
    if "--size" in argv:
        n = int(argv[argv.index("--size") + 1])
    levels: tuple[int, ...] = LEVELS
    if "--clients" in argv:
        levels = tuple(int(c) for c in argv[argv.index("--clients") + 1].split(","))
    f = asyncio.run(run(n, levels))
    if out is not None:
        out.update(f, requests=n, levels=list(levels))
    share = f["copbot_rps"] / f["reference_rps"]
    print(
        f"copbot Teams ingest benchmark: {n:,} channel replies (and 2% of them again, as Teams"
        f" redelivers) at each of {', '.join(map(str, levels))} concurrent clients"
        f" ({os.cpu_count()} cores), unauthenticated"
    )
    print_levels(f, levels)
    print(
        f"copbot      {f['copbot_rps']:7.0f} requests/s   ack p50 {f['ack_p50_ms']:.1f} ms   "
        f"p99 {f['ack_p99_ms']:.1f} ms"
        + (" (target < 20 ms at 16 clients)" if headline(levels) == CLIENTS else "")
    )
    print(
        f"reference   {f['reference_rps']:7.0f} requests/s   p99 {f['reference_p99_ms']:.1f} ms   "
        f"(aiohttp, parse, one SQLite insert a request, fsynced)"
    )
    print(
        f"            copbot runs at {share:.2f} of the reference's throughput (target ≥ 0.9 at 16 and 64 clients)"
    )
    print(
        f"archive     {f['archived']:,} of {f['acked']:,} acknowledged replies archived"
        + (" (all)" if f["archived"] == f["acked"] else " (MISSING SOME)")
    )
    everything = f["searchable"] == f["acked"]
    print(
        f"search      every acknowledged reply found {f['searchable_after_s']:.2f} s after the last acknowledgement"
        if everything
        else f"search      only {f['searchable']:,} of {f['acked']:,} acknowledged replies found (MISSING SOME)"
    )
    print(f"server log  {f['server_errors']} errors")
    return 0 if f["archived"] == f["acked"] and everything else 1
