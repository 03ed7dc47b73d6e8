"""Identities people type (COPBOT_ADMINS, `copbot roles grant`, `--user`) must be someone's:
a known platform, and an id of that platform's shape. A typo would otherwise make nobody an
admin, silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.identities import IdentityError, checked_identity
from bot.settings import ConfigError, Settings

GOOD = [
    ("slack:U012ABCDEF", "slack:U012ABCDEF"),
    ("slack:W0ENTERPRISE1", "slack:W0ENTERPRISE1"),
    ("slack:u012abcdef", "slack:U012ABCDEF"),  # Slack's ids are upper case
    ("slack:U1", "slack:U1"),
    (" Slack:U1 ", "slack:U1"),
    ("teams:29f1c8e2-0000-4000-8000-000000000001", "teams:29f1c8e2-0000-4000-8000-000000000001"),
    ("teams:29F1C8E2-0000-4000-8000-00000000000A", "teams:29f1c8e2-0000-4000-8000-00000000000a"),
    # Microsoft 365 Agents Playground's own user (docs/teams.md)
    ("teams:00000000-0000-0000-0000-0000000000020", "teams:00000000-0000-0000-0000-0000000000020"),
    ("local:sam", "local:sam"),
    ("local:alex", "local:alex"),
    ("local:p12", "local:p12"),
]

BAD = [
    ("slak:U1", "'slak:U1' is not an identity copbot knows: it must start with slack:, teams: or local:"),
    ("msteams:29f1c8e2-0000-4000-8000-000000000001", "is not an identity copbot knows"),
    ("slack:@alex", "'slack:@alex' is not a Slack identity: write the person's member id, e.g. slack:U012ABCDEF"),
    ("slack:alex", "is not a Slack identity"),
    ("slack:C0123CHANNEL", "is not a Slack identity"),  # a channel, not a person
    ("slack:U12 34", "is not a Slack identity"),
    ("teams:Priya Shah", "'teams:Priya Shah' is not a Teams identity: write the person's Microsoft Entra object id"),
    ("teams:priya@trust.nhs.uk", "is not a Teams identity"),
    ("teams:29:1abcdefghijk", "is not a Teams identity"),  # the per-bot id, not the Entra one
    ("teams:29f1c8e2", "is not a Teams identity"),
    ("local:Sam Okafor", "'local:Sam Okafor' is not a playground identity: write a persona's id in lower case, e.g. local:sam"),
    ("alex", "'alex' is not an identity; write it as platform:id, e.g. slack:U012ABCDEF"),
    ("slack:", "is not an identity; write it as platform:id"),
]  # fmt: skip


@pytest.mark.parametrize(("typed", "stored"), GOOD)
def test_identities_of_each_platforms_shape_are_accepted_as_stored(typed: str, stored: str) -> None:
    assert checked_identity(typed) == stored


@pytest.mark.parametrize(("typed", "words"), BAD)
def test_nonsense_identities_are_refused_naming_the_value_and_the_shape(
    typed: str, words: str
) -> None:
    with pytest.raises(IdentityError) as refused:
        checked_identity(typed)
    assert words in str(refused.value)


@pytest.mark.parametrize(("typed", "words"), BAD)
def test_copbot_admins_with_nonsense_stops_copbot_in_one_line(typed: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"COPBOT_ADMINS": f"slack:U1,{typed}"})
    message = str(refused.value)
    assert message.startswith(f"COPBOT_ADMINS has '{typed.strip()}', which is not ")
    assert words.split("' ", 1)[-1] in message and "\n" not in message


def test_copbot_admins_keeps_good_identities_as_stored() -> None:
    env = {"COPBOT_ADMINS": ",".join(typed for typed, _ in GOOD)}
    assert Settings.from_env(env).admins == {stored for _, stored in GOOD}


@pytest.mark.parametrize(
    "command",
    [
        ["roles", "grant", "admin"],
        ["roles", "grant", "facilitator"],
        ["roles", "revoke", "admin"],
        ["erase", "--user"],
        ["console-link", "--user"],
    ],
    ids=" ".join,
)
@pytest.mark.parametrize("typed", ["slak:U1", "teams:Priya Shah", "slack:@alex"])
def test_the_command_line_refuses_nonsense_identities_and_changes_nothing(
    db_path: Path, command: list[str], typed: str
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "migrate", "--db", str(db_path)]).exit_code == 0
    result = runner.invoke(cli, [*command, typed, "--db", str(db_path)])
    assert result.exit_code == 2, result.output
    assert f"'{typed}' is not " in result.output and "Traceback" not in result.output
    listing = runner.invoke(cli, ["roles", "list", "--db", str(db_path)])
    assert listing.output == "Nobody has a role yet: everyone is staff.\n"


def test_the_command_line_stores_the_identity_as_copbot_meets_the_person(db_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["db", "migrate", "--db", str(db_path)])
    granted = runner.invoke(
        cli, ["roles", "grant", "admin", "slack:u012abcdef", "--db", str(db_path)]
    )
    assert granted.exit_code == 0 and "slack:U012ABCDEF is now an admin." in granted.output
