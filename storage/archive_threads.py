"""The archive by thread, for reading in the console: threads with their counts, and a
thread's messages in order. Every read carries the viewer's private channels."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from bot.console.records import ThreadKey, ThreadSummary
from bot.records import ArchivedMessage, ArchiveFilter
from storage.archive_rows import SELECT, filter_sql, from_micros, id_key, message_from_row
from storage.database import Database


class SqliteThreadReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def threads(self, f: ArchiveFilter, limit: int) -> list[ThreadSummary]:
        where, params = filter_sql(f)

        def op(db: sqlite_utils.Database) -> list[ThreadSummary]:
            rows = db.execute(
                "with g as (select m.channel_key, m.thread_key,"
                " max(m.channel_name) as name, max(m.topic) as topic, max(m.region) as region,"
                " max(m.prompt_id) as prompt, min(m.created_us) as started,"
                " max(m.created_us) as last, count(*) as n, min(m.id) as first"
                f" from archive_messages m where {where}"
                " group by m.channel_key, m.thread_key"
                " order by last desc limit ?)"
                " select x.platform, x.workspace, x.channel_id, x.thread_id, g.name, g.topic,"
                " g.region, g.prompt, g.started, g.last, g.n, x.text"
                " from g join archive_messages x on x.id = g.first order by g.last desc",
                [*params, limit],
            )
            return [_summary(r) for r in rows]

        return await self._db.read(op)

    async def thread(self, key: ThreadKey, scope: ArchiveFilter) -> list[ArchivedMessage]:
        where, params = filter_sql(scope)

        def op(db: sqlite_utils.Database) -> list[ArchivedMessage]:
            rows = db.execute(
                f"select {SELECT} from archive_messages m where {where} and m.channel_key ="
                " (select id from archive_channels where platform = ? and workspace_id = ?"
                " and channel_id = ?) and m.thread_key = ? order by m.created_us, m.id",
                [*params, key.platform, key.workspace, key.channel_id, id_key(key.thread_id)],
            )
            return [message_from_row(r) for r in rows]

        return await self._db.read(op)

    async def participation(self, f: ArchiveFilter) -> list[tuple[str, str, str, str, str, int]]:
        """(topic, region, month, prompt, author or "", replies): a row per person a cell."""
        where, params = filter_sql(f)

        def op(db: sqlite_utils.Database) -> list[tuple[str, str, str, str, str, int]]:
            rows = db.execute(
                "select coalesce(m.topic, ''), coalesce(m.region, ''),"
                " strftime('%Y-%m', m.created_us / 1000000, 'unixepoch'),"
                " coalesce(m.prompt_id, ''),"
                " coalesce(m.author_id, ''), count(*)"
                f" from archive_messages m where {where} group by 1, 2, 3, 4, 5",
                params,
            )
            return [(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

        return await self._db.read(op)

    async def channels(self, scope: ArchiveFilter) -> list[str]:
        where, params = filter_sql(scope)

        def op(db: sqlite_utils.Database) -> list[str]:
            rows = db.execute(
                "select distinct coalesce(nullif(m.channel_name, ''), m.channel_id)"
                f" from archive_messages m where {where} order by 1",
                params,
            )
            return [r[0] for r in rows]

        return await self._db.read(op)

    async def workspaces(self, platform: str) -> list[str]:
        def op(db: sqlite_utils.Database) -> list[str]:
            rows = db.execute(
                "select c.workspace_id from archive_entries e"
                " join archive_channels c on c.id = e.channel where c.platform = ?"
                " group by c.workspace_id order by count(*) desc, c.workspace_id",
                [platform],
            )
            return [r[0] for r in rows]

        return await self._db.read(op)


def _summary(row: tuple[Any, ...]) -> ThreadSummary:
    (platform, workspace, channel_id, thread_id, channel_name, topic, region, prompt_id,
     started, last, count, opening) = row  # fmt: skip
    return ThreadSummary(
        ThreadKey(platform, workspace, channel_id, thread_id),
        channel_name or "",
        topic or "",
        region or "",
        prompt_id or "",
        from_micros(started),
        from_micros(last),
        int(count),
        opening or "",
    )
