"""The docs stay true: every command and verb is in the README with help text, and every
setting in docs/configuration.md."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from bot.cli import cli
from bot.model import Role
from bot.settings import ConfigError, Settings
from tests.support.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def _commands(group: click.Group, prefix: str = "copbot") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, full))
    return found


COMMANDS = _commands(cli)


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_cli_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"{name} has no help text"
    assert f"`{name}" in README, f"{name} is not documented in README.md"


def test_every_setting_is_in_the_configuration_table() -> None:
    source = (ROOT / "bot" / "settings.py").read_text()
    # Every key read from the environment, whatever its prefix or case (MicrosoftAppId too):
    # env.get("X"), env["X"], or a helper called as helper(env, "X", ...).
    names = set(re.findall(r'env(?:\.get\(\s*|\[\s*|,\s*)"([^"]+)"', source))
    assert {"COPBOT_DB", "SLACK_BOT_TOKEN", "COPBOT_RETENTION_DAYS"} <= names, names
    table = CONFIGURATION
    for name in sorted(names):
        assert f"`{name}`" in table, f"{name} is missing from docs/configuration.md"


# A row of the README's table of chat commands: the command, then who may use it.
COMMAND_ROW = re.compile(r"^\| `/cop ([^`]+)` \| (everyone|facilitators|admins) \|", re.M)
WHO = {"everyone": Role.STAFF, "facilitators": Role.FACILITATOR, "admins": Role.ADMIN}


async def test_every_chat_verb_has_a_row_in_the_readme_saying_who_may_use_it(
    bot: Harness,
) -> None:
    rows = COMMAND_ROW.findall(README)
    assert len(rows) >= 30, "the table of chat commands is not where this test reads it"
    book = bot.core.registry.commands
    documented = set()
    for command, who in rows:
        # Exactly the verb's words: `/cop events` is not a row for a verb `event`.
        found = book.verb_of(command.replace("\\|", "|"))
        assert found is not None, f"the README lists `/cop {command}`, which copbot hasn't got"
        verb, _ = found
        documented.add(verb.name)
        # The authorization matrix tries what the registry says is privileged: a verb
        # registered for everyone by mistake would slip past it, but not past its row.
        assert verb.role is WHO[who], (
            f"the README says `/cop {verb.name}` is for {who}; it is registered for "
            f"{verb.role.label}"
        )
    missing = sorted(verb.name for verb in book if verb.name not in documented)
    assert not missing, f"give each a row in the README's table of commands: {missing}"


def test_quick_start_has_exactly_the_two_commands_ci_runs() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", quick, re.S)
    assert len(blocks) == 2, "Quick start should have two commands: run the bot, run the tests"
    assert "copbot serve" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "Quick start" in ci  # .ci/run reads the test command from the README itself


def test_every_relative_link_in_the_docs_points_at_a_file() -> None:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


async def test_the_readme_marks_what_is_coming_until_it_lands(bot: Harness) -> None:
    verbs = {verb.name.split()[0] for verb in bot.core.registry.commands}
    intro = README.split("## Quick start", 1)[0]
    for verb, feature in (("feedback", "Anonymous feedback"), ("event", "Regional events")):
        line = next(line for line in intro.splitlines() if feature in line)
        if verb not in verbs and f"{verb}s" not in verbs:
            assert "(coming)" in line, f"{feature} does not exist yet: the README must say so"
    if not (ROOT / "adapters" / "teams").exists():
        assert re.search(r"Teams\*\*\s+is coming", intro), "Teams is not built yet: say so"


def test_the_architecture_names_every_platform_adapter() -> None:
    layout = (ROOT / "docs" / "architecture.md").read_text().split("adapters/", 1)[1]
    layout = layout.split("storage/", 1)[0]
    for folder in sorted((ROOT / "adapters").iterdir()):
        if (folder / "__init__.py").exists():
            assert f"{folder.name}/" in layout, f"docs/architecture.md leaves out {folder.name}/"


def test_every_section_an_error_points_at_is_there() -> None:
    # "see Backups in docs/operations.md": people follow these when something has gone wrong.
    named = [
        (source, section, page)
        for folder in ("bot", "storage", "adapters")
        for source in (ROOT / folder).rglob("*.py")
        for section, page in re.findall(
            r"[Ss]ee ([A-Z][\w' ]+) in (docs/\w+\.md)", source.read_text()
        )
    ]
    assert named, "no error points at a section of the docs any more: update this test"
    for source, section, page in named:
        headings = re.findall(r"^#+ (.+)$", (ROOT / page).read_text(), re.M)
        assert section in headings, f"{source.name} points at '{section}' in {page}: not there"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COPBOT_SCHEDULE_GRACE_MINUTES", "99999999"),
        ("COPBOT_RETENTION_DAYS", "99999999"),
        ("COPBOT_ANONYMOUS_DELAY", "99999"),
        ("COPBOT_EVENT_REMINDERS", "9999d"),
    ],
)
def test_every_numeric_settings_range_is_in_the_configuration_table(name: str, value: str) -> None:
    # The range an admin is told when a value is refused is the one the table gives.
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({name: value})
    bounds = re.search(r"from (.+?) to ([\d,]*\d(?: days)?)", str(refused.value))
    assert bounds, str(refused.value)
    low, high = bounds.group(1).removesuffix(" (no delay)"), bounds.group(2)
    row = next(line for line in CONFIGURATION.splitlines() if line.startswith(f"| `{name}`"))
    assert f"{low} to {high}" in row, f"{name}'s range, {low} to {high}, is not in its row"
