"""A chat command written where copbot can't tell which platform the reader uses (a web
page, a terminal): Slack's and the playground's ``/cop``, and Teams' ``@copbot``, since in a
Teams channel ``/cop`` is an ordinary message. In chat, ``Chat.command_prefix`` says which."""

from __future__ import annotations

SLASH = "/cop"  # Slack and the playground
TEAMS = "@copbot"


def everywhere(command: str) -> str:
    # In backticks, as copbot writes commands: the console shows them as code (its said filter).
    return f"`{SLASH} {command}` (in Teams, `{TEAMS} {command}`)"
