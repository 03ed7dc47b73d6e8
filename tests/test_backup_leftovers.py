"""A backup killed outright (``kill -9``, a power cut) leaves its unfinished copy beside the
target, hidden: every message the database held, past any retention clean-up that looks
for ``copbot-*.db``. The next backup into that folder removes it, and nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from storage import sqlite
from storage.maintenance import STALE_PARTIAL

HOURS = 3600


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def copy_of(db: Path, path: Path) -> Path:
    """What a backup killed during its check leaves: a whole copy, and its journal."""
    src, dst = sqlite.connect(db), sqlite.connect(path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    Path(f"{path}-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + bytes(504))
    return path


def test_the_next_backup_removes_a_killed_ones_copy_and_only_that(
    db_path: Path, tmp_path: Path
) -> None:
    invoke("db", "migrate", "--db", str(db_path))
    folder = tmp_path / "backups"
    folder.mkdir()
    killed = aged(copy_of(db_path, folder / ".copbot-2026-12-01.db.partial"), 30 * HOURS)
    aged(Path(f"{killed}-journal"), 30 * HOURS)
    # Another backup may be writing into the folder right now: its copy is young.
    running = copy_of(db_path, folder / ".copbot-manual.db.partial")
    aged(running, STALE_PARTIAL.total_seconds() - HOURS)
    kept = aged(copy_of(db_path, folder / "copbot-2026-11-30.db"), 30 * HOURS)
    Path(f"{kept}-journal").unlink()
    notes = folder / ".notes.partial"  # not an SQLite file: not copbot's
    notes.write_text("someone else's")
    aged(notes, 30 * HOURS)
    marker = folder / ".lock.partial"  # empty, holding nothing: left to whoever made it
    marker.touch()
    aged(marker, 30 * HOURS)

    output = invoke("db", "backup", str(folder / "copbot-2026-12-02.db"), "--db", str(db_path))

    assert not killed.exists() and not Path(f"{killed}-journal").exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        ".copbot-manual.db.partial",
        ".copbot-manual.db.partial-journal",
        ".lock.partial",
        ".notes.partial",
        "copbot-2026-11-30.db",
        "copbot-2026-12-02.db",
    ]
    assert (
        "removed the unfinished copies" in output
        and "stopped part-way" in output
        and ".copbot-2026-12-01.db.partial" in output
    )
    assert ".copbot-manual" not in output


def test_a_backup_with_nothing_left_over_says_nothing_of_it(db_path: Path, tmp_path: Path) -> None:
    invoke("db", "migrate", "--db", str(db_path))
    output = invoke("db", "backup", str(tmp_path / "copbot-2026-12-02.db"), "--db", str(db_path))
    assert "part-way" not in output
