"""The ``copbot`` command: one module a group of subcommands, all on one click group."""

from __future__ import annotations

import os
import sys

from bot.cli import admin, archive, console, events, feedback, prompts, serve, slack, teams  # noqa: F401  (each registers its commands)
from bot.cli.base import cli

__all__ = ["cli", "main"]


# The database, its journal, the playground's, backups and exports hold people's words and
# copbot's keys: whatever copbot writes is its owner's alone, whatever umask it inherits (the
# systemd unit sets the same; a shell's usual 022 would leave them readable by every user).
OWNER_ONLY = 0o077


def main() -> None:
    os.umask(OWNER_ONLY)
    try:
        cli(prog_name="copbot")
    except KeyboardInterrupt:  # before a command started (commands say so themselves)
        sys.exit(130)
