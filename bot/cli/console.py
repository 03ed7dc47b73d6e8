"""The web console from the command line: a sign-in link for the first admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.base import cli, db_option, identity_arg, with_core
from bot.commands import CommandError
from bot.console.feature import ConsoleFeature
from bot.model import Role

if TYPE_CHECKING:
    from bot.core import Core

LOCAL_URL = "http://127.0.0.1:3978"  # where `copbot serve` listens unless told otherwise


@cli.command("console-link")
@click.option("--user", "user", required=True, help="Who signs in: an identity like slack:U123.")
@db_option
def console_link(user: str, db: str | None) -> None:
    """Print a single-use link (10 minutes) that signs a facilitator or admin in to the web
    console. For the first admin; everyone else asks copbot in chat (/cop console, or
    @copbot console in Teams). Its archive pages read the workspace or Teams tenant with
    the most messages; a link asked for in chat reads the asker's own."""
    identity = identity_arg(user)

    async def call(core: Core) -> str:
        if await core.roles.role_of(identity) < Role.FACILITATOR:
            raise CommandError(
                f"{identity} is staff, and the console is for facilitators and admins "
                "(`copbot roles grant` gives a role)."
            )
        console = core.feature(ConsoleFeature)
        await console.audit.record("cli", "sign-in link made", f"for {identity}")
        return console.link(identity, core.settings.public_url or LOCAL_URL)

    click.echo(with_core(db, call))
