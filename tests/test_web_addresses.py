"""Where copbot is reached is checked by one rule wherever it is given: COPBOT_PUBLIC_URL,
the Slack manifest's --url and the Teams package's --url, so that none takes an address
another refuses, nor writes one that Slack, Teams or a browser can't use."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.settings import ConfigError, Settings

APP_ID = "00000000-0000-0000-0000-000000000001"
BAD = [
    "https://",
    "https://copbot.example.org:99999",
    "https://copbot.example.org:https",
    "https://someone:secret@copbot.example.org",
    "https://copbot.example.org/?q=1",
    "https://copbot.example.org/#top",
    "https://copbot example.org",
]


@pytest.mark.parametrize("address", BAD)
def test_an_address_copbot_cannot_be_reached_at_is_refused_everywhere(
    address: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({"COPBOT_PUBLIC_URL": address})
    assert f"'{address}'" in str(e.value)  # quoted as written
    slack = CliRunner().invoke(cli, ["slack", "manifest", "--url", address])
    assert slack.exit_code == 1 and "--url must be a web address" in slack.output, slack.output
    out = tmp_path / "copbot.zip"
    teams = CliRunner().invoke(
        cli, ["teams", "package", "--app-id", APP_ID, "--url", address, "-o", str(out)]
    )
    assert teams.exit_code == 1 and "--url" in teams.output, teams.output
    assert not out.exists()


@pytest.mark.parametrize(
    "address", ["https://copbot.example.org", "https://copbot.example.org:8443/copbot/"]
)
def test_a_good_address_is_taken_everywhere(address: str, tmp_path: Path) -> None:
    assert Settings.from_env({"COPBOT_PUBLIC_URL": address}).public_url == address.rstrip("/")
    assert CliRunner().invoke(cli, ["slack", "manifest", "--url", address]).exit_code == 0
    out = tmp_path / "copbot.zip"
    args = ["teams", "package", "--app-id", APP_ID, "--url", address, "-o", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0 and out.exists()
