"""The ``copbot`` command: one module a group of subcommands, all on one click group."""

from __future__ import annotations

import sys

from bot.cli import admin, archive, console, events, feedback, prompts, serve, slack, teams  # noqa: F401  (each registers its commands)
from bot.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    try:
        cli(prog_name="copbot")
    except KeyboardInterrupt:  # before a command started (commands say so themselves)
        sys.exit(130)
