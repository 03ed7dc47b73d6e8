"""The SQLite copbot runs on: sqlean.py, the standard library's sqlite3 module built with a
current SQLite (3.50). The system SQLite is 3.40; FTS5's ``secure-delete``, which makes an
erased message's words leave the search index at once rather than at the next merge,
arrived in 3.42. The file stays a plain SQLite database that any SQLite can open.

Inside one process, open copbot's files through this module only: two SQLite libraries
in one process don't see each other's locks, so closing a connection in one can release
the other's locks and lose a live WAL file (SQLite's "multiple copies" hazard)."""

from sqlean import (
    Connection,
    Cursor,
    DatabaseError,
    Error,
    IntegrityError,
    OperationalError,
    connect,
    sqlite_version,
)

__all__ = [
    "Connection",
    "Cursor",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "OperationalError",
    "connect",
    "sqlite_version",
]
