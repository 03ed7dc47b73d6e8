"""The start-up benchmark: `copbot serve` on a large archive, from starting the process to
``/healthz`` answering, and its memory (resident, VmRSS) once idle.

    python -m bench startup            # on an archive of 1,000,000 messages
    python -m bench startup --quick    # 20,000 messages, for CI

Each configuration people run is measured: the playground alone, Slack (against a fake Web
API, which copbot asks who it is as it starts) and Teams (unauthenticated, as for local
testing, with the playground). The archive is the archive benchmark's
(bench/.data/archive-N.db, imported with `copbot import slack-export` when missing), copied
so that the runs never change it, and copbot's code is compiled first, as a deployment's is
(docs/operations.md). The first start of each configuration is not counted: it
applies any pending migration, and warms the system's file cache as a running machine's is.

The reference, measured in the same run on the same copy: the least a Python service of
this kind costs, a bare aiohttp server answering ``/healthz`` with an SQLite ``select 1``.

Teams loads botbuilder at its first use, so its idle figure alone would flatter it: each
Teams start then also takes, from the loopback as local testing does, one channel reply
(archived without botbuilder) and then an installation in a team (a botbuilder turn, which
asks the fake connector for the team's channels and posts a greeting), and the memory is
read a second after each.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.archive import DATA, _copbot, _run, prepare
from bench.ingest_teams import ADMIN, BOT, _activity
from bench.load import memory_kib, stop
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.support.server import copbot_command, free_port, until_healthy
from tests.teams.fake_connector import TEAM, TENANT, FakeConnector

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("adapters", "bot", "prompts", "storage")
SIZE = 1_000_000
QUICK_SIZE = 20_000
RUNS = 3  # counted starts a configuration; the median is reported
QUICK_RUNS = 2
SETTLE_S = 1.0  # after /healthz first answers, before memory is read: start-up work ends
POLL_S = 0.01  # how often /healthz is asked while starting
TARGET_START_S = 1.0
TARGET_RSS_MIB = 60.0

CONFIGURATIONS: dict[str, dict[str, str]] = {
    "playground": {"COPBOT_PLAYGROUND": "on"},
    "slack": {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "COPBOT_ADMINS": "slack:UADMIN",
    },
    "teams": {
        "COPBOT_TEAMS": "on",
        "COPBOT_TEAMS_TENANTS": TENANT,
        "COPBOT_ADMINS": "teams:00000000-0000-0000-0000-00000000ad01",
        "COPBOT_PLAYGROUND": "auto",
    },
}

# A service doing nothing but answer /healthz from SQLite: Python, aiohttp and sqlite3.
REFERENCE = """
import sqlite3, sys
from aiohttp import web

conn = sqlite3.connect(sys.argv[2], check_same_thread=False)

async def healthz(request):
    conn.execute("select 1").fetchone()
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def archive(size: int) -> Path:
    """The archive benchmark's database of ``size`` messages, imported when missing."""
    db = DATA / f"archive-{size}.db"
    if not db.exists():
        DATA.mkdir(exist_ok=True)
        export = prepare(size)
        print(f"importing {size:,} messages into {db} …", flush=True)
        partial = db.with_name(f"{db.name}.partial")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        _run([*_copbot(), "import", "slack-export", str(export), "--db", str(partial)])
        partial.rename(db)  # only a finished import takes the name
    return db


def compiled() -> None:
    """Compile copbot's code, as deploying it does: a start then reads byte code, not source
    (which a process started with PYTHONDONTWRITEBYTECODE would compile every time)."""
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


def cpu_seconds(pid: int) -> float:
    """The processor time (user and system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Start = tuple[float, float, float, tuple[float, ...]]
Step = Callable[[str], Awaitable[None]]  # given the server's address, sends it something
TEAMS_STEPS = ("message", "turn")  # what Teams is sent after its idle reading, in order


async def _post(url: str, activity: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session, session.post(url, json=activity) as r:
        assert r.status == 200, r.status


def teams_steps(service_url: str) -> list[Step]:
    """A reply in a channel's thread (no botbuilder turn), then copbot installed in a team
    (a turn: botbuilder loaded, the connector asked for channels, a greeting posted)."""
    reply = _activity(service_url, "bench-reply", "1700000000000", ADMIN, "<p>noticed</p>")
    install = _activity(service_url, "bench-install", TEAM, ADMIN, "") | {
        "type": "conversationUpdate",
        "membersAdded": [BOT],
        "channelData": {
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
            "eventType": "teamMemberAdded",
        },
    }

    async def message(base: str) -> None:
        await _post(f"{base}/api/messages", reply)

    async def turn(base: str) -> None:
        await _post(f"{base}/api/messages", install)

    return [message, turn]


async def _start(
    command: list[str], env: dict[str, str], log: Path, steps: Sequence[Step] = ()
) -> Start:
    """Start ``command`` (it serves on ``env['PORT']``); return seconds to /healthz answering,
    the processor seconds it used until then (what a busy machine's other work doesn't
    change much), its resident memory (MiB) once idle, and then after each of ``steps``."""
    with log.open("ab") as output:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=output
        )
        try:
            await until_healthy(
                f"http://127.0.0.1:{env['PORT']}/healthz", process, timeout=120, every=POLL_S
            )
            up = time.perf_counter() - started
            cpu = cpu_seconds(process.pid)
            await asyncio.sleep(SETTLE_S)
            idle = memory_kib(process.pid)["VmRSS"] / 1024
            after = []
            for step in steps:
                await step(f"http://127.0.0.1:{env['PORT']}")
                await asyncio.sleep(SETTLE_S)
                after.append(memory_kib(process.pid)["VmRSS"] / 1024)
            return up, cpu, idle, tuple(after)
        finally:
            await stop(process)


def _serve(
    name: str, db: Path, slack_api: str, folder: Path
) -> tuple[list[str], dict[str, str], Path]:
    """The command, environment and log of `copbot serve` in one configuration."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COPBOT_", "SLACK_"))},
        **CONFIGURATIONS[name],
        "SLACK_API_URL": slack_api,
        "PORT": str(port),
    }
    command = [*copbot_command(), "serve", "--port", str(port), "--db", str(db)]
    return command, env, folder / f"copbot-{name}.log"


def _reference(db: Path, folder: Path) -> tuple[list[str], dict[str, str], Path]:
    port = free_port()
    command = [sys.executable, "-c", REFERENCE, str(port), str(db)]
    return command, {**os.environ, "PORT": str(port)}, folder / "reference.log"


def _median(runs: list[Start]) -> Start:
    up, cpu, rss, after = zip(*runs, strict=True)
    steps = tuple(statistics.median(step) for step in zip(*after, strict=True))
    return statistics.median(up), statistics.median(cpu), statistics.median(rss), steps


async def measure(db: Path, runs: int, folder: Path) -> dict[str, float]:
    copy = folder / "copbot.db"
    shutil.copyfile(db, copy)
    fake = await FakeSlack(users={"UBOT": "copbot", "UADMIN": "Alex"}).start()
    connector = await FakeConnector().start()
    steps = teams_steps(connector.url)
    names = (*CONFIGURATIONS, "reference")
    measured: dict[str, list[Start]] = {name: [] for name in names}
    try:
        # Round by round, each configuration in turn: a burst of load elsewhere on the
        # machine then falls on all of them alike. Round 0 isn't counted.
        for _ in range(runs + 1):
            for name in names:
                if name == "reference":
                    command, env, log = _reference(copy, folder)
                else:
                    command, env, log = _serve(name, copy, fake.api_url, folder)
                then = steps if name == "teams" else ()
                measured[name].append(await _start(command, env, log, then))
    finally:
        await fake.close()
        await connector.close()
    figures: dict[str, float] = {}
    for name in names:
        start, cpu, rss, after = _median(measured[name][1:])
        figures[f"{name}_start_s"] = start
        figures[f"{name}_start_cpu_s"] = cpu
        figures[f"{name}_rss_mib"] = rss
        for step, value in zip(TEAMS_STEPS if name == "teams" else (), after, strict=True):
            figures[f"{name}_after_{step}_rss_mib"] = value
    return figures


def main(argv: list[str], out: dict[str, Any] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench startup")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=int, metavar="N")
    args = parser.parse_args(argv)
    size = args.size or (QUICK_SIZE if args.quick else SIZE)
    runs = QUICK_RUNS if args.quick else RUNS
    db = archive(size)
    compiled()
    print(f"copbot start-up benchmark: `copbot serve` on an archive of {size:,} messages")
    with tempfile.TemporaryDirectory(prefix="copbot-startup-") as folder:
        figures = asyncio.run(measure(db, runs, Path(folder)))
    figures |= {"size": size, "runs": runs}
    if out is not None:
        out.update(figures)
    for name in CONFIGURATIONS:
        start, cpu, rss = (figures[f"{name}_{k}"] for k in ("start_s", "start_cpu_s", "rss_mib"))
        print(
            f"{name:<10} to /healthz {start:5.2f} s (target < {TARGET_START_S:.0f} s;"
            f" {cpu:.2f} s of processor), idle {rss:5.1f} MiB (target < {TARGET_RSS_MIB:.0f})"
        )
    message, turn = (figures[f"teams_after_{step}_rss_mib"] for step in TEAMS_STEPS)
    print(
        f"{'':<10} Teams after its first channel reply {message:5.1f} MiB, after a botbuilder"
        f" turn (an installation) {turn:5.1f} MiB"
    )
    start, cpu, rss = (figures[f"reference_{k}"] for k in ("start_s", "start_cpu_s", "rss_mib"))
    print(
        f"reference  to /healthz {start:5.2f} s ({cpu:.2f} s of processor), idle {rss:5.1f} MiB"
        " (a bare aiohttp server answering /healthz from SQLite, same run, same file)"
    )
    print(f"medians of {runs} starts each, after one uncounted start")
    return 0
