"""Feedback rounds and their anonymous answers.

Answers carry a random key, the date and the answers: no person, channel, message or time
of day. Who has answered is a keyed hash in a table of its own, written in the same
transaction as the answer and with no reference to it; the key sits in a third table, and
both go when the round closes (docs/anonymity.md).
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import sqlite_utils

from bot.clock import from_text, to_text
from bot.feedback import AlreadyAnswered, Question, QuestionKind, Round, RoundClosed, RoundState
from bot.model import ChannelRef
from bot.ports import WriteOp
from storage.database import Database

_ROUND = (
    "r.id, r.title, r.questions, r.threshold, r.state, r.opened_at, r.closes_on, r.platform,"
    " r.workspace, r.channel_id, r.opened_by,"
    " (select count(*) from feedback_answers a where a.round_id = r.id)"
)


class SqliteFeedbackRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(
        self, round_: Round, key: bytes, linked: Callable[[int], WriteOp] | None = None
    ) -> Round:
        channel = round_.channel

        def op(db: sqlite_utils.Database) -> int:
            cur = db.execute(
                "insert into feedback_rounds (title, questions, threshold, state, closes_on,"
                " platform, workspace, channel_id, opened_by, opened_at)"
                " values (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)",
                [
                    round_.title,
                    json.dumps([_question_doc(q) for q in round_.questions]),
                    round_.threshold,
                    round_.closes_on.isoformat() if round_.closes_on else None,
                    channel.platform if channel else "",
                    channel.workspace if channel else "",
                    channel.id if channel else "",
                    round_.opened_by,
                    to_text(round_.opened_at),
                ],
            )
            round_id = int(cur.lastrowid or 0)
            db.execute("insert into feedback_keys (round_id, key) values (?, ?)", [round_id, key])
            if linked is not None:
                linked(round_id)(db)
            return round_id

        round_id = await self._db.write(op)
        return Round(
            round_id,
            round_.title,
            round_.questions,
            round_.threshold,
            RoundState.OPEN,
            round_.opened_at,
            round_.closes_on,
            channel,
            round_.opened_by,
        )

    async def get(self, round_id: int) -> Round | None:
        def op(db: sqlite_utils.Database) -> Round | None:
            row = db.execute(
                f"select {_ROUND} from feedback_rounds r where r.id = ?", [round_id]
            ).fetchone()
            return _round(row) if row else None

        return await self._db.read(op)

    async def rounds(self, *, open_only: bool = False) -> list[Round]:
        where = "where r.state = 'open'" if open_only else ""

        def op(db: sqlite_utils.Database) -> list[Round]:
            rows = db.execute(f"select {_ROUND} from feedback_rounds r {where} order by r.id")
            return [_round(r) for r in rows.fetchall()]

        return await self._db.read(op)

    async def key(self, round_id: int) -> bytes | None:
        def op(db: sqlite_utils.Database) -> bytes | None:
            row = db.execute(
                "select k.key from feedback_keys k join feedback_rounds r on r.id = k.round_id"
                " where k.round_id = ? and r.state = 'open'",
                [round_id],
            ).fetchone()
            return bytes(row[0]) if row else None

        return await self._db.read(op)

    async def has_answered(self, round_id: int, person: bytes) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            return (
                db.execute(
                    "select 1 from feedback_answered where round_id = ? and hash = ?",
                    [round_id, person],
                ).fetchone()
                is not None
            )

        return await self._db.read(op)

    async def answer(
        self, round_id: int, person: bytes, answers: Mapping[str, str], on: date
    ) -> None:
        doc = json.dumps(dict(answers), ensure_ascii=False, sort_keys=True)

        def op(db: sqlite_utils.Database) -> str:
            if not _open(db, round_id):
                return "closed"
            cur = db.execute(
                "insert or ignore into feedback_answered (round_id, hash) values (?, ?)",
                [round_id, person],
            )
            if not cur.rowcount:
                return "again"
            db.execute(
                "insert into feedback_answers (id, round_id, answered_on, answers)"
                " values (?, ?, ?, ?)",
                [secrets.token_hex(16), round_id, on.isoformat(), doc],
            )
            _rewrite_in_key_order(db, round_id)
            return "kept"

        outcome = await self._db.write(op)
        # The submission's inbox row (the ticket beside the answers) was emptied before this
        # ran: its old frames leave the write-ahead log now.
        await self.forget_traces()
        if outcome == "closed":
            raise RoundClosed(round_id)
        if outcome == "again":
            raise AlreadyAnswered(round_id)

    async def close(self, round_id: int, at: datetime) -> bool:
        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "update feedback_rounds set state = 'closed', closed_at = ?"
                " where id = ? and state = 'open'",
                [to_text(at), round_id],
            )
            # The key and the hashes go with the round's openness: nobody can ever again
            # test a person against this round (secure_delete zeroes the freed cells).
            db.execute("delete from feedback_keys where round_id = ?", [round_id])
            db.execute("delete from feedback_answered where round_id = ?", [round_id])
            return bool(cur.rowcount)

        closed = await self._db.write(op)
        await self._db.checkpoint()  # and out of the write-ahead log
        return closed

    async def set_threshold(self, round_id: int, threshold: int) -> bool:
        def op(db: sqlite_utils.Database) -> str:
            # One transaction: a round closed, or answered, a moment ago keeps its k.
            if not _open(db, round_id):
                return "closed"
            cur = db.execute(
                "update feedback_rounds set threshold = ? where id = ? and not exists"
                " (select 1 from feedback_answers where round_id = ?)",
                [threshold, round_id, round_id],
            )
            return "changed" if cur.rowcount else "answered"

        outcome = await self._db.write(op)
        if outcome == "closed":
            raise RoundClosed(round_id)
        return outcome == "changed"

    async def answers(self, round_id: int) -> list[dict[str, str]]:
        def op(db: sqlite_utils.Database) -> list[str]:
            rows = db.execute(
                "select answers from feedback_answers where round_id = ?", [round_id]
            ).fetchall()
            return [r[0] for r in rows]

        docs = await self._db.read(op)
        # Key order is random already; shuffled again so no reader depends on storage order.
        random.SystemRandom().shuffle(docs)
        return [{str(k): str(v) for k, v in json.loads(d).items()} for d in docs]

    async def forget_traces(self) -> None:
        await self._db.checkpoint()

    async def forget_opener(self, identity: str) -> int:
        return await self._db.execute(
            "update feedback_rounds set opened_by = '' where opened_by = ?", [identity]
        )


def _rewrite_in_key_order(db: sqlite_utils.Database, round_id: int) -> None:
    """Write the round's answers and hashes again, each table in its key's order.

    Rows sit in key order (random), but inside a page SQLite puts each new row's bytes
    below the last one's: where the bytes lie would tell the order people answered, in
    both tables, and while the round is open its key names whose hash is whose. Written
    again together (the old bytes zeroed by secure_delete), every row's place follows its
    random key, so the two tables' orders say nothing of each other or of who came when.
    A round has tens of answers, not thousands: this costs little, once an answer.
    """
    answers = db.execute(
        "select id, answered_on, answers from feedback_answers where round_id = ? order by id",
        [round_id],
    ).fetchall()
    hashes = db.execute(
        "select hash from feedback_answered where round_id = ? order by hash", [round_id]
    ).fetchall()
    db.execute("delete from feedback_answers where round_id = ?", [round_id])
    db.execute("delete from feedback_answered where round_id = ?", [round_id])
    db.conn.executemany(
        "insert into feedback_answers (id, round_id, answered_on, answers) values (?, ?, ?, ?)",
        [(ident, round_id, day, doc) for ident, day, doc in answers],
    )
    db.conn.executemany(
        "insert into feedback_answered (round_id, hash) values (?, ?)",
        [(round_id, h) for (h,) in hashes],
    )


def _question_doc(q: Question) -> dict[str, Any]:
    return {
        "id": q.id,
        "kind": q.kind.value,
        "label": q.label,
        "required": q.required,
        "scale": q.scale,
        "options": list(q.options),
    }


def _question(doc: dict[str, Any]) -> Question:
    return Question(
        str(doc["id"]),
        QuestionKind(doc["kind"]),
        str(doc["label"]),
        bool(doc.get("required", True)),
        int(doc.get("scale", 5)),
        tuple(str(o) for o in doc.get("options", ())),
    )


def _round(row: tuple[Any, ...]) -> Round:
    (rid, title, questions, k, state, opened_at, closes_on, platform, ws, channel_id, by, n) = row
    channel = ChannelRef(platform, channel_id, ws) if channel_id else None
    return Round(
        int(rid),
        str(title),
        tuple(_question(d) for d in json.loads(questions)),
        int(k),
        RoundState(state),
        from_text(opened_at),
        date.fromisoformat(closes_on) if closes_on else None,
        channel,
        str(by),
        int(n),
    )


def _open(db: sqlite_utils.Database, round_id: int) -> bool:
    """Whether the round is there and still open, read in the caller's transaction."""
    row = db.execute("select state from feedback_rounds where id = ?", [round_id]).fetchone()
    return row is not None and row[0] == "open"
