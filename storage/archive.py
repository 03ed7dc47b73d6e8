"""The discussion archive: messages in plain text, a full-text index kept in step with
them in the same transaction (search: storage/archive_search.py; streaming reads for
export: storage/archive_reader.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.clock import to_text
from bot.model import ChannelRef, MessageRef
from bot.records import ArchivedMessage, ArchiveFilter, SearchHit
from bot.search_query import Term
from storage.archive_insert import RowBatch, insert_batch, insert_rows
from storage.archive_rows import SELECT, from_micros, id_key, message_from_row, micros
from storage.archive_search import search
from storage.database import Database
from storage.held_writes import Together

# The row of a message, by its place and id, as the compact table keys it.
_BY_REF = (
    "channel = (select id from archive_channels where platform = ? and workspace_id = ?"
    " and channel_id = ?) and message_id = ?"
)


def _ref_params(ref: MessageRef) -> list[Any]:
    c = ref.channel
    return [c.platform, c.workspace, c.id, id_key(ref.id)]


def _capture_all(db: sqlite_utils.Database, messages: list[ArchivedMessage]) -> list[bool]:
    """Keep messages; for each, whether it is a late delivery of one deleted already."""
    if insert_rows(db, messages) == len(messages):
        return [False] * len(messages)
    deleted = _deleted_of(db, messages)
    return [(m.platform, m.workspace, m.channel_id, m.message_id) in deleted for m in messages]


def _capture(db: sqlite_utils.Database, m: ArchivedMessage) -> tuple[bool, bool]:
    """Keep one message; (new, a late delivery of one deleted already)."""
    if insert_rows(db, [m]):
        return True, False
    late = db.execute(
        "select 1 from archive_deleted where platform = ? and workspace = ?"
        " and channel_id = ? and message_id = ?",
        [m.platform, m.workspace, m.channel_id, m.message_id],
    ).fetchone()
    return False, late is not None


def _edit(
    db: sqlite_utils.Database,
    ref: MessageRef,
    text: str,
    at: datetime,
    edited: ArchivedMessage | None,
) -> bool:
    # An older edit delivered late (a platform's retry after an outage) changes nothing: it
    # would bring back words their author has since taken out. The same edit delivered
    # again (under another event id) is not a second edit; a different one at the same
    # moment is.
    when = micros(at)
    cur = db.execute(
        "update archive_entries set text = ?, edited_at = ?, edit_count = edit_count + 1"
        f" where {_BY_REF} and (edited_at is null or edited_at < ?"
        " or (edited_at = ? and text != ?))",
        [text, when, *_ref_params(ref), when, when, text],
    )
    if cur.rowcount or edited is None:
        return bool(cur.rowcount)
    if db.execute(f"select 1 from archive_entries where {_BY_REF}", _ref_params(ref)).fetchone():
        return False  # kept, with a newer edit
    # Nothing kept yet: the edit came before its message. Kept now, as edited (unless it
    # was deleted, or its author opted out), so the late original, kept once, can't bring
    # the words back.
    return not _capture_all(db, [edited])[0]


def _delete(db: sqlite_utils.Database, ref: MessageRef) -> bool:
    c = ref.channel
    # Remembered even when nothing is kept yet: the message may arrive after this.
    db.execute(
        "insert or ignore into archive_deleted"
        " (platform, workspace, channel_id, message_id) values (?, ?, ?, ?)",
        [c.platform, c.workspace, c.id, ref.id],
    )
    cur = db.execute(f"delete from archive_entries where {_BY_REF}", _ref_params(ref))
    return bool(cur.rowcount)


def _deleted_of(
    db: sqlite_utils.Database, messages: list[ArchivedMessage]
) -> set[tuple[str, str, str, str]]:
    """Which of the messages were deleted already (platform, workspace, channel, id)."""
    if db.execute("select 1 from archive_deleted limit 1").fetchone() is None:
        return set()  # nothing ever deleted: an import into a new archive, say
    by_place: dict[tuple[str, str, str], list[str]] = {}
    for m in messages:
        by_place.setdefault((m.platform, m.workspace, m.channel_id), []).append(m.message_id)
    deleted: set[tuple[str, str, str, str]] = set()
    for place, ids in by_place.items():
        deleted.update(
            (*place, row[0])
            for row in db.execute(
                "select message_id from archive_deleted where platform = ? and workspace = ?"
                " and channel_id = ? and message_id in (select value from json_each(?))",
                [*place, json.dumps(ids)],
            )
        )
    return deleted


class SqliteArchiveRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def capture(self, message: ArchivedMessage) -> bool:
        new, late = await self._db.write(lambda db: _capture(db, message))
        self._after_capture((new, late))
        return new

    async def record(self, message: ArchivedMessage) -> None:
        # In a batch, beside the batch's other messages: one insert and one index update.
        await self._db.write_later(
            lambda db: _capture_all(db, [message])[0],
            then=self._after_record,
            together=Together(_capture_all, message),
        )

    def _after_record(self, late: bool) -> None:
        if late:
            self._db.scrub_soon()  # its words came in with the late delivery

    def _after_capture(self, outcome: tuple[bool, bool]) -> None:
        if outcome[1]:
            self._db.scrub_soon()  # its words came in with the late delivery

    @property
    def preparer(self) -> Callable[[list[ArchivedMessage]], RowBatch]:
        return RowBatch.of

    async def capture_prepared(self, batch: object) -> int:
        if not isinstance(batch, RowBatch):
            raise TypeError(f"expected a RowBatch from this archive's preparer, not {batch!r:.80}")
        return await self._db.write_bulk(lambda db: insert_batch(db, batch))

    async def edit(self, ref: MessageRef, text: str, at: datetime) -> bool:
        edited = await self._db.write(lambda db: _edit(db, ref, text, at, None))
        self._after_edit(edited)
        return edited

    async def record_edit(
        self, ref: MessageRef, text: str, at: datetime, edited: ArchivedMessage | None = None
    ) -> None:
        await self._db.write_later(
            lambda db: _edit(db, ref, text, at, edited), then=self._after_edit
        )

    def _after_edit(self, edited: bool) -> None:
        if edited:
            self._db.scrub_soon()  # what it said before goes, as deleted words do

    async def delete(self, ref: MessageRef) -> bool:
        deleted = await self._db.write(lambda db: _delete(db, ref))
        self._after_delete(deleted)
        return deleted

    async def record_delete(self, ref: MessageRef) -> None:
        await self._db.write_later(lambda db: _delete(db, ref), then=self._after_delete)

    def _after_delete(self, deleted: bool) -> None:
        # Checkpointed once the delete event itself is marked handled (and its copy gone).
        self._db.scrub_soon()

    async def erase_author(self, identity: str) -> int:
        def op(db: sqlite_utils.Database) -> int:
            erased: int = db.execute(
                "delete from archive_entries where author in"
                " (select id from archive_authors where author_id = ?)",
                [identity],
            ).rowcount
            db.execute("delete from archive_authors where author_id = ?", [identity])
            return erased

        erased = await self._db.write(op)
        await self._db.checkpoint()
        return erased

    async def purge_before(self, cutoff: datetime) -> int:
        def op(db: sqlite_utils.Database) -> int:
            purged: int = db.execute(
                "delete from archive_entries where created_at < ?", [micros(cutoff)]
            ).rowcount
            if purged:
                # Names of people none of whose messages are left go with them (one scan).
                db.execute(
                    "delete from archive_authors where id not in"
                    " (select author from archive_entries where author is not null)"
                )
            return purged

        purged = await self._db.write(op)
        if purged:
            await self._db.checkpoint()
        return purged

    async def opt_out(self, identity: str, at: datetime) -> None:
        await self._db.execute(
            "insert into archive_optouts (identity, since) values (?, ?)"
            " on conflict (identity) do update set since = excluded.since, resumed_us = null"
            " where resumed_us is not null",
            [identity, to_text(at)],
        )

    async def opt_in(self, identity: str, at: datetime) -> bool:
        # The row stays, dated: what they wrote before now is never kept (archive_insert).
        return await self._db.write(
            lambda db: bool(
                db.execute(
                    "update archive_optouts set resumed_us = ?"
                    " where identity = ? and resumed_us is null",
                    [micros(at), identity],
                ).rowcount
            )
        )

    async def opt_outs(self) -> dict[str, datetime | None]:
        return await self._db.read(
            lambda db: {
                identity: None if resumed is None else from_micros(resumed)
                for identity, resumed in db.execute(
                    "select identity, resumed_us from archive_optouts"
                )
            }
        )

    async def opted_out(self, identity: str) -> bool:
        return await self._db.read(
            lambda db: (
                db.execute(
                    "select 1 from archive_optouts where identity = ? and resumed_us is null",
                    [identity],
                ).fetchone()
                is not None
            )
        )

    async def get(self, ref: MessageRef) -> ArchivedMessage | None:
        def op(db: sqlite_utils.Database) -> ArchivedMessage | None:
            row = db.execute(
                f"select {SELECT} from archive_messages m where m.channel_key ="
                " (select id from archive_channels where platform = ? and workspace_id = ?"
                " and channel_id = ?) and m.message_key = ?",
                _ref_params(ref),
            ).fetchone()
            return message_from_row(row) if row else None

        return await self._db.read(op)

    async def search(self, terms: Sequence[Term], f: ArchiveFilter, limit: int) -> list[SearchHit]:
        return await self._db.read(lambda db: search(db.conn, terms, f, limit))

    async def mark_private(self, channel: ChannelRef, private: bool) -> int:
        def op(db: sqlite_utils.Database) -> int:
            cursor = db.execute(
                "update archive_entries set private = ? where channel = (select id from"
                " archive_channels where platform = ? and workspace_id = ? and channel_id = ?)"
                " and private != ?",
                [int(private), channel.platform, channel.workspace, channel.id, int(private)],
            )
            return int(cursor.rowcount)

        return await self._db.write(op)
