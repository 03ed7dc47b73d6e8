"""Where copbot can't tell which platform the reader uses (the console's pages, the command
line), a command it names is written for Teams too: in a Teams channel `/cop` is an ordinary
message, and the command is `@copbot`."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.local.adapter import LocalAdapter
from adapters.slack.adapter import SlackAdapter
from adapters.teams.text import DEFAULT_NAME
from bot.app import build_adapters
from bot.cli import cli
from bot.clock import SystemClock
from bot.command_words import SLASH, CommandWords
from bot.model import Channel, MessagePosted, MessageRef
from bot.settings import ConfigError, Settings
from storage.database import Database
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, NORTH, PRIYA, SAM, Harness

TEMPLATES = Path(__file__).resolve().parent.parent / "bot" / "console" / "templates"


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as console:
        yield console


def test_the_words_are_the_platforms_own() -> None:
    assert SlackAdapter.command_prefix == LocalAdapter.command_prefix == SLASH
    assert (
        f"@{DEFAULT_NAME}" == CommandWords().teams
    )  # Teams' until a mention says the app was renamed


def test_no_console_page_names_a_command_for_slack_alone() -> None:
    for page in sorted(TEMPLATES.glob("*.html")):
        for line in page.read_text().splitlines():
            if re.search(r"/cop\b", line):
                assert "@{{ teams_name }}" in line, f"{page.name}: {line.strip()}"


async def test_signing_in_says_how_on_teams_too(console: Console) -> None:
    signed_out = await (await console.get("/console")).text()
    assert "/cop console" in signed_out and "@copbot console" in signed_out
    used = console.link_path(ALEX.identity)
    await console.http.post(used, allow_redirects=False)
    again = await (await console.get(used)).text()
    assert "/cop console" in again and "@copbot console" in again


async def test_a_signed_in_page_names_commands_for_teams_too(console: Console) -> None:
    cookie = await console.sign_in(ALEX)
    events = await (await console.get("/console/events", cookie)).text()
    assert "<code>@copbot region link REGION</code>" in events


def test_erasing_on_the_command_line_says_how_to_opt_in_on_teams_too(db_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "migrate", "--db", str(db_path)]).exit_code == 0
    erased = runner.invoke(
        cli, ["erase", "--user", "teams:29f1c8e2-0000-4000-8000-000000000001", "--db", str(db_path)]
    )
    assert "`/cop optin` (in Teams, `@copbot optin`)" in erased.output, erased.output


NAMED = {
    "MicrosoftAppId": "00000000-0000-0000-0000-000000000001",
    "MicrosoftAppPassword": "secret",
    "COPBOT_TEAMS_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "COPBOT_TEAMS_NAME": "IPS CoP",
}


async def test_the_teams_name_an_organisation_gave_is_read_and_written_from_the_start(
    db_path: Path,
) -> None:
    """COPBOT_TEAMS_NAME, set as the app package's ``--name`` was: Teams reads and writes
    commands by it from the start (before anyone has mentioned copbot), and so do the
    console's pages."""
    settings = Settings.from_env(NAMED, db=str(db_path))
    assert settings.teams_name == "IPS CoP"
    db = Database.open(db_path)
    try:
        [teams] = build_adapters(settings, None, SystemClock(), db)
        assert teams.command_prefix == "@IPS CoP"
    finally:
        db.close()
    async with console_app(db_path, teams_name=settings.teams_name) as console:
        page = await (await console.get("/console")).text()
        assert "@IPS CoP console" in page and "@copbot" not in page


def test_the_command_line_writes_the_teams_name_and_packages_the_app_by_it(
    db_path: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "migrate", "--db", str(db_path)]).exit_code == 0
    erased = runner.invoke(
        cli,
        ["erase", "--user", "teams:29f1c8e2-0000-4000-8000-000000000001", "--db", str(db_path)],
        env=NAMED,
    )
    assert "(in Teams, `@IPS CoP optin`)" in erased.output, erased.output
    # The package is named by the same setting, so the two can't drift apart.
    out = tmp_path / "app.zip"
    package = runner.invoke(
        cli,
        ["teams", "package", "--app-id", NAMED["MicrosoftAppId"], "-o", str(out)],
        env={**NAMED, "COPBOT_PUBLIC_URL": "https://copbot.example.org"},
    )
    assert package.exit_code == 0, package.output
    with zipfile.ZipFile(out) as z:
        assert json.loads(z.read("manifest.json"))["name"]["short"] == "IPS CoP"


def test_a_teams_name_copbot_could_not_write_before_a_command_is_refused() -> None:
    for bad in ("x" * 31, "`x`", "@copbot", "IPS [CoP]"):
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({"COPBOT_TEAMS_NAME": bad})
        assert "COPBOT_TEAMS_NAME" in str(refused.value) and bad not in str(refused.value)


async def test_a_teams_name_of_several_words_typed_as_plain_text_gets_the_hint(
    db_path: Path,
) -> None:
    """ "@IPS CoP search bias" typed without choosing the app from Teams' list comes as an
    ordinary message: it is told how to make it a command, as "@copbot search bias" is."""
    bot = Harness.open(db_path)
    bot.adapter.command_prefix, bot.adapter.app_name = "@IPS CoP", "IPS CoP"
    try:
        for n, typed in enumerate(("@IPS CoP search bias", "@ips cop: search bias")):
            said = MessagePosted(
                f"typed-{n}", MessageRef(NORTH, f"m{n}"), SAM, typed, bot.clock.now()
            )
            await bot.deliver(said)
        hints = [s.text for s in bot.adapter.sent if "Did you mean" in s.text]
        assert len(hints) == 2 and all("`@IPS CoP search bias`" in h for h in hints), hints
        assert "Choose IPS CoP from the list Teams shows" in hints[0]  # not "copbot"
        chatter = MessagePosted(
            "chat", MessageRef(NORTH, "m9"), SAM, "@IPS CoPs are great", bot.clock.now()
        )
        await bot.deliver(chatter)
        assert len([s for s in bot.adapter.sent if "Did you mean" in s.text]) == 2
    finally:
        bot.close()


async def test_answers_on_teams_say_to_add_the_app_by_the_name_teams_shows(
    db_path: Path,
) -> None:
    bot = Harness.open(db_path)
    bot.adapter.command_prefix, bot.adapter.app_name = "@IPS CoP", "IPS CoP"
    try:
        await bot.reply_text("role grant facilitator test:priya", ALEX)
        await bot.core.channels.save(Channel(NORTH, "north", bot_member=False))
        answers = [
            await bot.reply_text("region link North", PRIYA, channel=NORTH),
            await bot.reply_text("schedule prompt any every tue at 10:00", PRIYA, channel=NORTH),
            await bot.reply_text("schedule prompt any every tue at 10:00 in #south", PRIYA),
        ]
        for answer in answers:
            assert "in Teams: add IPS CoP to the team" in answer, answer
    finally:
        bot.close()
