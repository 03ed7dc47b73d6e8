"""The benchmarks keep running: the quick size, as CI can afford (figures aren't judged here;
timing is the benchmark's job, never a test's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.subprocess
def test_the_archive_benchmark_runs_at_its_quick_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "archive", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("import ") for line in lines)
    assert any(line.startswith("search ") and "p95" in line for line in lines)
    assert any(line.startswith("export ") and "peak memory" in line for line in lines)


@pytest.mark.subprocess
def test_the_ingest_benchmark_runs_at_its_quick_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "ingest", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "acknowledged replies archived (all)" in done.stdout
    assert "every acknowledged reply found" in done.stdout
    assert "requests/s" in done.stdout


@pytest.mark.subprocess
def test_the_teams_ingest_benchmark_runs_at_its_quick_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "ingest", "--platform", "teams", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "copbot Teams ingest benchmark" in done.stdout
    assert "(all)" in done.stdout


@pytest.mark.subprocess
def test_the_fanout_benchmark_posts_once_in_every_channel_at_a_small_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "fanout", "--channels", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "one event to 10 Slack and 10 Teams channels" in done.stdout
    assert "exactly one post in every channel: yes" in done.stdout
    assert "reference, same run" in done.stdout
    assert "errors in the server's log: 0" in done.stdout
