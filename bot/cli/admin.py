"""Looking after the database and who holds which role."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.cli.base import cli, db_option, existing, identity_arg, load_settings, role_arg, run
from bot.clock import SystemClock
from bot.console.audit import Audit
from bot.identities import IdentityError
from bot.people import People
from bot.roles import RoleChange, RoleChangeRefused, Roles
from storage.console import SqliteAuditRepository
from storage.database import Database, StorageError, migrate, refuse_newer
from storage.maintenance import CheckReport
from storage.maintenance import backup as backup_database
from storage.maintenance import check as check_database
from storage.people import SqlitePeopleRepository
from storage.roles import SqliteRoleRepository

T = TypeVar("T")


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


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@db_option
def db_backup(path: Path, db: str | None) -> None:
    """Copy the database to PATH, consistently, even while copbot runs; the copy is checked.

    To restore one, follow "Restoring" in docs/operations.md: a backup brings back the
    messages of anyone erased or opted out since it was taken, so those erasures are made
    again before copbot starts."""
    settings = existing(load_settings(db))
    try:
        report = backup_database(settings.db_path, path)
    except StorageError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"Backed up {settings.db_path} to {report.path} ({_counted(report)}); it passed its check."
    )
    if report.removed:
        # Whole copies of the data, hidden: whoever runs backups should know they were there.
        click.echo(
            f"Also removed the unfinished copies that earlier backups, stopped part-way, left "
            f"in {report.path.parent}: " + ", ".join(report.removed)
        )


@db.command("check")
@db_option
def db_check(db: str | None) -> None:
    """Check the database file: SQLite's integrity and foreign-key checks, the search
    index's own check, and migrations."""
    settings = existing(load_settings(db))
    try:
        report = check_database(settings.db_path)
        refuse_newer(report.path, report.newer_migrations)
    except StorageError as e:
        raise click.ClickException(str(e)) from None
    if report.pending_migrations:
        click.echo(
            f"{len(report.pending_migrations)} migration(s) not yet applied "
            "(copbot serve or `copbot db migrate` applies them): "
            + ", ".join(report.pending_migrations)
        )
    if not report.ok:
        shown = report.problems[:20]
        more = len(report.problems) - len(shown)
        lines = "\n".join(f"  {p}" for p in shown) + (f"\n  …and {more} more" if more else "")
        raise click.ClickException(
            f"{report.path} has problems; restore it from a backup "
            f"(see Backups in docs/operations.md):\n{lines}"
        )
    click.echo(f"{report.path} is healthy: the integrity check passed ({_counted(report)}).")


def _counted(report: CheckReport) -> str:
    return (
        ", ".join(f"{n:,} {label}{'' if n == 1 else 's'}" for label, n in report.counts) or "empty"
    )


@cli.group()
def roles() -> None:
    """Who is a facilitator or an admin (everyone else is staff)."""


def _roles_call(db: str | None, call: Callable[[Roles], Coroutine[Any, Any, T]]) -> T:
    # Never creates the database: a grant kept in a new, wrong file would change nothing.
    settings = existing(load_settings(db))

    async def go() -> T:
        database = Database.open(settings.db_path)
        try:
            repo = SqliteRoleRepository(database, SystemClock())
            # The people directory: so that names show, and a grant to someone copbot has
            # never met says so, as it does in chat.
            people = People(SqlitePeopleRepository(database, SystemClock()))
            return await call(Roles(repo, settings.admins, people=people))
        finally:
            database.close()

    return run(go())


def _audit(db: str | None, action: str, detail: str) -> None:
    """Note a change made on the command line in the audit trail admins read."""
    settings = existing(load_settings(db))

    async def go() -> None:
        database = Database.open(settings.db_path)
        try:
            audit = Audit(SqliteAuditRepository(database), SystemClock())
            await audit.record("cli", action, detail)
        finally:
            database.close()

    run(go())


@roles.command("grant")
@click.argument("role")
@click.argument("identity")
@db_option
def roles_grant(role: str, identity: str, db: str | None) -> None:
    """Give IDENTITY (e.g. slack:U123) the ROLE facilitator or admin."""
    r, who = role_arg(role), identity_arg(identity)
    change = _roles_call(db, lambda roles: roles.grant(who, r, by="cli"))
    if change.changed:
        _audit(db, "role granted", f"{r.label}: {who}, on the command line")
    click.echo(change.message)


@roles.command("revoke")
@click.argument("role")
@click.argument("identity")
@db_option
def roles_revoke(role: str, identity: str, db: str | None) -> None:
    """Take ROLE away from IDENTITY."""
    r = role_arg(role)

    async def call(roles: Roles) -> tuple[RoleChange, str]:
        try:
            return await roles.revoke_typed(identity, r, by="cli")
        except RoleChangeRefused as e:
            raise click.ClickException(str(e)) from None
        except IdentityError as e:
            raise click.BadParameter(str(e), param_hint="'IDENTITY'") from None

    change, revoked = _roles_call(db, call)
    if change.changed:
        _audit(db, "role revoked", f"{r.label}: {revoked}, on the command line")
    click.echo(change.message)


@roles.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@db_option
def roles_list(fmt: str, db: str | None) -> None:
    """List facilitators and admins."""
    grants = _roles_call(db, lambda roles: roles.list())
    if fmt == "json":
        rows = [
            {"identity": g.identity, "role": g.role.label, "granted_by": g.granted_by}
            for g in grants
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not grants:
        click.echo("Nobody has a role yet: everyone is staff.")
        return
    width = max(len(g.identity) for g in grants)
    for g in grants:
        click.echo(f"{g.identity:<{width}}  {g.role.label:<11}  granted by {g.granted_by}")
