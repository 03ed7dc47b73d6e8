"""Upgrading a copbot that dated each feedback answer by the day it was given: a day only
one person answered on picked their answer out, so every answer takes its round's day."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from storage.database import Database, connect
from storage.migrations import MIGRATIONS


def test_every_answer_takes_its_rounds_opening_day(db_path: Path) -> None:
    old = sqlite_utils.Database(connect(db_path))
    MIGRATIONS.apply(old, stop_before="0023_feedback_answers_dated_by_round")
    for rid, opened in ((1, "2026-11-02T09:30:00.000000Z"), (2, "2026-11-20T23:10:00.000000Z")):
        old["feedback_rounds"].insert(
            {"id": rid, "title": f"Round {rid}", "questions": "[]", "threshold": 3,
             "opened_at": opened}
        )  # fmt: skip
    for key, rid, day in (("a" * 32, 1, "2026-11-02"), ("b" * 32, 1, "2026-11-09"),
                          ("c" * 32, 2, "2026-11-21")):  # fmt: skip
        old["feedback_answers"].insert(
            {"id": key, "round_id": rid, "answered_on": day, "answers": "{}"}
        )
    old.conn.commit()
    old.close()

    db = Database.open(db_path)
    try:
        conn = connect(db_path)
        rows = conn.execute("select id, answered_on from feedback_answers order by id").fetchall()
        assert [tuple(r) for r in rows] == [
            ("a" * 32, "2026-11-02"),
            ("b" * 32, "2026-11-02"),  # answered a week later: no longer apart
            ("c" * 32, "2026-11-20"),  # the round's day, as copbot writes it (UTC)
        ]
        conn.close()
    finally:
        db.close()
