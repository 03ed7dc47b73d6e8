"""Archive rows: the columns, and the SQL conditions of a filter, shared by writing,
search and export."""

from __future__ import annotations

import json
from typing import Any

from bot.archive_export import FIELDS
from bot.clock import from_text, to_text
from bot.records import ArchivedMessage, ArchiveFilter

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
    "private",
)
SELECT = ", ".join(f"m.{c}" for c in COLUMNS)
EXPORT = ", ".join(f"m.{c}" for c in FIELDS)


def filter_sql(f: ArchiveFilter) -> tuple[str, list[Any]]:
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
    clauses += date_clauses(f, params) + visibility_clauses(f, params)
    return (" and ".join(clauses) or "1"), params


def date_clauses(f: ArchiveFilter, params: list[Any]) -> list[str]:
    clauses = []
    if f.since:
        clauses.append("m.created_at >= ?")
        params.append(to_text(f.since))
    if f.until:
        clauses.append("m.created_at < ?")
        params.append(to_text(f.until))
    return clauses


def visibility_clauses(f: ArchiveFilter, params: list[Any]) -> list[str]:
    """Only what the viewer may see: public channels' messages, and their own channels'."""
    if f.viewer_channels is None:
        return []
    params.append(json.dumps(sorted(f.viewer_channels)))
    # One parameter however many channels someone is in (SQLite limits parameters).
    return ["(m.private = 0 or m.channel_id in (select value from json_each(?)))"]


def message_from_row(row: tuple[Any, ...]) -> ArchivedMessage:
    (platform, workspace, channel_id, channel_name, thread_id, message_id, author_id,
     author_name, anonymous, text, created_at, edited_at, edit_count, prompt_id, topic,
     region, private) = row  # fmt: skip
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
        bool(private),
    )
