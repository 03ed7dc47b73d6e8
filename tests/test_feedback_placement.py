"""Where an answer's bytes lie in the file says nothing of when it came. Inside a page
SQLite writes each new row below the last one, so the byte offsets of the round's hashes
(whose is whose, while the round's key is in the file) and of its answers would each give
the order people answered, and the two orders together who wrote what. Every answer
rewrites the round's rows in their random keys' order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, new_key, person_hash
from storage.database import Database
from storage.feedback import SqliteFeedbackRepository

PEOPLE = [f"test:person{n}" for n in range(8)]


async def test_rows_lie_in_their_keys_order_not_in_the_order_people_answered(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    try:
        repo = SqliteFeedbackRepository(db)
        key = new_key()
        opened = await repo.open(
            Round(0, "Workshop", DEFAULT_QUESTIONS, 3, RoundState.OPEN, datetime.now(UTC)), key
        )
        hashes = {who: person_hash(key, who) for who in PEOPLE}
        # They answer in the reverse of their hashes' order: were rows placed as they
        # came, the offsets would give that order back.
        arrival = sorted(PEOPLE, key=lambda who: hashes[who], reverse=True)
        for n, who in enumerate(arrival):
            words = {"useful": "4", "impactful": f"answer-{n:02d}-words", "change": "time"}
            await repo.answer(opened.id, hashes[who], words, date(2026, 12, 1))
        await db.checkpoint()
        ids = await db.read(
            lambda conn: conn.execute(
                "select id, answers from feedback_answers where round_id = ? order by id",
                [opened.id],
            ).fetchall()
        )
    finally:
        db.close()
    raw = db_path.read_bytes()
    # The first row written sits highest in its page: descending offsets give write order.
    by_hash_place = sorted(PEOPLE, key=lambda who: -raw.find(hashes[who]))
    assert all(raw.find(hashes[who]) > 0 for who in PEOPLE)
    assert by_hash_place == sorted(PEOPLE, key=lambda who: hashes[who])  # key order
    by_answer_place = sorted(ids, key=lambda row: -raw.find(row[1].encode()))
    assert by_answer_place == ids  # the random ids' order, not the order they came in
