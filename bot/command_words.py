"""A chat command written where copbot can't tell which platform the reader uses (a web
page, a terminal): Slack's and the playground's ``/cop``, and Teams' ``@copbot``, since in a
Teams channel ``/cop`` is an ordinary message. In chat, ``Chat.command_prefix`` says which.

Teams' ``@copbot`` is the app package's name, which an organisation may change
(``copbot teams package --name``, or ``COPBOT_TEAMS_NAME``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.markup import TEAMS_NAME

SLASH = "/cop"  # Slack and the playground
DEFAULT_TEAMS_NAME = "copbot"
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


def app_name(prefix: str) -> str:
    """copbot's name where commands start with ``prefix``: in Teams, the app's, as people
    find it in the team's apps and in the list of mentions (``@IPS CoP``)."""
    return prefix[1:] if prefix.startswith("@") else DEFAULT_TEAMS_NAME


def how_to_add(prefix: str) -> str:
    """How to bring copbot into a channel, for an answer where commands start with
    ``prefix``."""
    return f"in Slack: `/invite @copbot`; in Teams: add {app_name(prefix)} to the team"
