"""The command line on files this user may not read or write (a database left by root, a
backup kept read-only, a folder copbot can't write): one line saying so, a non-zero exit,
never a traceback, and nothing blamed on a file that is fine.

The suite may run as root, whom file modes don't stop, so the refusals are SQLite's and the
operating system's own, made to happen: a connection opened read-only gets the error a
read-only file gives (SQLITE_READONLY), and reading the file fails as an unreadable one does."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from storage import maintenance, sqlite


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


def read_only(path: Path) -> sqlite.Connection:
    return sqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)


def test_checking_a_read_only_file_says_so_rather_than_calling_it_damaged(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "_open", read_only)
    line = one_line(invoke(db, "db", "check"))
    assert line.startswith(f"Error: cannot check the search index of {db}:")
    assert "can't write the file" in line and "restore" not in line
