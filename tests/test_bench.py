"""The benchmarks keep running: each at its quick size, as CI can afford, with --json parsed
(figures aren't judged here; timing is the benchmark's job, never a test's: what is
checked is that nothing was lost or doubled, and that every figure has its reference)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]


def bench(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)  # stdout is exactly one JSON object
    assert report["ok"] is True
    assert report["command"].startswith(f"python -m bench {args[0]}")
    assert report["machine"]["cores"] >= 1 and report["machine"]["sqlite"]
    return dict(report["figures"])


def test_the_archive_benchmark_reports_import_search_and_export_beside_references() -> None:
    figures = bench("archive")
    assert figures["size"] == 20_000
    assert figures["import_s"] > 0 and figures["floor_s"] > 0
    assert 20 < figures["import_peak_mib"] < 2_000  # a process's peak, in MiB
    assert figures["db_mb"] > figures["text_mb"] > 0 and figures["mb archive_entries"] > 0
    assert figures["search_p95_ms"] > 0 and figures["like_median_ms"] > 0
    assert figures["export_s"] > 0 and figures["sqlite_utils_rows_s"] > 0
    for fmt in ("json", "csv", "markdown", "html"):
        assert figures[f"export_{fmt}_s"] > 0


@pytest.mark.parametrize(
    ("platform", "chosen", "levels"),
    # "--clients=2,5" is read as "--clients 2,5" is: the benchmark gets what argparse read.
    [("slack", [], [1, 16, 64]), ("teams", ["--clients=2,5"], [2, 5])],
    ids=["slack", "teams"],
)
def test_the_ingest_benchmark_archives_every_acknowledged_reply_once(
    platform: str, chosen: list[str], levels: list[int]
) -> None:
    figures = bench("ingest", "--platform", platform, *chosen)
    assert figures["levels"] == levels
    assert figures["acked"] == figures["requests"] * len(levels)  # redeliveries counted once
    assert figures["archived"] == figures["acked"]
    assert figures["searchable"] == figures["acked"]
    assert figures["copbot_rps"] > 0 and figures["reference_rps"] > 0
    assert figures["ack_p99_ms"] >= figures["ack_p50_ms"] > 0
    assert figures["server_errors"] == 0
    for clients in levels:
        assert figures[f"c{clients}_rps"] > 0 and figures[f"reference_c{clients}_rps"] > 0
    assert 0 < figures["rss_idle_mib"] <= figures["rss_peak_mib"]
    # Processor time a request: both servers, over the same requests, redeliveries included.
    assert figures["sent"] == figures["reference_sent"] > figures["requests"] * len(levels)
    assert figures["cpu_ms_per_request"] > 0 and figures["reference_cpu_ms_per_request"] > 0


def test_the_fanout_benchmark_posts_once_in_every_channel() -> None:
    figures = bench("fanout")
    assert figures["channels"] == 20
    assert figures["slack_once"] and figures["teams_once"]
    assert figures["errors"] == 0
    assert figures["span"] > 0 and figures["reference_span"] > 0


def test_the_startup_benchmark_times_every_configuration_beside_a_bare_server() -> None:
    figures = bench("startup")
    assert figures["size"] == 20_000 and figures["runs"] >= 1
    for name in ("playground", "slack", "teams", "reference"):
        assert figures[f"{name}_start_s"] > 0 and figures[f"{name}_start_cpu_s"] > 0
        assert figures[f"{name}_rss_mib"] > 0
    # Teams loads botbuilder at first use: its memory is also read after a reply and a turn.
    assert figures["teams_after_message_rss_mib"] > 0 and figures["teams_after_turn_rss_mib"] > 0


def test_the_burst_benchmark_answers_every_command_beside_the_idle_reference() -> None:
    figures = bench("burst")
    assert figures["burst_size"] == 2000
    assert figures["archived"] == figures["acked"] == 2000
    assert figures["burst_answered"] == figures["burst_commands"] > 0
    assert figures["idle_answered"] == figures["idle_commands"] == 20
    for label in ("burst", "idle"):
        assert 0 < figures[f"{label}_p50_ms"] <= figures[f"{label}_p95_ms"]
        assert figures[f"{label}_p95_ms"] <= figures[f"{label}_max_ms"]
        assert figures[f"{label}_whoami_p95_ms"] > 0 and figures[f"{label}_search_p95_ms"] > 0
    assert figures["burst_rps"] > 0
    assert figures["server_errors"] == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--clients", "0"], "give numbers of clients, each once, from 1 to 1,000"),
        (["--clients", "x"], "give numbers of clients, each once, from 1 to 1,000"),
        (["--clients", "1,,4"], "give numbers of clients, each once, from 1 to 1,000"),
        (["--clients", ""], "give numbers of clients, each once, from 1 to 1,000"),
        (["--clients", "16,16"], "give numbers of clients, each once, from 1 to 1,000"),
        (["--clients", "5000"], "give numbers of clients, each once, from 1 to 1,000"),
        (["--size", "0"], "give a whole number, 1 or more (not '0')"),
        (["--size", "-3"], "give a whole number, 1 or more (not '-3')"),
        (["--crash", "--clients", "2"], "--crash times the replay once, at 16 clients"),
        (["--crash", "--platform", "teams"], "--crash is for Slack only"),
    ],
)
def test_wrong_options_are_refused_before_anything_runs(args: list[str], said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "ingest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert said in done.stderr
    assert "copbot" not in done.stdout  # refused before any benchmark began


def test_without_json_a_benchmark_speaks_to_people() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "fanout", "--channels", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "one event to 5 Slack and 5 Teams channels" in done.stdout
    assert "exactly one post in every channel: yes" in done.stdout
    assert not done.stdout.lstrip().startswith("{")
