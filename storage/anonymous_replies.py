"""Anonymous replies: which channels switched them off, and the writes that close a posted
reply's job (its archive row, and the job's payload emptied) in one transaction."""

from __future__ import annotations

import sqlite_utils

from bot.model import ChannelRef
from bot.ports import WriteOp
from bot.records import ArchivedMessage
from storage.archive_insert import insert_rows
from storage.database import Database


class SqliteAnonymousReplyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def is_off(self, channel: ChannelRef) -> bool:
        return await self._db.read(
            lambda db: (
                db.execute(
                    "select 1 from anonymous_replies_off"
                    " where platform = ? and workspace = ? and channel_id = ?",
                    _key(channel),
                ).fetchone()
                is not None
            )
        )

    async def switch(self, channel: ChannelRef, on: bool) -> bool:
        """Switch anonymous replies on or off in ``channel``; False when it already was."""
        if on:
            sql = (
                "delete from anonymous_replies_off"
                " where platform = ? and workspace = ? and channel_id = ?"
            )
        else:
            sql = (
                "insert or ignore into anonymous_replies_off (platform, workspace, channel_id)"
                " values (?, ?, ?)"
            )
        return bool(await self._db.execute(sql, _key(channel)))

    def archiving(self, message: ArchivedMessage) -> WriteOp:
        def op(db: sqlite_utils.Database) -> None:
            insert_rows(db, [message])

        return op

    def forgetting(self, job_id: int) -> WriteOp:
        """Delete a finished job's row (secure_delete zeroes its bytes). Emptied, it would
        still say, by its id and its finishing time, which submission became which post:
        ids count up in the order people pressed Submit, and the random delay is there to
        keep that order from the thread."""

        def op(db: sqlite_utils.Database) -> None:
            db.execute("delete from jobs where id = ?", [job_id])

        return op

    async def forget_traces(self) -> None:
        """Fold the write-ahead log into the file and truncate it."""
        await self._db.checkpoint()


def _key(channel: ChannelRef) -> list[str]:
    return [channel.platform, channel.workspace, channel.id]
