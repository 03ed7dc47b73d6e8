"""A database file updated by a newer copbot (its code rolled back without the backup) is
refused, in one line, rather than used by code that doesn't know its tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from sqlite_utils.migrations import Migrations

from bot.cli import cli
from storage import sqlite as sqlite3  # one SQLite library per process: see storage/sqlite.py
from storage.database import Database, StorageError
from storage.migrations import MIGRATIONS, PLAYGROUND_MIGRATIONS

NEWER = "9999_from_a_newer_copbot"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={}, catch_exceptions=False)


def _from_a_newer_copbot(path: Path, migration_set: str = MIGRATIONS.name) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "insert into _sqlite_migrations (migration_set, name, applied_at) values (?, ?, ?)",
        (migration_set, NEWER, "2027-01-01 00:00:00+00:00"),
    )
    conn.commit()
    conn.close()


def _rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select * from roles order by identity").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "command",
    [
        ("db", "migrate"),
        ("db", "check"),
        ("roles", "grant", "admin", "slack:U1"),
        ("roles", "list"),
        ("search", "anything"),
    ],
)
def test_commands_refuse_a_database_a_newer_copbot_updated(
    db_path: Path, command: tuple[str, ...]
) -> None:
    assert invoke("db", "migrate", "--db", str(db_path)).exit_code == 0
    _from_a_newer_copbot(db_path)
    result = invoke(*command, "--db", str(db_path))
    assert result.exit_code == 1, result.output
    assert "updated by a newer version of copbot" in result.output
    assert NEWER in result.output and "Upgrading in docs/operations.md" in result.output
    assert "Traceback" not in result.output and "healthy" not in result.output
    assert _rows(db_path) == []  # nothing granted


@pytest.mark.parametrize(
    "migrations", [MIGRATIONS, PLAYGROUND_MIGRATIONS], ids=["main", "playground"]
)
def test_opening_it_as_serve_does_is_refused(tmp_path: Path, migrations: Migrations) -> None:
    path = tmp_path / "copbot.db"
    conn = sqlite3.connect(path)
    migrations.apply(sqlite_utils.Database(conn))
    conn.close()
    _from_a_newer_copbot(path, migrations.name)
    with pytest.raises(StorageError, match="updated by a newer version of copbot"):
        Database.open(path, migrations=migrations)


def test_a_backup_of_it_is_still_taken(db_path: Path, tmp_path: Path) -> None:
    # A copy is harmless, and what someone rolling back may want first.
    assert invoke("db", "migrate", "--db", str(db_path)).exit_code == 0
    _from_a_newer_copbot(db_path)
    target = tmp_path / "backup.db"
    result = invoke("db", "backup", str(target), "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert target.exists()


def test_a_file_from_before_a_migration_moved_away_is_still_opened(db_path: Path) -> None:
    # 0002_playground moved to the playground's own file: an older file records it.
    assert invoke("db", "migrate", "--db", str(db_path)).exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.execute(
        "insert into _sqlite_migrations (migration_set, name, applied_at) values (?, ?, ?)",
        (MIGRATIONS.name, "0002_playground", "2026-11-20 00:00:00+00:00"),
    )
    conn.commit()
    conn.close()
    for command in (("db", "migrate"), ("db", "check"), ("roles", "list")):
        result = invoke(*command, "--db", str(db_path))
        assert result.exit_code == 0, result.output
