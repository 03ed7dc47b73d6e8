"""What every ``copbot`` command shares: the group, ``--db``, settings, and turning every
known failure into one line."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.clock import SystemClock
from bot.commands import CommandError
from bot.model import Role, split_identity
from bot.settings import DEFAULT_DB, ConfigError, Settings
from prompts import LibraryError
from storage.database import Database, StorageError

if TYPE_CHECKING:
    from bot.core import Core

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="copbot")
def cli() -> None:
    """copbot: reflection prompts, anonymous feedback, a discussion archive and regional
    events for communities of practice, in Slack, Microsoft Teams and a local playground."""


def db_option(fn: F) -> F:
    option = click.option(
        "--db",
        "db",
        envvar="COPBOT_DB",
        default=None,
        metavar="PATH",
        help=f"SQLite database file (default: ./{DEFAULT_DB}, or COPBOT_DB).",
    )
    return option(fn)


def load_settings(db: str | None) -> Settings:
    try:
        return Settings.from_env(os.environ, db=db)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except (StorageError, ConfigError, CommandError) as e:
        raise click.ClickException(str(e)) from None
    except LibraryError as e:
        raise click.ClickException(f"the prompt library has problems:\n{e}") from None


def with_core(db: str | None, call: Callable[[Core], Coroutine[Any, Any, T]]) -> T:
    """Run ``call`` against the core, with no platform connected (the CLI posts nothing)."""
    from bot.app import build_core, load_prompt_library

    settings = load_settings(db)

    async def go() -> T:
        library = load_prompt_library(settings)
        database = Database.open(settings.db_path)
        try:
            return await call(build_core(settings, database, SystemClock(), [], library))
        finally:
            database.close()

    return run(go())


def role_arg(text: str) -> Role:
    try:
        role = Role.parse(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if role is Role.STAFF:
        raise click.BadParameter("everyone is staff; grant facilitator or admin")
    return role


def identity_arg(text: str) -> str:
    try:
        platform, ident = split_identity(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return f"{platform}:{ident}"
