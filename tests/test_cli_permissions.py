"""The command line on files this user may not read or write (a database left by root, a
backup kept read-only, a folder copbot can't write): one line saying so, a non-zero exit,
never a traceback, and nothing blamed on a file that is fine.

The suite may run as root, whom file modes don't stop, so the refusals are SQLite's and the
operating system's own, made to happen: a connection opened read-only gets the error a
read-only file gives (SQLITE_READONLY), and reading the file fails as an unreadable one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from storage import database, maintenance, sqlite


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", str(db)], env={}, catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "copbot.db"
    assert invoke(path, "db", "migrate").exit_code == 0
    return path


def one_line(result: Result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    return line


def test_an_unreadable_database_file_is_one_line(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def refused(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == db:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refused)
    for command in (["roles", "list"], ["db", "check"], ["db", "migrate"]):
        line = one_line(invoke(db, *command))
        assert line == f"Error: cannot read {db}: permission denied; check its owner and mode"


def test_a_new_database_in_a_folder_that_cant_be_written_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cant_open(path: Path) -> sqlite.Connection:
        raise sqlite.OperationalError("unable to open database file")

    monkeypatch.setattr(database, "connect", cant_open)
    line = one_line(invoke(tmp_path / "new.db", "db", "migrate"))
    assert "cannot migrate database" in line and "unable to open database file" in line


def read_only(path: Path) -> sqlite.Connection:
    return sqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def test_checking_a_read_only_file_says_so_rather_than_calling_it_damaged(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "_open", read_only)
    line = one_line(invoke(db, "db", "check"))
    assert line.startswith(f"Error: cannot check the search index of {db}:")
    assert "can't write the file" in line and "restore" not in line


def test_a_change_to_a_read_only_database_says_it_is_read_only(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = database.connect

    def connect(path: Path) -> sqlite.Connection:
        conn = real_connect(path)
        conn.execute("PRAGMA query_only = ON")  # SQLite refuses writes as for a read-only file
        return conn

    monkeypatch.setattr(database, "connect", connect)
    line = one_line(invoke(db, "roles", "grant", "admin", "slack:U1SAM"))
    assert "read-only" in line and "not saved" in line


def test_a_backup_folder_copbot_cannot_write_is_named_not_the_database(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = maintenance.sqlite3.connect

    def connect(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".partial"):  # the folder refuses the new file, as 0555 would
            raise sqlite.OperationalError("unable to open database file")
        return real_connect(path, *args, **kwargs)

    monkeypatch.setattr(maintenance.sqlite3, "connect", connect)
    target = tmp_path / "backups" / "copbot-backup.db"
    target.parent.mkdir()
    line = one_line(invoke(db, "db", "backup", str(target)))
    assert f"cannot write the backup in {target.parent}" in line
    assert "cannot back up" not in line and not target.exists()
