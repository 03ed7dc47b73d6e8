"""The signing key made on first start (migration 0010), read once when copbot starts."""

from __future__ import annotations

from pathlib import Path

# The same SQLite library as every other connection: a second copy in the process would not
# know this file's locks, and closing its handle would drop theirs (a "disk I/O error").
from storage import sqlite as sqlite3


def stored_secret(path: Path) -> bytes:
    """The database's own signing key; the database must have been migrated."""
    with sqlite3.connect(path) as conn:
        row = conn.execute("select key from secret_key where id = 1").fetchone()
    conn.close()
    if row is None or len(row[0]) < 32:
        raise RuntimeError("the database holds no signing key: run its migrations first")
    return bytes(row[0])
