"""docs/operations.md's nightly backup lines, run as cron would run them (paths moved to a
temporary folder): a backup is kept, and only backups and leftovers older than the kept
time go, on a server and, through the image's own tools, in a container."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from storage.database import Database
from tests.support.server import copbot_command

ROOT = Path(__file__).resolve().parent.parent
CRON = re.compile(r"^30 2 \* \* \* root (.*)$", re.M)
OLD = 43200 * 60 + 3600  # an hour past the 30 days kept

pytestmark = pytest.mark.subprocess


def cron_lines() -> list[str]:
    return CRON.findall((ROOT / "docs" / "operations.md").read_text())


def as_here(line: str, home: Path) -> str:
    """As cron runs it (``\\%`` is ``%`` to the shell), on this machine's paths."""
    copbot = " ".join(shlex.quote(part) for part in copbot_command())
    db = shlex.quote(str(home / "copbot.db"))
    line = line.replace("\\%", "%")
    line = line.replace("/usr/local/sbin/copbot-admin", f"{copbot} --db {db}")
    # docker exec: in the image's working folder, with its COPBOT_DB, on the volume.
    line = line.replace("docker exec copbot .venv/bin/copbot", f"env COPBOT_DB={db} {copbot}")
    line = line.replace("docker exec copbot ", "")
    assert "docker" not in line, line  # every other command is one the image has
    return line.replace("/var/lib/copbot", str(home)).replace("/data", str(home))


def test_a_server_and_a_container_each_have_a_nightly_line_that_deletes_old_backups() -> None:
    lines = cron_lines()
    assert len(lines) == 2
    assert any("docker exec copbot" in line for line in lines)
    for line in lines:
        assert "-mmin +43200 -delete" in line


@pytest.mark.parametrize("where", ["systemd", "container"])
def test_the_nightly_backup_line_works_as_written(tmp_path: Path, where: str) -> None:
    [line] = [x for x in cron_lines() if ("docker" in x) == (where == "container")]
    Database.open(tmp_path / "copbot.db").close()
    backups = tmp_path / "backups"
    backups.mkdir()
    old = [backups / "copbot-2026-01-01.db", backups / ".copbot-2026-01-02.db.partial"]
    recent = [backups / "copbot-2026-12-01.db", backups / "notes.txt"]
    for path in old + recent:
        path.write_bytes(b"x")
    then = time.time() - OLD
    for path in [*old, backups / "notes.txt"]:
        os.utime(path, (then, then))
    done = subprocess.run(
        ["sh", "-ec", as_here(line, tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (line, done.stdout, done.stderr)
    assert (backups / f"copbot-{time.strftime('%F')}.db").exists()
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in recent)  # newer, or not a backup


def test_backup_help_points_to_restore_steps_that_exist() -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    shown = CliRunner().invoke(cli, ["db", "backup", "--help"]).output
    assert 'follow "Restoring" in docs/operations.md' in shown
    assert "\n### Restoring\n" in (ROOT / "docs" / "operations.md").read_text()
