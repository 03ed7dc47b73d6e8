"""The discussion archive: messages in plain text, a full-text index kept in step with
them in the same transaction, and streaming reads for export.

Search: FTS5 finds matches fast, newest first. Asking it to ORDER BY rank would score
every match (and count every row holding each word, to weigh it) before the first
result: fine for rare words, hundreds of milliseconds for common ones. So relevance is
ranked among the newest ``RANK_WINDOW`` matches (all of them, for most searches): one
newest-first probe, which stops early, finds where that window starts; bot/ranking.py
ranks what is in it.

Filters by channel, topic, region and author are words in a second indexed column
(``tags``), so they narrow the match inside the index instead of row by row.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.archive_export import FIELDS
from bot.clock import from_text, to_text
from bot.model import MessageRef
from bot.ranking import HIT_END, HIT_START, rank, snippet
from bot.records import ArchivedMessage, ArchiveFilter, SearchHit
from bot.search_query import Term
from storage.database import Database, connect

RANK_WINDOW = 1000  # candidates SQLite ranks: all matches, or the newest this many
COMMON_WINDOW = 300  # candidates ranked in Python when a phrase is common
FREQUENCY_SAMPLE = 200
CHEAP_TO_WEIGH = 100_000  # rows bm25() may count to weigh a query's phrases (~5 ms)
MAX_MONTHS = 36  # a longer date range hardly narrows a search

COLUMNS = (
    "platform",
    "workspace",
    "channel_id",
    "channel_name",
    "thread_id",
    "message_id",
    "author_id",
    "author_name",
    "anonymous",
    "text",
    "created_at",
    "edited_at",
    "edit_count",
    "prompt_id",
    "topic",
    "region",
)
_SELECT = ", ".join(f"m.{c}" for c in COLUMNS)
_EXPORT = ", ".join(f"m.{c}" for c in FIELDS)


@functools.lru_cache(maxsize=4096)
def _tag(kind: str, value: str) -> str:
    """A word for the index that stands for a filter value (letters and digits only, so
    the tokenizer keeps it whole; hashed, so any value fits)."""
    digest = hashlib.blake2s(value.lower().encode(), digest_size=6).hexdigest()
    return f"z{kind}{digest}"


def _month(moment: datetime) -> str:
    return f"zm{moment.year:04d}{moment.month:02d}"


def tags_for(m: ArchivedMessage) -> str:
    tags = [
        _tag("w", f"{m.platform}:{m.workspace}"),
        _tag("c", m.channel_id),
        _tag("n", m.channel_name),
        _month(m.created_at),
    ]
    if m.topic:
        tags.append(_tag("t", m.topic))
    if m.region:
        tags.append(_tag("r", m.region))
    if m.author_id:
        tags.append(_tag("a", m.author_id))
    return " ".join(tags)


def _months(since: datetime | None, until: datetime | None) -> list[str]:
    """Month words covering [since, until), when that narrows the search at all."""
    if since is None:
        return []
    end = until or datetime.now(UTC)
    months: list[str] = []
    year, month = since.year, since.month
    while (year, month) <= (end.year, end.month) and len(months) <= MAX_MONTHS:
        months.append(f"zm{year:04d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months if len(months) <= MAX_MONTHS else []


def filter_tags(f: ArchiveFilter) -> list[str]:
    """FTS5 expressions on the tags column, one a filter."""
    tags = []
    if f.workspace:
        tags.append(_tag("w", ":".join(f.workspace)))
    if f.channel:
        name = f.channel.lstrip("#")
        tags.append(f"({_tag('c', name)} OR {_tag('n', name)})")
    if f.topic:
        tags.append(_tag("t", f.topic))
    if f.region:
        tags.append(_tag("r", f.region))
    if f.author:
        tags.append(_tag("a", f.author))
    if months := _months(f.since, f.until):
        tags.append("(" + " OR ".join(months) + ")")
    return tags


def _filter_sql(f: ArchiveFilter) -> tuple[str, list[Any]]:
    """SQL conditions on ``m`` for a filter, for reads that do not go through the index."""
    clauses: list[str] = []
    params: list[Any] = []
    if f.workspace:
        clauses.append("m.platform = ? and m.workspace = ?")
        params += list(f.workspace)
    if f.channel:
        clauses.append("(m.channel_id = ? or m.channel_name = ?)")
        params += [f.channel.lstrip("#"), f.channel.lstrip("#")]
    for column, value in (("topic", f.topic), ("region", f.region), ("author_id", f.author)):
        if value:
            clauses.append(f"m.{column} = ?")
            params.append(value)
    clauses += _date_clauses(f, params)
    return (" and ".join(clauses) or "1"), params


def _date_clauses(f: ArchiveFilter, params: list[Any]) -> list[str]:
    clauses = []
    if f.since:
        clauses.append("m.created_at >= ?")
        params.append(to_text(f.since))
    if f.until:
        clauses.append("m.created_at < ?")
        params.append(to_text(f.until))
    return clauses


def message_from_row(row: tuple[Any, ...]) -> ArchivedMessage:
    (platform, workspace, channel_id, channel_name, thread_id, message_id, author_id,
     author_name, anonymous, text, created_at, edited_at, edit_count, prompt_id, topic,
     region) = row  # fmt: skip
    return ArchivedMessage(
        platform,
        workspace,
        channel_id,
        channel_name,
        thread_id,
        message_id,
        author_id or "",
        author_name,
        bool(anonymous),
        text,
        from_text(created_at),
        from_text(edited_at) if edited_at else None,
        edit_count,
        prompt_id,
        topic,
        region,
    )


def insert_rows(db: sqlite_utils.Database, messages: list[ArchivedMessage]) -> int:
    """Insert messages that are not in the archive yet, unless their author opted out or
    they were deleted already (a late delivery), and index them, in the caller's
    transaction; return how many were new. Opt-outs and deletions are read in the same
    transaction as the insert, so no message slips in beside one."""
    keep = _not_refused(db, messages)
    last = db.execute("select coalesce(max(id), 0) from archive_messages").fetchone()[0]
    before = db.conn.total_changes
    db.conn.executemany(
        f"insert or ignore into archive_messages ({', '.join(COLUMNS)}, tags)"
        " values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                m.platform,
                m.workspace,
                m.channel_id,
                m.channel_name,
                m.thread_id,
                m.message_id,
                m.author_id or None,
                m.author_name,
                int(m.anonymous),
                m.text,
                to_text(m.created_at),
                to_text(m.edited_at) if m.edited_at else None,
                m.edit_count,
                m.prompt_id,
                m.topic,
                m.region,
                tags_for(m),
            )
            for m in keep
        ],
    )
    added: int = db.conn.total_changes - before
    if added:
        # One writer, inside one transaction: the rows above `last` are exactly the new ones.
        db.execute(
            "insert into archive_fts (rowid, text, tags)"
            " select id, text, tags from archive_messages where id > ?",
            [last],
        )
    return added


def _not_refused(
    db: sqlite_utils.Database, messages: list[ArchivedMessage]
) -> list[ArchivedMessage]:
    """The messages whose authors haven't opted out and that weren't deleted already,
    asked of the database once a batch."""
    authors = list({m.author_id for m in messages if m.author_id})
    opted_out = {
        row[0]
        for row in db.execute(
            f"select identity from archive_optouts where identity in ({_marks(authors)})",
            authors,
        )
    }
    by_place: dict[tuple[str, str, str], list[str]] = {}
    for m in messages:
        by_place.setdefault((m.platform, m.workspace, m.channel_id), []).append(m.message_id)
    deleted: set[tuple[str, str, str, str]] = set()
    for place, ids in by_place.items():
        deleted.update(
            (*place, row[0])
            for row in db.execute(
                "select message_id from archive_deleted where platform = ? and workspace = ?"
                f" and channel_id = ? and message_id in ({_marks(ids)})",
                [*place, *ids],
            )
        )
    return [
        m
        for m in messages
        if m.author_id not in opted_out
        and (m.platform, m.workspace, m.channel_id, m.message_id) not in deleted
    ]


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values)) or "null"


class SqliteArchiveRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def capture(self, message: ArchivedMessage) -> bool:
        if await self._db.write(lambda db: insert_rows(db, [message])):
            return True
        if await self._deleted(message):
            self._db.scrub_soon()  # its words came in with the late delivery
        return False

    async def _deleted(self, m: ArchivedMessage) -> bool:
        return await self._db.read(
            lambda db: (
                db.execute(
                    "select 1 from archive_deleted where platform = ? and workspace = ?"
                    " and channel_id = ? and message_id = ?",
                    [m.platform, m.workspace, m.channel_id, m.message_id],
                ).fetchone()
                is not None
            )
        )

    async def capture_many(self, messages: list[ArchivedMessage]) -> int:
        return await self._db.write(lambda db: insert_rows(db, messages))

    async def edit(self, ref: MessageRef, text: str, at: datetime) -> bool:
        c = ref.channel

        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "update archive_messages set text = ?, edited_at = ?, edit_count = edit_count + 1"
                " where platform = ? and workspace = ? and channel_id = ? and message_id = ?",
                [text, to_text(at), c.platform, c.workspace, c.id, ref.id],
            )
            return bool(cur.rowcount)

        edited = await self._db.write(op)
        if edited:
            self._db.scrub_soon()  # what it said before goes, as deleted words do
        return edited

    async def delete(self, ref: MessageRef) -> bool:
        c = ref.channel

        def op(db: sqlite_utils.Database) -> bool:
            key = [c.platform, c.workspace, c.id, ref.id]
            # Remembered even when nothing is kept yet: the message may arrive after this.
            db.execute(
                "insert or ignore into archive_deleted"
                " (platform, workspace, channel_id, message_id) values (?, ?, ?, ?)",
                key,
            )
            cur = db.execute(
                "delete from archive_messages"
                " where platform = ? and workspace = ? and channel_id = ? and message_id = ?",
                key,
            )
            return bool(cur.rowcount)

        deleted = await self._db.write(op)
        # Checkpointed once the delete event itself is marked handled (and its copy gone).
        self._db.scrub_soon()
        return deleted

    async def erase_author(self, identity: str) -> int:
        def op(db: sqlite_utils.Database) -> int:
            return db.execute(
                "delete from archive_messages where author_id = ?", [identity]
            ).rowcount

        erased = await self._db.write(op)
        await self._db.checkpoint()
        return erased

    async def purge_before(self, cutoff: datetime) -> int:
        def op(db: sqlite_utils.Database) -> int:
            return db.execute(
                "delete from archive_messages where created_at < ?", [to_text(cutoff)]
            ).rowcount

        purged = await self._db.write(op)
        if purged:
            await self._db.checkpoint()
        return purged

    async def opt_out(self, identity: str, at: datetime) -> None:
        await self._db.write(
            lambda db: db.execute(
                "insert or ignore into archive_optouts (identity, since) values (?, ?)",
                [identity, to_text(at)],
            )
        )

    async def opt_in(self, identity: str) -> bool:
        return await self._db.write(
            lambda db: bool(
                db.execute("delete from archive_optouts where identity = ?", [identity]).rowcount
            )
        )

    async def opted_out_all(self) -> frozenset[str]:
        return await self._db.read(
            lambda db: frozenset(r[0] for r in db.execute("select identity from archive_optouts"))
        )

    async def opted_out(self, identity: str) -> bool:
        return await self._db.read(
            lambda db: (
                db.execute(
                    "select 1 from archive_optouts where identity = ?", [identity]
                ).fetchone()
                is not None
            )
        )

    async def get(self, ref: MessageRef) -> ArchivedMessage | None:
        c = ref.channel

        def op(db: sqlite_utils.Database) -> ArchivedMessage | None:
            row = db.execute(
                f"select {_SELECT} from archive_messages m where platform = ? and workspace = ?"
                " and channel_id = ? and message_id = ?",
                [c.platform, c.workspace, c.id, ref.id],
            ).fetchone()
            return message_from_row(row) if row else None

        return await self._db.read(op)

    async def search(self, terms: Sequence[Term], f: ArchiveFilter, limit: int) -> list[SearchHit]:
        return await self._db.read(lambda db: search(db.conn, terms, f, limit))

    async def count(self, f: ArchiveFilter) -> int:
        where, params = _filter_sql(f)
        return await self._db.read(
            lambda db: db.execute(
                f"select count(*) from archive_messages m where {where}", params
            ).fetchone()[0]
        )


def search(conn: Any, terms: Sequence[Term], f: ArchiveFilter, limit: int) -> list[SearchHit]:
    """The best ``limit`` matches of ``terms`` within a filter, by relevance (BM25).

    Every query here is bounded, whatever the archive's size: one small newest-first probe
    a phrase estimates how common it is; when all are uncommon enough to weigh cheaply,
    SQLite ranks (ORDER BY rank) the newest ``RANK_WINDOW`` matches; otherwise the newest
    ``COMMON_WINDOW`` matches are ranked by bot/ranking.py with the estimates.
    """
    if not terms:
        return []
    phrases = [f"text : ({t.fts()})" for t in terms] + [f"tags : {t}" for t in filter_tags(f)]
    match = " AND ".join(phrases)
    params: list[Any] = []
    dates = _date_clauses(f, params)
    date_sql = "".join(f" and {c}" for c in dates)
    join = " join archive_messages m on m.id = f.rowid"
    documents = max(1, conn.execute("select max(id) from archive_messages").fetchone()[0] or 1)
    # How common each term is (for its weight), and how much bm25() would read to weigh it:
    # a phrase costs what reading each of its words does.
    frequencies, cost = [], 0
    for term in terms:
        if len(term.words) > 1:
            each = [_frequency(conn, f'text : ("{w}")', documents) for w in term.words]
            frequencies.append(min(each))
            cost += sum(each)
        else:
            frequencies.append(_frequency(conn, f"text : ({term.fts()})", documents))
            cost += frequencies[-1]
    cost += sum(_frequency(conn, f"tags : {tag}", documents) for tag in filter_tags(f))
    if cost <= CHEAP_TO_WEIGH:
        floor = _nth_newest(conn, match, RANK_WINDOW, join if dates else "", date_sql, params)
        rows = conn.execute(
            f"select {_SELECT}, snippet(archive_fts, 0, '{HIT_START}', '{HIT_END}', '…', 24)"
            f" from archive_fts f{join} where archive_fts match ?"
            f"{' and f.rowid >= ?' if floor else ''}{date_sql} order by f.rank limit ?",
            [match, *([floor] if floor else []), *params, limit],
        ).fetchall()
        return [SearchHit(message_from_row(r[:-1]), r[-1]) for r in rows]
    floor = _nth_newest(conn, match, COMMON_WINDOW, join if dates else "", date_sql, params)
    window = conn.execute(
        f"select f.rowid, f.text from archive_fts f{join if dates else ''}"
        f" where archive_fts match ?{' and f.rowid >= ?' if floor else ''}{date_sql}",
        [match, *([floor] if floor else []), *params],
    ).fetchall()
    best = rank(window, terms, frequencies, documents, limit)
    if not best:
        return []
    rows = {
        r[0]: r[1:]
        for r in conn.execute(
            f"select m.id, {_SELECT} from archive_messages m"
            f" where m.id in ({','.join('?' * len(best))})",
            [b.rowid for b in best],
        )
    }
    text = COLUMNS.index("text")
    return [
        SearchHit(message_from_row(rows[b.rowid]), snippet(rows[b.rowid][text], terms))
        for b in best
        if b.rowid in rows
    ]


def _nth_newest(
    conn: Any, match: str, n: int, join: str, date_sql: str, params: list[Any]
) -> int | None:
    """The rowid of the n-th newest match, or None when there are fewer than n."""
    row = conn.execute(
        f"select f.rowid from archive_fts f{join} where archive_fts match ?{date_sql}"
        " order by f.rowid desc limit 1 offset ?",
        [match, *params, n - 1],
    ).fetchone()
    return int(row[0]) if row else None


def _frequency(conn: Any, match: str, documents: int) -> int:
    """How many messages hold a phrase: counted when few, else estimated from how far back
    its newest ``FREQUENCY_SAMPLE`` matches reach."""
    floor = _nth_newest(conn, match, FREQUENCY_SAMPLE, "", "", [])
    if floor is None:
        return int(
            conn.execute(
                "select count(*) from archive_fts where archive_fts match ?", [match]
            ).fetchone()[0]
        )
    return min(documents, round(FREQUENCY_SAMPLE * documents / max(1, documents - floor + 1)))


def stream(path: Path, f: ArchiveFilter, by_thread: bool) -> Iterator[tuple[Any, ...]]:
    """Every archived row the filter selects, as export records (``FIELDS`` order), read
    on a connection of its own so that memory stays flat however large the archive is."""
    where, params = _filter_sql(f)
    order = "m.channel_id, m.thread_id, m.created_at" if by_thread else "m.id"
    conn = connect(path)
    try:
        cursor = conn.execute(
            f"select {_EXPORT} from archive_messages m where {where} order by {order}", params
        )
        while batch := cursor.fetchmany(1000):
            yield from batch
    finally:
        conn.close()


def authors(path: Path, f: ArchiveFilter) -> list[tuple[str, str]]:
    """(identity, name) of everyone who wrote in the selection, in order of first message."""
    where, params = _filter_sql(f)
    conn = connect(path)
    try:
        return [
            (r[0], r[1])
            for r in conn.execute(
                f"select author_id, author_name, min(id) as first from archive_messages m"
                f" where {where} and author_id is not null group by author_id order by first",
                params,
            )
        ]
    finally:
        conn.close()


class SqliteArchiveReader:
    """Blocking, streaming reads for export; call from a worker thread."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def rows(self, f: ArchiveFilter, by_thread: bool) -> Iterator[tuple[Any, ...]]:
        return stream(self._path, f, by_thread)

    def authors(self, f: ArchiveFilter) -> list[tuple[str, str]]:
        return authors(self._path, f)

    def count(self, f: ArchiveFilter) -> int:
        where, params = _filter_sql(f)
        conn = connect(self._path)
        try:
            row = conn.execute(f"select count(*) from archive_messages m where {where}", params)
            return int(row.fetchone()[0])
        finally:
            conn.close()
