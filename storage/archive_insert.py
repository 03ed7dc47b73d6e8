"""Writing messages into the archive's compact rows (migration 0019), a batch at a time.

A batch is prepared in two halves. ``RowBatch.of`` is Python and needs no database: each
message's fields as one JSON array, and the names the batch brings. ``insert_batch`` is
SQL alone: it keys the names in the small tables and inserts the rows in a few statements,
each run by SQLite without the interpreter lock. An import prepares its batches in the
export reader's worker process (``RowBatch`` is plain data, sent back pickled) while the
writer thread inserts the last; were the rows bound one at a time (executemany), the
writer would need the lock back for every row, and wait for it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import orjson
import sqlite_utils

from bot.records import ArchivedMessage
from storage.archive_rows import id_key, micros

# Each message as a JSON array; its fields by position, as _entries reads them.
_INSERT = (
    "insert or ignore into archive_entries (channel, message_id, thread_id, channel_name,"
    " author, anonymous, text, created_at, edited_at, edit_count, prompt, topic, region,"
    " private)"
    # Each array read once into SQLite's binary JSON, whose fields are then found directly.
    " with batch(n, r) as materialized (select key, jsonb(value) from json_each(?))"
    " select c.id, r ->> 5, r ->> 4, (select id from archive_labels where value = r ->> 3),"
    " (select id from archive_authors where author_id = r ->> 7 and author_name = r ->> 8),"
    " r ->> 9, r ->> 10, r ->> 11, r ->> 12, r ->> 13,"
    " (select id from archive_labels where value = r ->> 14),"
    " (select id from archive_labels where value = r ->> 15),"
    " (select id from archive_labels where value = r ->> 16), r ->> 17"
    " from batch cross join archive_channels c"
    " on c.platform = r ->> 0 and c.workspace_id = r ->> 1 and c.channel_id = r ->> 2"
)
# Refused: an author who opted out (or wrote it before opting in again), and a message
# deleted before it was delivered.
_OPTED_OUT = (
    "not exists (select 1 from archive_optouts o where o.identity = r ->> 7"
    " and (o.resumed_us is null or r ->> 11 < o.resumed_us))"
)
_DELETED = (
    "not exists (select 1 from archive_deleted d where d.platform = r ->> 0"
    " and d.workspace = r ->> 1 and d.channel_id = r ->> 2 and d.message_id = r ->> 6)"
)
# Whether any of the batch's authors opted out, and any of its channels lost a message: a
# fifth of the insert's time goes on asking each row, and most batches need neither.
_CHECKS = (
    "select exists (select 1 from archive_optouts"
    "  where identity in (select value ->> 0 from json_each(?))),"
    " exists (select 1 from json_each(?) j join archive_deleted d"
    "  on d.platform = j.value ->> 0 and d.workspace = j.value ->> 1"
    "  and d.channel_id = j.value ->> 2)"
)


@functools.cache
def _entries(opted_out: bool, deleted: bool) -> str:
    checks = [sql for sql, asked in ((_OPTED_OUT, opted_out), (_DELETED, deleted)) if asked]
    where = " where " + " and ".join(checks) if checks else ""
    # In the batch's order: ids follow time, and the new rows are those above the old max.
    return _INSERT + where + " order by n"


@dataclass(frozen=True)
class RowBatch:
    """Messages ready for ``insert_batch``, as JSON text."""

    rows: str
    labels: str  # channel names, prompts, topics, regions and "platform:workspace"
    channels: str  # [platform, workspace, channel id, "platform:workspace"]
    authors: str  # [identity, name]; an anonymous message brings none

    @classmethod
    def of(cls, messages: list[ArchivedMessage]) -> RowBatch:
        rows = [
            (
                m.platform,
                m.workspace,
                m.channel_id,
                m.channel_name,
                id_key(m.thread_id),
                id_key(m.message_id),
                m.message_id,
                m.author_id,
                m.author_name,
                int(m.anonymous),
                m.text,
                micros(m.created_at),
                micros(m.edited_at) if m.edited_at else None,
                m.edit_count,
                m.prompt_id,
                m.topic,
                m.region,
                int(m.private),
            )
            for m in messages
        ]
        places = {(m.platform, m.workspace, m.channel_id) for m in messages}
        workspaces = {f"{p}:{w}" for p, w, _ in places}
        names = {v for m in messages for v in (m.channel_name, m.prompt_id, m.topic, m.region)}
        people = {(m.author_id, m.author_name) for m in messages if m.author_id or m.author_name}
        return cls(
            _json(rows),
            _json(sorted((names | workspaces) - {""})),
            _json(sorted((p, w, c, f"{p}:{w}") for p, w, c in places)),
            _json(sorted(people)),
        )


def insert_batch(db: sqlite_utils.Database, batch: RowBatch) -> int:
    """Insert the batch's messages that are not in the archive yet, unless their author
    opted out or they were deleted already (a late delivery), and index them, in the
    caller's transaction; return how many were new. Opt-outs and deletions are read in
    that transaction, under its write lock, so no message slips in beside one."""
    db.execute(
        "insert or ignore into archive_labels (value) select value from json_each(?)",
        [batch.labels],
    )
    db.execute(
        "insert or ignore into archive_channels (platform, workspace_id, channel_id, workspace)"
        " select j.value ->> 0, j.value ->> 1, j.value ->> 2,"
        " (select id from archive_labels l where l.value = j.value ->> 3) from json_each(?) j",
        [batch.channels],
    )
    db.execute(
        "insert or ignore into archive_authors (author_id, author_name)"
        " select value ->> 0, value ->> 1 from json_each(?)",
        [batch.authors],
    )
    last = db.execute("select coalesce(max(id), 0) from archive_entries").fetchone()[0]
    # Asked in the caller's transaction, which holds the write lock: no opt-out or deletion
    # can come between the asking and the insert.
    opted_out, deleted = db.execute(_CHECKS, [batch.authors, batch.channels]).fetchone()
    added: int = db.execute(_entries(opted_out, deleted), [batch.rows]).rowcount
    if added:
        # One writer, inside one transaction: the rows above `last` are exactly the new ones.
        db.execute(
            "insert into archive_fts (rowid, text, tags)"
            " select id, text, tags from archive_fts_content where id > ?",
            [last],
        )
    return added


def insert_rows(db: sqlite_utils.Database, messages: list[ArchivedMessage]) -> int:
    """``insert_batch`` for messages at hand, on the writer's thread."""
    return insert_batch(db, RowBatch.of(messages)) if messages else 0


def _json(value: object) -> str:
    # orjson writes a batch in a tenth of json's time: a third of an import's reading was
    # spent here. It refuses a lone surrogate and an integer past 64 bits; json writes them.
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, check_circular=False)
