"""Looking after the database file while copbot runs: a consistent copy, and a health check."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from storage import sqlite as sqlite3
from storage.database import BUSY_TIMEOUT_MS, StorageError, check_path, newer_migrations
from storage.migrations import MIGRATIONS

# What a person means by "the database holds": counted in a check's report.
COUNTED = (  # (what one is called, its table)
    ("archived message", "archive_messages"),
    ("feedback round", "feedback_rounds"),
    ("event", "events"),
)
SEARCH_INDEX = "archive_fts"
# A backup is written as ".NAME.partial" beside its target (and SQLite's "-journal" beside
# that). One killed outright (kill -9, a power cut) leaves it there, hidden, holding every
# message: the next backup into the folder removes it, once it is older than any backup
# still running could have left it (another may be writing its own right now).
PARTIAL = re.compile(r"\..+\.partial")
STALE_PARTIAL = timedelta(hours=6)
SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class CheckReport:
    path: Path
    problems: tuple[str, ...]
    pending_migrations: tuple[str, ...]
    counts: tuple[tuple[str, int], ...]
    # Applied by a newer copbot, unknown to this one (see storage.database.refuse_newer).
    newer_migrations: tuple[str, ...] = ()
    # A backup's: unfinished copies of killed backups it removed from the folder.
    removed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def backup(source: Path, target: Path) -> CheckReport:
    """Copy ``source`` to ``target`` with SQLite's online backup API, then check the copy.

    The copy is taken in one step, inside one read transaction: it is the database as it
    was at one instant, with every commit made before it began, while copbot goes on
    writing (WAL readers don't block the writer). It is written beside ``target`` and
    renamed into place only once complete and checked, so a half-written backup never
    looks like a good one. The copy is a single file (no WAL) that any SQLite can open.
    """
    src_path = _existing(source)
    target = target.expanduser()
    if target.exists():
        raise StorageError(f"{target} already exists; choose a new file name for the backup")
    if not target.parent.is_dir():
        raise StorageError(f"cannot write {target}: folder {target.parent} does not exist")
    removed = _remove_stale_partials(target.parent)
    partial = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        src = _open(src_path)
        try:
            try:
                dst = sqlite3.connect(partial)
                dst.execute("PRAGMA user_version")  # opens the file: a folder it can't write
            except sqlite3.Error as e:
                raise StorageError(f"cannot write the backup in {target.parent}: {e}") from None
            try:
                src.backup(dst)  # pages=-1: everything in one step, one consistent snapshot
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        report = check(partial)
        if not report.ok:
            raise StorageError(
                "the backup copy failed its check, so it was not kept: "
                + "; ".join(report.problems)
            )
        os.replace(partial, target)
    except sqlite3.Error as e:
        raise StorageError(f"cannot back up {src_path}: {e}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return CheckReport(
        target, report.problems, report.pending_migrations, report.counts, removed=removed
    )


def _remove_stale_partials(folder: Path) -> tuple[str, ...]:
    """Remove the unfinished copies killed backups left in ``folder`` (see PARTIAL): only
    files named as backup() names them, that are SQLite's, and old. Returns
    their names."""
    removed: list[str] = []
    oldest = time.time() - STALE_PARTIAL.total_seconds()
    for path in sorted(folder.glob(".*.partial")):
        if not PARTIAL.fullmatch(path.name) or not _stale_copy(path, oldest):
            continue
        try:
            path.unlink()
        except OSError:
            continue  # not ours to remove after all (another user's): left as it is
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}-journal").unlink()
        removed.append(path.name)
    return tuple(removed)


def _stale_copy(path: Path, oldest: float) -> bool:
    try:
        status = path.lstat()  # a link is never followed, nor removed
        if not stat.S_ISREG(status.st_mode) or status.st_mtime > oldest:
            return False
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError:
        return False
    # Only a copy holds anything: an empty file (a backup killed before its first page,
    # or another program's) is left alone.
    return header == SQLITE_HEADER


def check(path: Path) -> CheckReport:
    """SQLite's integrity and foreign-key checks, the migrations still to run, and counts."""
    p = _existing(path)
    try:
        conn = _open(p)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
            problems += [
                f"a row in {table} points at a missing row in {parent}"
                for table, _rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check")
            ]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if SEARCH_INDEX in tables:
                problems += _search_index_problems(conn, p)
            applied = (
                {
                    r[0]
                    for r in conn.execute(
                        "SELECT name FROM _sqlite_migrations WHERE migration_set = ?",
                        (MIGRATIONS.name,),
                    )
                }
                if "_sqlite_migrations" in tables
                else set()
            )
            counts = tuple(
                (label, conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0])
                for label, table in COUNTED
                if table in tables
            )
        finally:
            conn.close()
    except sqlite3.OperationalError as e:
        raise StorageError(f"cannot check {p}: {_why_not(e)}") from None
    except sqlite3.DatabaseError as e:
        return CheckReport(p, (f"SQLite cannot read it: {e}",), (), ())
    pending = tuple(m.name for m in MIGRATIONS._migrations if m.name not in applied)
    newer = tuple(newer_migrations(MIGRATIONS, applied))
    return CheckReport(p, tuple(problems), pending, counts, newer)


def _search_index_problems(conn: sqlite3.Connection, path: Path) -> list[str]:
    # FTS5's own check: that the index matches the messages (it changes nothing).
    try:
        conn.execute(f"INSERT INTO {SEARCH_INDEX}({SEARCH_INDEX}) VALUES ('integrity-check')")
    except sqlite3.OperationalError as e:
        # It runs as a write: a lock held elsewhere or a file this user can't write stops it
        # before it looks, which says nothing about the file (and a restore would lose data).
        raise StorageError(f"cannot check the search index of {path}: {_why_not(e)}") from None
    except sqlite3.DatabaseError:
        return ["the search index does not match the archived messages"]
    return []


def _why_not(error: sqlite3.OperationalError) -> str:
    words = str(error).lower()
    if "locked" in words or "busy" in words:
        return (
            "the database is locked by another process (an import, or a sqlite3 shell "
            "holding a write); try again when it is done"
        )
    if "readonly" in words or "read-only" in words:
        return (
            "its check writes nothing but needs write access, and this user can't write the "
            "file; run it as the file's owner (sudo copbot-admin db check --db FILE)"
        )
    return f"SQLite refused ({error})"


def _existing(path: Path) -> Path:
    p = check_path(path)
    if not p.exists():
        raise StorageError(f"there's no database at {p}")
    return p


def _open(path: Path) -> sqlite3.Connection:
    # mode=rw: never creates a file; copbot's files are WAL, whose readers need the -shm.
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn
