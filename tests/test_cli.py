from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from storage import sqlite as sqlite3  # one SQLite library per process: see storage/sqlite.py


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_db_migrate_creates_and_then_reports_up_to_date(db_path: Path) -> None:
    first = invoke("db", "migrate", "--db", str(db_path))
    assert first.exit_code == 0 and "Applied" in first.output and "0001_core" in first.output
    again = invoke("db", "migrate", "--db", str(db_path))
    assert again.exit_code == 0 and "is up to date" in again.output


def test_copbot_db_environment_variable_is_honoured(db_path: Path) -> None:
    result = invoke("db", "migrate", env={"COPBOT_DB": str(db_path)})
    assert result.exit_code == 0 and db_path.exists()


def test_roles_grant_list_revoke(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    assert (
        "slack:U1 is now a facilitator."
        in invoke("roles", "grant", "facilitator", "slack:U1", *db).output
    )
    assert "slack:U2 is now an admin." in invoke("roles", "grant", "ADMIN", "slack:U2", *db).output
    listing = invoke("roles", "list", *db, env={"COPBOT_ADMINS": "local:alex"})
    assert listing.output.splitlines() == [
        "local:alex  admin        granted by COPBOT_ADMINS",
        "slack:U2    admin        granted by cli",
        "slack:U1    facilitator  granted by cli",
    ]
    as_json = json.loads(invoke("roles", "list", "--format", "json", *db).output)
    assert {"identity": "slack:U1", "role": "facilitator", "granted_by": "cli"} in as_json
    assert (
        "no longer a facilitator"
        in invoke("roles", "revoke", "facilitator", "slack:U1", *db).output
    )
    conn = sqlite3.connect(db_path)
    assert conn.execute("select identity from roles").fetchall() == [("slack:U2",)]
    conn.close()


def test_refusing_to_remove_the_last_admin_is_an_error_exit(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    invoke("roles", "grant", "admin", "slack:U2", *db)
    result = invoke("roles", "revoke", "admin", "slack:U2", *db)
    assert result.exit_code == 1 and "the only admin" in result.output


def test_bad_arguments_are_explained_without_a_traceback(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    bad_role = invoke("roles", "grant", "boss", "slack:U1", *db)
    assert bad_role.exit_code == 2 and "'boss' is not a role" in bad_role.output
    bad_who = invoke("roles", "grant", "admin", "U1", *db)
    assert bad_who.exit_code == 2 and "write it as platform:id" in bad_who.output
    staff = invoke("roles", "grant", "staff", "slack:U1", *db)
    assert staff.exit_code == 2 and "everyone is staff" in staff.output
    assert "Traceback" not in bad_role.output + bad_who.output + staff.output


def test_a_bad_database_path_is_one_line(tmp_path: Path) -> None:
    result = invoke("roles", "list", "--db", str(tmp_path / "nope" / "x.db"))
    assert result.exit_code == 1
    missing = tmp_path / "nope"
    assert result.output.strip().splitlines() == [
        f"Error: cannot open database {missing / 'x.db'}: folder {missing} does not exist"
    ]


def test_malformed_configuration_is_one_line(db_path: Path) -> None:
    result = invoke("roles", "list", "--db", str(db_path), env={"COPBOT_ADMINS": "nobody"})
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "COPBOT_ADMINS" in result.output
