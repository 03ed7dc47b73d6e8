"""Archive rows: the columns, and the SQL conditions of a filter, shared by writing,
search and export.

Rows live in ``archive_entries`` in compact form (names, channels and people as small
integer keys, times as microseconds, Slack message ids as integers); the view
``archive_messages`` (migration 0019) shows them with the columns the archive always had,
plus the raw keys (``channel_key``, ``created_us``, …) that conditions use, so that SQLite
reads indexes rather than computing every row's text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.archive_export import FIELDS
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
    "created_us",
    "edited_us",
    "edit_count",
    "prompt_id",
    "topic",
    "region",
    "private",
)
SELECT = ", ".join(f"m.{c}" for c in COLUMNS)
# The raw keys alone, under the view's names: enough for ``filter_sql``'s conditions, so
# that counting reads an index instead of working out every row's names and times.
KEYS = (
    "(select e.id as id, e.channel as channel_key, e.channel_name as name_key,"
    " e.author as author_key, e.topic as topic_key, e.region as region_key,"
    " e.created_at as created_us, e.private as private from archive_entries e)"
)
EXPORT = ", ".join(f"m.{c}" for c in FIELDS)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A moment as stored: whole microseconds since 1970, UTC."""
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: times in copbot are timezone-aware")
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def id_key(message_id: str) -> int | str:
    """A message or thread id as stored (an integer for a Slack ts, else the text)."""
    # A Slack ts ("1700000000.123456": ten digits, the first not 0, a dot, six) is kept as
    # one integer (migration 0019). Checked by hand, not by a pattern: half the time, on
    # two ids of every row an import writes (isdigit alone would take other scripts' digits).
    if len(message_id) == 17 and message_id[10] == "." and message_id[0] != "0":
        digits = message_id[:10] + message_id[11:]
        if digits.isascii() and digits.isdigit():
            return int(digits)
    return message_id


def id_from_key(key: int | str) -> str:
    return f"{key // 1_000_000}.{key % 1_000_000:06d}" if isinstance(key, int) else key


def filter_sql(f: ArchiveFilter) -> tuple[str, list[Any]]:
    """SQL conditions on ``m`` for a filter, for reads that do not go through the index."""
    clauses: list[str] = []
    params: list[Any] = []
    if f.workspace:
        clauses.append(
            "m.channel_key in (select id from archive_channels"
            " where platform = ? and workspace_id = ?)"
        )
        params += list(f.workspace)
    if f.channel:
        clauses.append(
            "(m.channel_key in (select id from archive_channels where channel_id = ?)"
            " or m.name_key = (select id from archive_labels where value = ?))"
        )
        params += [f.channel.lstrip("#"), f.channel.lstrip("#")]
    for column, value in (("topic", f.topic), ("region", f.region)):
        if value:
            clauses.append(f"m.{column}_key = (select id from archive_labels where value = ?)")
            params.append(value)
    if f.author:
        clauses.append("m.author_key in (select id from archive_authors where author_id = ?)")
        params.append(f.author)
    clauses += date_clauses(f, params) + visibility_clauses(f, params)
    return (" and ".join(clauses) or "1"), params


def date_clauses(f: ArchiveFilter, params: list[Any]) -> list[str]:
    clauses = []
    if f.since:
        clauses.append("m.created_us >= ?")
        params.append(micros(f.since))
    if f.until:
        clauses.append("m.created_us < ?")
        params.append(micros(f.until))
    return clauses


def visibility_clauses(f: ArchiveFilter, params: list[Any]) -> list[str]:
    """Only what the viewer may see: public channels' messages, and their own channels'."""
    if f.viewer_channels is None:
        return []
    params.append(json.dumps(sorted(f.viewer_channels)))
    # One parameter however many channels someone is in (SQLite limits parameters).
    return [
        "(m.private = 0 or m.channel_key in (select id from archive_channels"
        " where channel_id in (select value from json_each(?))))"
    ]


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
        from_micros(created_at),
        from_micros(edited_at) if edited_at is not None else None,
        edit_count,
        prompt_id,
        topic,
        region,
        bool(private),
    )
