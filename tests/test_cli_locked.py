"""The command line while another process holds the database's write lock (``BEGIN
IMMEDIATE`` in a process of its own, as a sqlite3 shell or an import would): one line saying
what happened, a non-zero exit, nothing saved; the same command works once the lock is gone."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from tests.test_events_cli import soon

pytestmark = pytest.mark.slow  # each refused write waits out SQLite's busy timeout

HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", str(db)], env={}, catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "copbot.db"
    assert invoke(path, "db", "migrate").exit_code == 0
    return path


@pytest.fixture
def held(db: Path) -> Iterator[subprocess.Popen[str]]:
    locker = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline() == "held\n"
    yield locker
    release(locker)
    assert locker.stdout is not None
    locker.stdout.close()


def release(locker: subprocess.Popen[str]) -> None:
    if locker.poll() is None:
        assert locker.stdin is not None
        locker.stdin.close()
        locker.wait(timeout=10)


def one_line_about_the_lock(result: Result) -> None:
    assert result.exit_code != 0
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: the database is locked by another process")
    assert "Traceback" not in result.output


def test_a_role_grant_says_the_database_is_locked_and_works_after(
    db: Path, held: subprocess.Popen[str]
) -> None:
    one_line_about_the_lock(invoke(db, "roles", "grant", "admin", "slack:U1SAM"))
    release(held)
    assert "slack:U1SAM" not in invoke(db, "roles", "list").output  # nothing was saved
    assert invoke(db, "roles", "grant", "admin", "slack:U1SAM").exit_code == 0
    assert "slack:U1SAM" in invoke(db, "roles", "list").output


def test_an_event_added_says_the_database_is_locked_and_works_after(
    db: Path, held: subprocess.Popen[str]
) -> None:
    plan = ("events", "add", "--title", "Unconscious bias", "--region", "north")
    one_line_about_the_lock(invoke(db, *plan, "--start", soon()))
    release(held)
    assert json.loads(invoke(db, "events", "list", "--format", "json").output) == []
    assert invoke(db, *plan, "--start", soon()).exit_code == 0
    assert len(json.loads(invoke(db, "events", "list", "--format", "json").output)) == 1


def test_a_check_while_another_process_writes_says_so_and_blames_nothing_on_the_file(
    db: Path, held: subprocess.Popen[str]
) -> None:
    # The search index's own check needs the write lock for a moment: a lock held elsewhere
    # (an import, a sqlite3 shell) is no sign of damage, and restoring a backup would lose
    # what came after it.
    result = invoke(db, "db", "check")
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert "locked by another process" in line and "restore" not in line
    release(held)
    assert "is healthy" in invoke(db, "db", "check").output
