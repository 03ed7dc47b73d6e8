"""The ``copbot`` command. Every command takes ``--db`` (or ``COPBOT_DB``); every failure
is one line that says what to do, never a traceback."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from aiohttp import web

from bot.model import Role, split_identity
from bot.roles import RoleChangeRefused, Roles
from bot.settings import DEFAULT_DB, ConfigError, Settings
from storage.database import Database, StorageError, migrate

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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
    except (StorageError, ConfigError) as e:
        raise click.ClickException(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="copbot")
def cli() -> None:
    """copbot: reflection prompts, anonymous feedback, a discussion archive and regional
    events for communities of practice, in Slack, Microsoft Teams and a local playground."""


# -- serve -----------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3978, show_default=True, type=click.IntRange(0, 65535))
@db_option
def serve(host: str, port: int, db: str | None) -> None:
    """Run the bot: every configured platform, the scheduler and (without Slack or Teams
    credentials) the playground at http://HOST:PORT/."""
    settings = load_settings(db)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sock = _listen(host, port)
    run(_serve(settings, sock))


def _listen(host: str, port: int) -> socket.socket:
    """Bind first, so that a taken port fails before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use; stop the other program "
                "or choose another port with --port"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _serve(settings: Settings, sock: socket.socket) -> None:
    from bot.app import CORE, create_app

    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=5, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    host, port = sock.getsockname()[:2]
    where = f"http://{host}:{port}/"
    platforms = app[CORE].chat.platforms
    playground = " (open it in your browser for the playground)" if "local" in platforms else ""
    click.echo(f"copbot is running at {where}{playground}. Press Ctrl+C to stop.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        click.echo("copbot is stopping…")
        await runner.cleanup()


# -- db -----------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Look after the database file."""


@db.command("migrate")
@db_option
def db_migrate(db: str | None) -> None:
    """Create or update the database schema (copbot serve does this on start too)."""
    settings = load_settings(db)
    try:
        applied = migrate(settings.db_path)
    except StorageError as e:
        raise click.ClickException(str(e)) from None
    if applied:
        click.echo(
            f"Applied {len(applied)} migration(s) to {settings.db_path}: " + ", ".join(applied)
        )
    else:
        click.echo(f"{settings.db_path} is up to date.")


# -- roles --------------------------------------------------------------------------------


@cli.group()
def roles() -> None:
    """Who is a facilitator or an admin (everyone else is staff)."""


def _roles_call(db: str | None, call: Callable[[Roles], Coroutine[Any, Any, T]]) -> T:
    from bot.clock import SystemClock
    from storage.roles import SqliteRoleRepository

    settings = load_settings(db)

    async def go() -> T:
        database = Database.open(settings.db_path)
        try:
            repo = SqliteRoleRepository(database, SystemClock())
            return await call(Roles(repo, settings.admins))
        finally:
            database.close()

    return run(go())


def _role_arg(text: str) -> Role:
    try:
        role = Role.parse(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if role is Role.STAFF:
        raise click.BadParameter("everyone is staff; grant facilitator or admin")
    return role


def _identity_arg(text: str) -> str:
    try:
        platform, ident = split_identity(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return f"{platform}:{ident}"


@roles.command("grant")
@click.argument("role")
@click.argument("identity")
@db_option
def roles_grant(role: str, identity: str, db: str | None) -> None:
    """Give IDENTITY (e.g. slack:U123) the ROLE facilitator or admin."""
    r, who = _role_arg(role), _identity_arg(identity)
    change = _roles_call(db, lambda roles: roles.grant(who, r, by="cli"))
    click.echo(change.message)


@roles.command("revoke")
@click.argument("role")
@click.argument("identity")
@db_option
def roles_revoke(role: str, identity: str, db: str | None) -> None:
    """Take ROLE away from IDENTITY."""
    r, who = _role_arg(role), _identity_arg(identity)

    async def call(roles: Roles) -> str:
        try:
            return (await roles.revoke(who, r)).message
        except RoleChangeRefused as e:
            raise click.ClickException(str(e)) from None

    click.echo(_roles_call(db, call))


@roles.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@db_option
def roles_list(fmt: str, db: str | None) -> None:
    """List facilitators and admins."""
    grants = _roles_call(db, lambda roles: roles.list())
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {"identity": g.identity, "role": g.role.label, "granted_by": g.granted_by}
                    for g in grants
                ],
                indent=2,
            )
        )
        return
    if not grants:
        click.echo("Nobody has a role yet: everyone is staff.")
        return
    width = max(len(g.identity) for g in grants)
    for g in grants:
        click.echo(f"{g.identity:<{width}}  {g.role.label:<11}  granted by {g.granted_by}")


def main() -> None:
    try:
        cli(prog_name="copbot")
    except KeyboardInterrupt:
        sys.exit(130)
