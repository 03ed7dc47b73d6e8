"""What every ``copbot`` command shares: the group, ``--db``, settings, and turning every
known failure into one line."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from contextlib import suppress
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.clock import SystemClock
from bot.errors import WordedError
from bot.identities import checked_identity
from bot.model import Role
from bot.settings import DEFAULT_DB, ConfigError, Settings
from prompts import LibraryError
from storage import sqlite
from storage.database import Database

if TYPE_CHECKING:
    from bot.core import Core

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


DB_HELP = f"SQLite database file (default: ./{DEFAULT_DB}, or COPBOT_DB)."


def _db_from_group(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # `copbot --db x.db search …` and `copbot search … --db x.db` both work; the one
    # nearer the command wins. COPBOT_DB is read with the other settings, below both.
    return value if value is not None else ctx.find_root().params.get("db")


class Interrupted(click.ClickException):
    """Ctrl+C: one line on standard error, not click's "Aborted!" or a traceback."""

    exit_code = 130  # the shell's convention for a program stopped by SIGINT

    def __init__(self) -> None:
        super().__init__(
            "stopped (Ctrl+C) before finishing; anything it was writing may be incomplete"
        )

    def show(self, file: Any = None) -> None:
        # On a terminal, start a new line after the "^C" the terminal echoed.
        lead = "\n" if sys.stderr.isatty() else ""
        click.echo(f"{lead}copbot {self.message}.", err=True)


# A command's output that can't be written for want of space (`copbot export > FILE` on a
# full disk): one line, like copbot's other failures, not a traceback.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # An interrupt can land inside a constructor (an event loop half built); its
            # clean-up complaints at exit are noise now that copbot is only stopping.
            sys.unraisablehook = lambda _: None
            raise Interrupted() from None
        except OSError as e:
            if e.errno not in _NO_ROOM:
                raise
            if e.filename is not None:  # a file of its own, not its output
                raise click.ClickException(
                    f"couldn't write {e.filename} ({e.strerror}); free some space and run it again"
                ) from None
            _drop_standard_output()
            raise click.ClickException(
                f"couldn't write all of its output ({e.strerror}), so what was written is "
                "incomplete; free some space and run it again"
            ) from None


def _drop_standard_output() -> None:
    """Send what is still buffered for standard output nowhere: flushing it at exit would
    fail again, with Python's own complaint after copbot's sentence."""
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="copbot")
@click.option("--db", "db", default=None, metavar="PATH", help=DB_HELP)
def cli(db: str | None) -> None:
    """copbot: reflection prompts, anonymous feedback, a discussion archive and regional
    events for communities of practice, in Microsoft Teams, Slack and a local playground."""


def db_option(fn: F) -> F:
    option = click.option(
        "--db", "db", default=None, metavar="PATH", help=DB_HELP, callback=_db_from_group
    )
    return option(fn)


def existing(settings: Settings) -> Settings:
    """For commands that read the archive: a database that isn't there is a mistake (a
    wrong --db, or the wrong folder), and opening it would create an empty one."""
    path = settings.db_path
    if not path.exists() and path.parent.is_dir():
        raise click.ClickException(
            f"there's no database at {path}; check --db (or COPBOT_DB), or create one with "
            "`copbot db migrate` or by starting `copbot serve`"
        )
    return settings


def load_settings(db: str | None) -> Settings:
    try:
        return Settings.from_env(os.environ, db=db)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return _run_to_ctrl_c(coro)
    except KeyboardInterrupt:
        coro.close()  # Ctrl+C before it started: no "never awaited" warning at exit
        raise
    except LibraryError as e:
        raise click.ClickException(f"the prompt library has problems:\n{e}") from None
    except WordedError as e:
        # Storage, configuration, a command's own words, a platform refusing copbot's
        # credentials at start: written for people, so one line, never a traceback.
        raise click.ClickException(str(e)) from None
    except sqlite.OperationalError as e:
        raise click.ClickException(storage_trouble(e)) from None


def _run_to_ctrl_c(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with Ctrl+C cancelling the command's task from inside its loop.

    Python's own KeyboardInterrupt can land inside the loop's machinery, and leave the
    clean-up waiting forever for a step it lost; asyncio.run's handler (Python 3.11) loses
    a Ctrl+C that lands as it starts, or turns it into a CancelledError traceback. Here the
    handler only notes the Ctrl+C and asks the loop to cancel the task; one before the
    task exists cancels it as it is made. A second Ctrl+C stops at once."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(coro)  # no signals here
    pressed: list[int] = []
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[T] | None = None

    def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
        pressed.append(signum)
        if len(pressed) > 1:
            raise KeyboardInterrupt
        if loop is not None and task is not None and not task.done():
            with suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        with asyncio.Runner() as runner:  # leaves a handler other than Python's alone
            loop = runner.get_loop()
            task = loop.create_task(coro)
            if pressed:
                task.cancel()
            try:
                return loop.run_until_complete(task)
            except asyncio.CancelledError:
                if pressed:
                    raise KeyboardInterrupt from None
                raise
    finally:
        signal.signal(signal.SIGINT, previous)


def storage_trouble(error: sqlite.OperationalError) -> str:
    """One line for SQLite refusing a write: what happened, and what to do."""
    words = str(error).lower()
    if "locked" in words or "busy" in words:
        return (
            "the database is locked by another process (an import, a restore, or a sqlite3 "
            "shell holding a write), so this was not saved; try again when it is done"
        )
    if "readonly" in words:
        # A file (or its -wal or -shm beside it) another user made, or kept read-only.
        return (
            "the database file, or its -wal or -shm file beside it, is read-only for this "
            "user, so this was not saved; check their owner and mode"
        )
    if "full" in words:
        return "the disk holding the database is full, so this was not saved; free some space"
    return f"the database refused the change ({type(error).__name__}), so it was not saved"


def with_core(
    db: str | None, call: Callable[[Core], Coroutine[Any, Any, T]], *, create: bool = False
) -> T:
    """Run ``call`` against the core, with no platform connected (the CLI posts nothing).
    Without ``create``, the database must exist already."""
    from bot.app import build_core, load_prompt_library

    settings = load_settings(db) if create else existing(load_settings(db))

    async def go() -> T:
        library = load_prompt_library(settings)
        database = Database.open(settings.db_path)
        try:
            return await call(build_core(settings, database, SystemClock(), [], library))
        finally:
            database.close()

    return run(go())


def role_arg(text: str) -> Role:
    """A role to grant or revoke, refused in the chat's words: staff is no role to grant."""
    try:
        role = Role.parse(text)
    except ValueError:
        raise click.BadParameter(
            f"'{text[:40]}' isn't a role. Roles are facilitator and admin."
        ) from None
    if role is Role.STAFF:
        raise click.BadParameter(
            "everyone is staff already. Roles you can grant are facilitator and admin."
        )
    return role


def identity_arg(text: str) -> str:
    try:
        return checked_identity(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
