"""The burst benchmark: people's commands answered while a backlog of captures waits.

    python -m bench burst [--quick] [--size N]

`copbot serve` on Slack against a fake Slack Web API. 16 concurrent clients send a burst
of signed thread replies into a prompt's thread (25,000; 2,000 with --quick), and
meanwhile, every 100 ms until the inbox has handled the whole burst, a person sends a
slash command: `/cop whoami` and `/cop search WORD` in turn. Measured for each command:
the time from sending it to copbot's answer arriving at the fake Slack
(chat.postEphemeral). The reference, measured in the same run: the same commands with no
burst and nothing waiting (after the burst, with the archive at its full size, so that a
search has as much to look through). Reported: answer p50, p95 and max under the burst and
idle, the burst's throughput (acknowledged requests a second) and how long after its last
acknowledgement every reply was archived.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.ingest import CHANNEL, _post_prompt, _replies, _signed
from bench.load import CLIENTS, load, stop
from storage import sqlite
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.support.server import copbot_command, free_port, until_healthy

EVERY = 0.1  # seconds between two commands
PEOPLE = [f"UP{n:02d}" for n in range(16)]  # who sends them, in turn
COMMANDS = ("whoami", "search noticed")  # a word every reply has: search ranks them all
TARGET_MS = 200


@dataclass
class Answers:
    """When each command was sent, and when its answer reached the fake Slack. A person's
    answers come in the order of their commands (one channel: one conversation), so the
    n-th answer to someone is to their n-th command."""

    fake: FakeSlack
    sent: dict[str, deque[tuple[str, float]]] = field(default_factory=lambda: defaultdict(deque))
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    acks: list[float] = field(default_factory=list)  # until copbot's 200 to the command
    seen: int = 0
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # none left waiting

    def expect(self, user: str, command: str) -> None:
        self.answered.clear()
        self.sent[user].append((command, time.perf_counter()))

    async def watch(self) -> None:
        while True:
            await self.fake.until(lambda: len(self.fake.calls) > self.seen, timeout=3600)
            arrived = time.perf_counter()
            for call in self.fake.calls[self.seen :]:
                user = str(call.args.get("user", ""))
                if call.method == "chat.postEphemeral" and self.sent.get(user):
                    command, at = self.sent[user].popleft()
                    self.times[command].append((arrived - at) * 1000)
            self.seen = len(self.fake.calls)
            if not self.waiting():
                self.answered.set()

    def waiting(self) -> int:
        return sum(len(q) for q in self.sent.values())

    async def settled(self) -> None:
        """Wait (up to a minute) until every command sent has had its answer."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                await self.answered.wait()

    def take(self) -> tuple[dict[str, list[float]], list[float]]:
        (taken, self.times), (acks, self.acks) = (self.times, defaultdict(list)), (self.acks, [])
        return dict(taken), acks


def _command(text: str, user: str, trigger: str) -> tuple[str, dict[str, str]]:
    fields = {
        "token": "x",
        "team_id": "T1",
        "channel_id": CHANNEL,
        "channel_name": "ips-north",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/cop",
        "text": text,
        "trigger_id": trigger,  # what Slack's retries are recognised by
        "response_url": "http://127.0.0.1:9/unused",
    }
    body = urlencode(fields)
    headers = _signed(body, int(time.time()))
    return body, headers | {"Content-Type": "application/x-www-form-urlencoded"}


async def _probe(
    url: str, answers: Answers, phase: str, until: asyncio.Event, most: int = 10**9
) -> int:
    """Send a command every EVERY seconds until ``until`` is set (or ``most`` are sent);
    return how many were sent."""
    sent = 0
    pending: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession() as session:

        async def one(body: str, headers: dict[str, str]) -> None:
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status
            answers.acks.append((time.perf_counter() - start) * 1000)

        next_at = time.perf_counter()
        while not until.is_set() and sent < most:
            user = PEOPLE[sent % len(PEOPLE)]
            command = COMMANDS[sent % len(COMMANDS)]
            answers.expect(user, command)
            task = asyncio.create_task(one(*_command(command, user, f"{phase}-{sent}")))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            next_at += EVERY
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*pending)
    return sent


def _counts(db: Path) -> tuple[int, int]:
    """Replies archived, and events waiting in the inbox."""
    conn = sqlite.connect(db)
    try:
        archived = conn.execute("select count(*) from archive_messages").fetchone()[0]
        waiting = conn.execute("select count(*) from inbox where state = 'pending'").fetchone()[0]
        return int(archived), int(waiting)
    finally:
        conn.close()


async def _until_archived(
    db: Path, expected: int, done: asyncio.Event, within: float
) -> tuple[int, int]:
    """Watch (off the event loop) until ``expected`` messages are archived; set ``done``;
    return how many were, and the most events seen waiting in the inbox meanwhile."""
    peak = archived = 0
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        archived, waiting = await asyncio.to_thread(_counts, db)
        peak = max(peak, waiting)
        if archived >= expected:
            break
        await asyncio.sleep(0.25)
    done.set()
    return archived, peak


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max_ms": ordered[-1],
    }


def _figures(label: str, measured: tuple[dict[str, list[float]], list[float]]) -> dict[str, float]:
    times, acks = measured
    figures = {
        f"{label}_{k}": v for k, v in summary(list(itertools.chain(*times.values()))).items()
    }
    for command, each in times.items():
        name = command.split()[0]
        figures |= {f"{label}_{name}_{k}": v for k, v in summary(each).items()}
    figures[f"{label}_answered"] = sum(len(each) for each in times.values())
    figures[f"{label}_ack_p95_ms"] = summary(acks)["p95_ms"]
    return figures


async def run(n: int, idle_commands: int) -> dict[str, float]:
    people = {user: f"Person {user}" for user in PEOPLE}
    fake = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex", **people}, channels={CHANNEL: "ips-north"}
    ).start()
    answers = Answers(fake)
    watcher = asyncio.create_task(answers.watch())
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "copbot.db"
        env = {
            **os.environ,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": fake.api_url,
            "COPBOT_ADMINS": "slack:UADMIN",
        }
        log = (Path(folder) / "copbot.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            *copbot_command(), "serve", "--port", str(port), "--db", str(db),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            await until_healthy(f"{base}/healthz", process)
            root = await _post_prompt(base, fake)
            # Warm up: connections, caches, and each person's name looked up once.
            await load(f"{base}/slack/events", _replies(200, root, "warm"))
            await _probe(f"{base}/slack/events", answers, "warm", asyncio.Event(), len(PEOPLE) * 2)
            await answers.settled()
            answers.take()
            warm, _ = await _until_archived(db, 200, asyncio.Event(), 60)

            # The burst, with commands every EVERY seconds until all of it is archived.
            drained = asyncio.Event()
            watching = asyncio.create_task(_until_archived(db, warm + n, drained, 600))
            probing = asyncio.create_task(_probe(f"{base}/slack/events", answers, "burst", drained))
            burst_s, _, acked = await load(
                f"{base}/slack/events", _replies(n, root, "burst", first=200), CLIENTS
            )
            last_ack = time.perf_counter()
            _, peak = await watching
            drain_s = time.perf_counter() - last_ack
            under_burst = await probing
            await answers.settled()
            burst = answers.take()

            # The reference: the same commands, nothing waiting.
            await _probe(f"{base}/slack/events", answers, "idle", asyncio.Event(), idle_commands)
            await answers.settled()
            idle = answers.take()
            archived, _ = _counts(db)
        finally:
            watcher.cancel()
            await stop(process)
            await fake.close()
            log.close()
        errors = sum(
            " ERROR " in line for line in (Path(folder) / "copbot.log").read_text().splitlines()
        )
    return (
        _figures("burst", burst)
        | _figures("idle", idle)
        | {
            "burst_size": n,
            "clients": CLIENTS,
            "burst_rps": n / burst_s,
            "acked": acked,
            "archived": archived - warm,
            "archived_after_s": drain_s,
            "inbox_peak": peak,
            "burst_commands": under_burst,
            "idle_commands": idle_commands,
            "server_errors": errors,
        }
    )


def main(argv: list[str], out: dict[str, Any] | None = None) -> int:
    quick = "--quick" in argv
    n = 2000 if quick else 25_000
    if "--size" in argv:
        n = int(argv[argv.index("--size") + 1])
    figures = asyncio.run(run(n, 20 if quick else 60))
    if out is not None:
        out.update(figures)
    print(
        f"copbot burst benchmark: {n:,} signed Slack thread replies at {CLIENTS} clients,"
        f" and a command every {EVERY * 1000:.0f} ms ({', '.join(COMMANDS)}) until the inbox"
        f" has handled them all ({os.cpu_count()} cores)"
    )
    for label, what in (("burst", "under the burst"), ("idle", "idle (reference)")):
        print(
            f"{what:<17} answer p50 {figures[f'{label}_p50_ms']:7.1f} ms"
            f"   p95 {figures[f'{label}_p95_ms']:7.1f} ms   max {figures[f'{label}_max_ms']:7.1f} ms"
            f"   ({figures[f'{label}_answered']:.0f} commands; acknowledged p95"
            f" {figures[f'{label}_ack_p95_ms']:.1f} ms; whoami p95"
            f" {figures[f'{label}_whoami_p95_ms']:.1f} ms, search p95"
            f" {figures[f'{label}_search_p95_ms']:.1f} ms)"
        )
    print(f"target            p95 under the burst < {TARGET_MS} ms")
    print(
        f"burst             {figures['burst_rps']:.0f} requests/s acknowledged; all"
        f" {figures['archived']:,} of {figures['acked']:,} replies archived"
        f" {figures['archived_after_s']:.1f} s after the last acknowledgement"
        f" (at most {figures['inbox_peak']:,} events waiting)"
    )
    print(f"server log        {figures['server_errors']} errors")
    every_answer = (
        figures["burst_answered"] == figures["burst_commands"]
        and figures["idle_answered"] == figures["idle_commands"]
    )
    if not every_answer:
        print("commands          SOME WERE NOT ANSWERED")
    return 0 if every_answer and figures["archived"] == figures["acked"] == n else 1
