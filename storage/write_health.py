"""Whether the database is taking writes, for /healthz: a read (``SELECT 1``) still answers
while the disk is full or the file is read-only, and then every event Slack or Teams sends
is refused. Noted by Database as each write ends: refused, or kept (see
Database.write_trouble, which asks the file again while writes fail)."""

from __future__ import annotations

import errno

from storage import sqlite as sqlite3

# SQLite's own words for a write it could not make, and what /healthz says of each: short,
# and never SQLite's message itself or a path.
_REFUSALS = (
    (("full",), "the disk holding it is full"),
    (("readonly", "read-only"), "its file is read-only for copbot"),
    (("locked", "busy"), "another process held its write lock too long"),
    (("i/o", "malformed", "unable to open"), "the disk or the file gave an error"),
)
_OS_REFUSALS = {
    errno.ENOSPC: "the disk holding it is full",
    errno.EDQUOT: "the disk holding it is full",
    errno.EROFS: "its file is read-only for copbot",
    errno.EACCES: "its file is read-only for copbot",
    errno.EIO: "the disk or the file gave an error",
}


def refusal(error: BaseException) -> str | None:
    """Why storage refused a write, in a few words; None for an error that says nothing
    about storage (a constraint kept, a mistake in copbot's own SQL)."""
    if isinstance(error, OSError):  # the WAL's fsync (storage/wal_sync.py)
        return _OS_REFUSALS.get(error.errno or 0, "the disk refused to save it")
    if not isinstance(error, sqlite3.OperationalError) and type(error) is not sqlite3.DatabaseError:
        return None  # IntegrityError, ProgrammingError, ...: the file is fine
    words = str(error).lower()
    for markers, reason in _REFUSALS:
        if any(marker in words for marker in markers):
            return reason
    return "it refused the last write"


class WriteHealth:
    """The last write's outcome. Set from storage's threads, read on the event loop: one
    attribute, replaced whole."""

    def __init__(self) -> None:
        self.trouble: str | None = None  # why the last write failed, while it stands

    def refused(self, error: BaseException) -> None:
        if (reason := refusal(error)) is not None:
            self.trouble = reason

    def kept(self) -> None:
        """A write that changed something was committed: the file takes writes again. (One
        that changed nothing proves little: with the disk full, it commits all the same.)"""
        self.trouble = None
