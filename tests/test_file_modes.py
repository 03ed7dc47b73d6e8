"""What copbot writes holds people's words and its keys: the database, its journal, the
playground's database, backups and exports are readable by their owner only, even when
copbot is started from a shell whose umask (022) would let every user read them."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.server import copbot_command, free_port

pytestmark = pytest.mark.subprocess


def _with_umask_022() -> None:
    os.umask(0o022)


def copbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*copbot_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("COPBOT_", "SLACK_"))},
        preexec_fn=_with_umask_022,
    )


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_the_databases_and_their_journals_are_the_owners_alone(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [*copbot_command(), "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("COPBOT_", "SLACK_"))},
            "PYTHONUNBUFFERED": "1",
        },
        preexec_fn=_with_umask_022,
    )
    try:
        expected = ["copbot.db", "copbot.db-wal", "copbot.db-shm", "copbot.playground.db"]
        deadline = time.monotonic() + 30
        while not all((tmp_path / name).exists() for name in expected):
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, sorted(p.name for p in tmp_path.iterdir())
            time.sleep(0.05)
        modes = {p.name: mode(p) for p in tmp_path.iterdir() if p.name.startswith("copbot")}
        assert modes and set(modes.values()) == {"0o600"}, modes
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def test_backups_and_exports_are_the_owners_alone(tmp_path: Path) -> None:
    assert copbot("db", "migrate", cwd=tmp_path).returncode == 0
    assert mode(tmp_path / "copbot.db") == "0o600"
    backed_up = copbot("db", "backup", "backup.db", cwd=tmp_path)
    assert backed_up.returncode == 0, backed_up.stderr
    assert mode(tmp_path / "backup.db") == "0o600"
    for fmt in ("jsonl", "csv", "html"):
        exported = copbot("export", "--format", fmt, "-o", f"archive.{fmt}", cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        assert mode(tmp_path / f"archive.{fmt}") == "0o600"
