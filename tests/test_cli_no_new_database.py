"""Commands that change a database never make a new one: a wrong or missing --db must be an
error, not an empty file that "found nothing to erase" or "made an admin" of someone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

ADDED = """topic = "language"

[[prompts]]
id = "language-front-desk"
title = "Front desk"
text = "What words do we use at the front desk?"
follow_ups = ["Who chose them?"]
facilitator_note = "Keep it about practice."
"""


@pytest.mark.parametrize(
    "command",
    [
        ["erase", "--user", "slack:U1"],
        ["roles", "grant", "admin", "slack:U1"],
        ["roles", "grant", "facilitator", "teams:29f1c8e2-0000-4000-8000-000000000001"],
        ["roles", "revoke", "admin", "slack:U1"],
        ["roles", "list"],
        ["prompts", "add", "{file}"],
        ["console-link", "--user", "slack:U1"],
        ["export"],
        ["search", "bias"],
        ["db", "backup", "{backup}"],
        ["db", "check"],
        ["feedback", "list"],
        ["events", "list"],
        ["schedule", "list"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_missing_database_is_refused_and_not_created(tmp_path: Path, command: list[str]) -> None:
    added = tmp_path / "added.toml"
    added.write_text(ADDED)
    args = [a.format(file=added, backup=tmp_path / "backup.db") if "{" in a else a for a in command]
    wrong = tmp_path / "wrong.db"
    result = CliRunner().invoke(cli, [*args, "--db", str(wrong)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: there's no database at {wrong}; check --db (or COPBOT_DB), or create one "
        "with `copbot db migrate` or by starting `copbot serve`\n"
    )
    assert not wrong.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["added.toml"]  # nothing new at all


def test_a_missing_database_from_copbot_db_is_refused_too(tmp_path: Path) -> None:
    wrong = tmp_path / "typo.db"
    result = CliRunner().invoke(cli, ["erase", "--user", "slack:U1"], env={"COPBOT_DB": str(wrong)})
    assert result.exit_code == 1 and "there's no database at" in result.output
    assert not wrong.exists()


def test_after_copbot_db_migrate_the_first_admin_can_be_granted(tmp_path: Path) -> None:
    # What a first-time admin does before the first `copbot serve`.
    db = ["--db", str(tmp_path / "copbot.db")]
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "migrate", *db]).exit_code == 0
    granted = runner.invoke(cli, ["roles", "grant", "admin", "slack:U012ABCDEF", *db])
    assert granted.exit_code == 0 and "slack:U012ABCDEF is now an admin." in granted.output
    erased = runner.invoke(cli, ["erase", "--user", "slack:U2", *db])
    assert erased.exit_code == 0 and "Found nothing of slack:U2 to erase" in erased.output


def test_import_still_creates_the_database(tmp_path: Path) -> None:
    # An import is how history first arrives: it may make the file.
    export = tmp_path / "export"
    (export / "general").mkdir(parents=True)
    (export / "channels.json").write_text('[{"id": "C1", "name": "general"}]')
    (export / "users.json").write_text("[]")
    db = tmp_path / "copbot.db"
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert db.exists()
