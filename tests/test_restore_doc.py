"""docs/operations.md's restore steps, run as written (paths moved to a temporary folder,
copbot-admin as what it runs): each command works, the queries name exactly the people
an admin must act on, and the restored file is checked where it will be used."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from storage import sqlite
from storage.archive import SqliteArchiveRepository
from storage.database import Database, connect
from storage.migrations import MIGRATIONS
from tests.support.server import copbot_command

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
BACKUP = "copbot-2026-12-01.db"
BEFORE = "0024_archive_optins_dated"  # opting back in dated, not forgotten: resumed_us

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(
        shutil.which("sqlite3") is None, reason="the restore steps use SQLite's sqlite3 tool"
    ),
]


def restore_steps(heading: str = "### Restoring") -> list[str]:
    """Each step's commands, in order, as the doc gives them under ``heading``."""
    section = re.split(r"\n#+ ", OPERATIONS.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [textwrap.dedent(block) for block in blocks]  # a list item's, or the section's


CONTAINER = "#### Restoring in a container"
# A throwaway container from the image, on the volume, as the steps run each command.
DOCKER_RUN = r"docker run --rm (-i )?(--env-file copbot\.env )?-v copbot-data:/data copbot "


def in_container(block: str, home: Path) -> str:
    """A container step as the image would run it: in its working folder (``home`` here,
    with its own .venv/bin/copbot and python), with the volume's /data at ``home``."""
    lines = [
        line for line in block.splitlines() if not line.startswith(("docker stop", "docker start"))
    ]
    text = re.sub(DOCKER_RUN, f"env COPBOT_DB={home / 'copbot.db'} ", "\n".join(lines))
    assert "docker" not in text, text  # every other command is one the image has
    return text.replace("/data", str(home))


def the_image_in(home: Path) -> None:
    """What the Dockerfile puts in /opt/copbot: copbot, and a Python with sqlite3."""
    venv = home / ".venv" / "bin"
    venv.mkdir(parents=True)
    copbot = venv / "copbot"
    command = " ".join(shlex.quote(part) for part in copbot_command())
    copbot.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    copbot.chmod(0o755)
    (venv / "python").symlink_to(sys.executable)


def as_here(block: str, home: Path) -> str:
    db = home / "copbot.db"
    admin = " ".join(shlex.quote(part) for part in copbot_command())
    lines = [line for line in block.splitlines() if "systemctl" not in line]
    text = "\n".join(lines).replace("/var/lib/copbot", str(home))
    text = text.replace("sudo copbot-admin", f"{admin} --db {shlex.quote(str(db))}")
    return text.replace("sudo -u copbot ", "").replace("sudo ", "")


def run(script: str, home: Path) -> str:
    done = subprocess.run(
        ["sh", "-ec", script], cwd=home, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout


async def opt(db_path: Path, out: tuple[str, ...] = (), back_in: tuple[str, ...] = ()) -> None:
    db = Database.open(db_path)
    try:
        archive = SqliteArchiveRepository(db)
        for identity in out:
            await archive.opt_out(identity, datetime.now(UTC))
        for identity in back_in:
            await archive.opt_in(identity, datetime.now(UTC))
    finally:
        db.close()


def erasures_in(db: Path) -> list[str]:
    conn = sqlite.connect(db)
    try:
        return [r[0] for r in conn.execute("select detail from audit where action = 'erased'")]
    finally:
        conn.close()


def older_copbot(db: Path, backup: Path) -> None:
    """A backup an older copbot took, before opting back in kept the opt-out's row
    (migration 0024): one person opted out and back in (their row went), one stays out."""
    old = sqlite_utils.Database(connect(db))
    MIGRATIONS.apply(old, stop_before=BEFORE)
    old["archive_optouts"].insert({"identity": "slack:USTAYS", "since": "2026-11-02T09:30:00Z"})
    old.conn.commit()
    old.close()
    shutil.copy(db, backup)


@pytest.mark.parametrize("where", ["systemd", "container"])
@pytest.mark.parametrize("backup_from", ["this copbot", "before 0024"])
def test_the_restore_steps_work_as_written(tmp_path: Path, backup_from: str, where: str) -> None:
    home = tmp_path / "copbot"
    (home / "backups").mkdir(parents=True)
    here = as_here
    if where == "container":
        the_image_in(home)
        here = in_container
    db = home / "copbot.db"
    copbot = " ".join(shlex.quote(part) for part in copbot_command())
    if backup_from == "before 0024":
        older_copbot(db, home / "backups" / BACKUP)
        run(f"{copbot} --db {db} db migrate", home)  # the upgrade since
    else:
        run(f"{copbot} --db {db} db migrate", home)
        # Before the backup: one person opted out and back in, one opted out and stays out.
        asyncio.run(opt(db, out=("slack:UBACK", "slack:USTAYS"), back_in=("slack:UBACK",)))
        run(f"{copbot} --db {db} db backup {home / 'backups' / BACKUP}", home)
    backup = (home / "backups" / BACKUP).read_bytes()
    # Since: an erasure; UBACK opts out again; ULATE opts out, then in; USTAYS back in.
    run(f"{copbot} --db {db} erase --user slack:U012ABCDEF", home)
    asyncio.run(
        opt(db, out=("slack:UBACK", "slack:ULATE"), back_in=("slack:ULATE", "slack:USTAYS"))
    )

    steps = restore_steps(CONTAINER if where == "container" else "### Restoring")
    assert len(steps) == 5
    checked, listed, placed = (run(here(s, home), home) for s in steps[:3])
    assert erasures_in(db) == []  # the backup is in place: the erasure since is undone
    erased = run(here(steps[3], home), home)
    assert erasures_in(db) == ["slack:U012ABCDEF: 0 record(s)"]
    run(here(steps[4], home), home)  # starting copbot only: nothing here

    assert "is healthy" in checked
    compared = "-compare.db"  # the copy of the backup the queries read, migrated first
    rows = [r for r in listed.splitlines() if compared not in r]
    assert any(compared in r for r in listed.splitlines())  # the copy was brought up to date
    assert not list((home / "backups").glob(f"*{compared}*")), "and deleted after"
    erasures = [r for r in rows if r.endswith("record(s)")]
    assert len(erasures) == 1 and "slack:U012ABCDEF: " in erasures[0]
    # Opted out now and not in the backup: the person erased, and UBACK, opted out again.
    opted_out = sorted(r.split("|")[1] for r in rows if "|" in r and r not in erasures)
    assert opted_out == ["slack:U012ABCDEF", "slack:UBACK"]
    # Opted back in since: the restore opts them out again.
    assert [r for r in rows if "|" not in r] == ["slack:USTAYS"]
    assert "is healthy" in placed  # checked in place, before copbot starts
    assert "slack:U012ABCDEF" in erased
    # The backup itself is as it was: an older copbot (going back) can still use it.
    assert (home / "backups" / BACKUP).read_bytes() == backup


def test_the_container_steps_ask_the_same_questions_of_the_same_files() -> None:
    def sql(block: str) -> str:
        return re.findall(r"<<'SQL'\n(.*?)SQL\n", block, re.S)[0]

    systemd, container = restore_steps()[1], restore_steps(CONTAINER)[1]
    assert sql(container) == sql(systemd).replace("/var/lib/copbot", "/data")
    for step in restore_steps(CONTAINER):
        for line in step.splitlines():
            if line.startswith("docker run"):
                assert re.match(DOCKER_RUN, line), line  # the volume and image of the docs
