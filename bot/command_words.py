"""A chat command written where copbot can't tell which platform the reader uses (a web
page, a terminal): Slack's and the playground's ``/cop``, and Teams' ``@copbot``, since in a
Teams channel ``/cop`` is an ordinary message. In chat, ``Chat.command_prefix`` says which.

Teams' ``@copbot`` is the app package's name, which an organisation may change
(``copbot teams package --name``, or ``COPBOT_TEAMS_NAME``); Slack's bot user may be named
otherwise too (``Chat.app_name`` says what each platform calls copbot)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.markup import TEAMS_NAME

SLASH = "/cop"  # Slack and the playground
DEFAULT_NAME = "copbot"
DEFAULT_TEAMS_NAME = DEFAULT_NAME
TEAMS_NAME_LONGEST = 30  # Teams' own limit for an app's short name


def teams_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as the Teams app's name, in words; None when nothing."""
    if not 1 <= len(name) <= TEAMS_NAME_LONGEST:
        return f"must be 1 to {TEAMS_NAME_LONGEST} characters long"
    if not TEAMS_NAME.fullmatch(name):
        return "can't start with a space or hold any of < > ` * _ ~ @ \\ | [ ] or a line break"
    return None


@dataclass(frozen=True)
class CommandWords:
    teams_name: str = DEFAULT_TEAMS_NAME

    @property
    def teams(self) -> str:
        return f"@{self.teams_name}"

    def everywhere(self, command: str) -> str:
        # In backticks, as copbot writes commands: the console shows them as code.
        return f"`{SLASH} {command}` (in Teams, `{self.teams} {command}`)"


def how_to_add(prefix: str, name: str) -> str:
    """How to bring copbot into a channel, for an answer on a platform where commands start
    with ``prefix`` and copbot is called ``name`` (``Chat.app_name``): that platform's way
    by that name; the other's by the name it has unless renamed."""
    teams = prefix.startswith("@")
    slack_name, teams_name = (DEFAULT_NAME, name) if teams else (name, DEFAULT_TEAMS_NAME)
    return f"in Slack: `/invite @{slack_name}`; in Teams: add {teams_name} to the team"
