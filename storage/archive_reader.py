"""Reading the archive for export: streamed on a connection of its own, a chunk or a row at
a time, so that memory stays flat however large the archive is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.archive_export import FIELDS, SEPARATORS, Chunk, Encoding
from bot.records import ArchiveFilter
from storage.archive_encode import needs_care, record_sql
from storage.archive_rows import EXPORT, KEYS, filter_sql
from storage.database import connect

# Ids one query of an encoded export covers: a few hundred kilobytes of text at a time.
ENCODED_CHUNK = 2000
# A page cache for reading straight through the table once: a large one would only hold
# pages never read again, and count in the export's memory.
EXPORT_CACHE_KIB = 4096


def stream_encoded(
    path: Path, f: ArchiveFilter, encoding: Encoding, chunk_ids: int = ENCODED_CHUNK
) -> Iterator[Chunk]:
    """The rows the filter selects as records SQLite writes in ``encoding``, in id order,
    a chunk of ids a query, all in one read transaction (one consistent snapshot)."""
    where, params = filter_sql(f)

    def chunk(record: str) -> str:
        return (
            f"with r({', '.join(FIELDS)}) as (select {EXPORT} from archive_messages m"
            f" where m.id >= ? and m.id < ? and {where} order by m.id)"
            f" select count(*), group_concat({record}, ?) from r"
        )

    quick, careful = chunk(record_sql(encoding, careful=False)), chunk(record_sql(encoding))
    separator = SEPARATORS[encoding]
    conn = connect(path)
    conn.execute(f"PRAGMA cache_size = -{EXPORT_CACHE_KIB}")
    try:
        conn.execute("begin")
        first, last = conn.execute("select min(id), max(id) from archive_messages").fetchone()
        for start in range(first or 0, (last or -1) + 1, chunk_ids):
            bounds = [start, start + chunk_ids, *params, separator]
            count, text = conn.execute(quick, bounds).fetchone()
            if count and needs_care(encoding, text, count):
                count, text = conn.execute(careful, bounds).fetchone()
            if count:
                yield count, text
        conn.execute("commit")
    finally:
        conn.close()


def stream(
    path: Path,
    f: ArchiveFilter,
    by_thread: bool,
    shown: frozenset[str] | None = None,
    *,
    as_stored: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """Every archived row the filter selects, as export records (``FIELDS`` order), read
    on a connection of its own so that memory stays flat however large the archive is.
    By thread: by channel id, then thread, then time; one channel a query, so that the
    thread index gives the order rather than a sort of the whole selection. Fields not in
    ``shown`` (when given) come as None; with ``as_stored``, ``created_at`` and
    ``thread_id`` as stored (spelling them out for every row costs SQLite a third of a
    readable export's reading)."""
    where, params = filter_sql(f)
    # Each column of the view is worked out from the compact tables: skip unread ones.
    columns = _export_columns(shown, as_stored)
    select = f"select {columns} from archive_messages m where {where}"
    conn = connect(path)
    conn.execute(f"PRAGMA cache_size = -{EXPORT_CACHE_KIB}")
    try:
        conn.execute("begin")  # one snapshot across the queries
        if not by_thread:
            yield from _batches(conn.execute(f"{select} order by m.id", params))
        else:
            channels = conn.execute(
                "select channel_id, group_concat(id) from archive_channels"
                " group by channel_id order by channel_id"
            ).fetchall()
            for _, keys in channels:
                # Channels of one id in several workspaces share a place in the order.
                yield from _batches(
                    conn.execute(
                        f"{select} and m.channel_key in ({keys})"
                        " order by m.thread_key, m.created_us",
                        params,
                    )
                )
        conn.execute("commit")
    finally:
        conn.close()


_STORED = {"created_at": "m.created_us", "thread_id": "m.thread_key"}


def _export_columns(shown: frozenset[str] | None, as_stored: bool) -> str:
    if shown is None and not as_stored:
        return EXPORT

    def column(name: str) -> str:
        if as_stored and name in _STORED:
            return _STORED[name]
        return f"m.{name}" if shown is None or name in shown else "null"

    return ", ".join(column(name) for name in FIELDS)


def _batches(cursor: Any) -> Iterator[tuple[Any, ...]]:
    while batch := cursor.fetchmany(1000):
        yield from batch


def authors(path: Path, f: ArchiveFilter) -> list[tuple[str, str]]:
    """(identity, name) of everyone who wrote in the selection, in order of first message;
    every name the archive knows them by, whichever messages it came with (someone who
    changed their display name is mentioned by either)."""
    where, params = filter_sql(f)
    conn = connect(path)
    conn.execute(f"PRAGMA cache_size = -{EXPORT_CACHE_KIB}")
    try:
        return [
            (r[0], r[1])
            for r in conn.execute(
                "select a.author_id, a.author_name from"
                " (select author_id, min(id) as first from archive_messages m"
                f"  where {where} and author_id is not null group by author_id) w"
                " join archive_authors a on a.author_id = w.author_id order by w.first, a.id",
                params,
            )
        ]
    finally:
        conn.close()


class SqliteArchiveReader:
    """Blocking, streaming reads for export; call from a worker thread."""

    def __init__(self, path: Path, *, chunk_ids: int = ENCODED_CHUNK) -> None:
        self._path = path
        self._chunk_ids = chunk_ids

    def rows(
        self,
        f: ArchiveFilter,
        by_thread: bool,
        shown: frozenset[str] | None = None,
        *,
        as_stored: bool = False,
    ) -> Iterator[tuple[Any, ...]]:
        return stream(self._path, f, by_thread, shown, as_stored=as_stored)

    def encoded(self, f: ArchiveFilter, encoding: Encoding) -> Iterator[Chunk]:
        return stream_encoded(self._path, f, encoding, self._chunk_ids)

    def authors(self, f: ArchiveFilter) -> list[tuple[str, str]]:
        return authors(self._path, f)

    def holds_any(self, f: ArchiveFilter) -> bool:
        where, params = filter_sql(f)
        conn = connect(self._path)
        try:
            row = conn.execute(f"select exists(select 1 from {KEYS} m where {where})", params)
            return bool(row.fetchone()[0])
        finally:
            conn.close()

    def count(self, f: ArchiveFilter) -> int:
        where, params = filter_sql(f)
        conn = connect(self._path)
        conn.execute(f"PRAGMA cache_size = -{EXPORT_CACHE_KIB}")
        try:
            row = conn.execute(f"select count(*) from {KEYS} m where {where}", params)
            return int(row.fetchone()[0])
        finally:
            conn.close()
