"""Upgrading a copbot that kept Teams standard channels as public: the migration makes them,
and their messages, members-only, as every Teams channel now is; Slack's stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from bot.records import ArchivedMessage
from storage.archive_insert import insert_rows
from storage.database import Database, connect
from storage.migrations import MIGRATIONS

AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def message(platform: str, channel: str, ident: str) -> ArchivedMessage:
    return ArchivedMessage(
        platform, "T1", channel, "general", ident, ident, f"{platform}:U1", "Sam", False,
        f"said in {platform}", AT, private=False,
    )  # fmt: skip


def test_teams_channels_and_their_messages_become_members_only(db_path: Path) -> None:
    old = sqlite_utils.Database(connect(db_path))
    MIGRATIONS.apply(old, stop_before="0022_teams_channels_members_only")
    for platform, channel, kind in (
        ("teams", "19:general", "channel"),
        ("teams", "a:1chat", "direct"),
        ("slack", "C1", "channel"),
    ):
        old["channels"].insert(
            {"platform": platform, "workspace": "T1", "id": channel, "name": "general",
             "kind": kind, "updated_at": AT.isoformat(), "private": 0}
        )  # fmt: skip
    # Today's insert reads when an opt-out ended (a column 0024 adds): there for it alone.
    old.execute("alter table archive_optouts add column resumed_us integer")
    insert_rows(old, [message("teams", "19:general", "m1"), message("slack", "C1", "m2")])
    old.execute("alter table archive_optouts drop column resumed_us")
    old.conn.commit()
    old.close()

    db = Database.open(db_path)
    try:
        conn = connect(db_path)
        channels = conn.execute("select platform, id, private from channels order by id").fetchall()
        assert [tuple(r) for r in channels] == [
            ("teams", "19:general", 1),
            ("slack", "C1", 0),
            ("teams", "a:1chat", 0),  # a chat is the person's own: nothing to open or close
        ]
        kept = conn.execute(
            "select message_id, private from archive_messages order by message_id"
        ).fetchall()
        assert [tuple(r) for r in kept] == [("m1", 1), ("m2", 0)]
        conn.close()
    finally:
        db.close()
