"""Load on a server, and what it costs: concurrent clients sending requests, latency and
throughput at each level of concurrency, and a process's memory and processor time.
Shared by the ingest benchmarks (Slack, Teams), the burst, fan-out and start-up ones."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

CLIENTS = 16
LEVELS = (1, 16, 64)  # concurrent clients: one at a time is how a community's events arrive
REDELIVERED = 0.02  # the share of requests the platform sends twice

Requests = list[tuple[str, dict[str, str]]]


def with_redeliveries(
    requests: list[tuple[str, dict[str, str]]], share: float = REDELIVERED, seed: int = 7
) -> list[tuple[str, dict[str, str]]]:
    """The requests, with ``share`` of them sent a second time later on, as the platforms
    redeliver (the same event id: copbot must keep each message once)."""
    rng = random.Random(seed)
    out = list(requests)
    for item in rng.sample(requests, int(len(requests) * share)):
        out.insert(rng.randrange(out.index(item) + 1, len(out) + 1), item)
    return out


async def load(
    url: str, requests: list[tuple[str, dict[str, str]]], clients: int = CLIENTS
) -> tuple[float, list[float], int]:
    """Send every request with ``clients`` at a time; return seconds, latencies (ms), and
    how many different requests were acknowledged. The seconds end at the last one."""
    queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    acked: set[str] = set()

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body, headers = queue.get_nowait()
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status == 200:
                    acked.add(body)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        return time.perf_counter() - start, latencies, len(acked)


def memory_kib(pid: int) -> dict[str, int]:
    """The process's resident memory now (VmRSS) and at its peak so far (VmHWM), in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def cpu_seconds(pid: int) -> float:
    """The processor time the process has used so far, user and system, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_request(figures: dict[str, float]) -> dict[str, float]:
    """Each server's processor time a request (ms), where both were measured: copbot's
    from its warm-up to the last message archived, the reference's over its loads."""
    if "cpu_s" not in figures:
        return figures  # a crash run: the restarted process's time would be a part only
    ours, ref = (
        1000 * figures[f"{who}cpu_s"] / figures[f"{who}sent"] for who in ("", "reference_")
    )
    return figures | {"cpu_ms_per_request": ours, "reference_cpu_ms_per_request": ref}


def level_figures(
    clients: int, sent: int, seconds: float, latencies: list[float]
) -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        f"c{clients}_rps": sent / seconds,
        f"c{clients}_ack_p50_ms": statistics.median(latencies),
        f"c{clients}_ack_p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
    }


async def load_levels(
    url: str, replies: Callable[[str, int], Requests], n: int, levels: tuple[int, ...]
) -> tuple[int, dict[str, float]]:
    """One measured load a concurrency, each of ``n`` fresh replies (``replies(run, first)``)
    with 2% redelivered; returns the different requests acknowledged and each level's
    figures (``c16_rps``, ...)."""
    acked = 0
    figures: dict[str, float] = {}
    for index, clients in enumerate(levels):
        sent = with_redeliveries(replies(f"run{clients}", index * n))
        seconds, latencies, level_acked = await load(url, sent, clients)
        acked += level_acked
        figures |= level_figures(clients, len(sent), seconds, latencies)
        figures["sent"] = figures.get("sent", 0) + len(sent)
    return acked, figures


def headline(levels: tuple[int, ...]) -> int:
    """The level the one-line figures are taken from: 16 clients, as before levels."""
    return CLIENTS if CLIENTS in levels else levels[0]


def ack_ratio(figures: dict[str, float], clients: int) -> float:
    """copbot's median acknowledgement time over the reference's, at ``clients``."""
    ours = figures[f"c{clients}_ack_p50_ms"]
    return ours / figures[f"reference_c{clients}_ack_p50_ms"]


def print_levels(figures: dict[str, float], levels: tuple[int, ...]) -> None:
    for clients in levels:
        ours, ref = figures[f"c{clients}_rps"], figures[f"reference_c{clients}_rps"]
        print(
            f"{clients:>3} client{'s' if clients > 1 else ' '}  copbot {ours:6.0f} requests/s,"
            f" ack p50 {figures[f'c{clients}_ack_p50_ms']:.1f} ms,"
            f" p99 {figures[f'c{clients}_ack_p99_ms']:.1f} ms;"
            f" reference {ref:6.0f} requests/s,"
            f" p50 {figures[f'reference_c{clients}_ack_p50_ms']:.1f} ms"
            f" ({ours / ref:.2f} of its throughput"
            + (
                f"; ack {ack_ratio(figures, clients):.1f}× its p50, target ≤ 2×)"
                if clients == 1
                else ")"
            )
        )
    if "cpu_ms_per_request" in figures:
        ours, ref = figures["cpu_ms_per_request"], figures["reference_cpu_ms_per_request"]
        print(
            f"processor   copbot {ours:.2f} ms a request, acknowledged and archived;"
            f" reference {ref:.2f} ms ({ours / ref:.1f}×)"
        )
    print(
        f"memory      copbot serve {figures['rss_idle_mib']:.0f} MiB idle,"
        f" {figures['rss_peak_mib']:.0f} MiB at its peak under load"
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    """Stop a server as its service manager would (SIGTERM), and wait for it."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
