"""The command line's output on a full disk (`copbot export > FILE`, `-o FILE`): one line
saying so and exit status 1, never a traceback, and no half-written export left behind to
pass for the whole archive."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import archive, cli
from tests.support.server import copbot_command

FULL = Path("/dev/full")  # Linux's device whose every write fails: "No space left on device"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "copbot.db"
    result = CliRunner().invoke(cli, ["db", "migrate", "--db", str(path)], env={})
    assert result.exit_code == 0
    return path


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "command",
    [
        ["export", "--format", "json"],
        ["roles", "list", "--format", "json"],
        ["slack", "manifest", "--url", "https://copbot.example.org"],
    ],
)
def test_standard_output_on_a_full_disk_is_one_line(db: Path, command: list[str]) -> None:
    with FULL.open("w") as full:
        done = subprocess.run(
            [*copbot_command(), "--db", str(db), *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("COPBOT_")},
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: couldn't write all of its output (No space left on device), so what was "
        "written is incomplete; free some space and run it again"
    ]


def test_an_export_to_a_file_on_a_full_disk_keeps_nothing(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fills_the_disk(*args: Any, **kwargs: Any) -> int:
        out = args[3]
        out.write("[" + "{}," * 1000)
        out.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive, "run_export", fills_the_disk)
    target = tmp_path / "export.json"
    result = CliRunner().invoke(
        cli, ["export", "--format", "json", "-o", str(target), "--db", str(db)], env={}
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: can't write {target}: No space left on device; nothing was kept"
    ]
    assert not target.exists()


@pytest.mark.parametrize("stop", [KeyboardInterrupt, MemoryError])
def test_an_export_to_a_file_stopped_part_way_keeps_nothing(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    # Interrupted (Ctrl-C) or failed for another reason than the disk, a half-written
    # export would pass for the whole archive all the same.
    def stops_part_way(*args: Any, **kwargs: Any) -> int:
        out = args[3]
        out.write("[" + "{}," * 1000)
        out.flush()
        raise stop()

    monkeypatch.setattr(archive, "run_export", stops_part_way)
    target = tmp_path / "export.json"
    result = CliRunner().invoke(
        cli, ["export", "--format", "json", "-o", str(target), "--db", str(db)], env={}
    )
    assert result.exit_code != 0
    assert not target.exists()
