"""A phrase's newest matches read as ranges of rowids (storage/archive_search.py) are
exactly the ones a newest-first read finds, whatever the guess of where they start."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ranking import rank
from bot.records import ArchivedMessage, ArchiveFilter
from bot.search_query import parse_terms
from storage import archive_search
from storage.archive import SqliteArchiveRepository
from storage.archive_insert import insert_rows
from storage.archive_rows import date_clauses, visibility_clauses
from storage.archive_search import _newest, _newest_in_ranges, search
from storage.database import Database, connect, transaction

AT = datetime(2026, 3, 1, tzinfo=UTC)
# Phrases from common to rare, and one in no message.
PHRASES = ['"of the"', '"the of"', '"of caring"', '"caring job team"', '"no such"']


def _texts(count: int) -> list[str]:
    rng = random.Random(7)
    vocabulary = ["of", "the", "a", "team", "job", "caring"]
    return [" ".join(rng.choices(vocabulary, [9, 9, 6, 3, 3, 1], k=8)) for _ in range(count)]


def _small_archive(path: Path, rows: list[tuple[str, str, bool]]) -> Any:
    """An archive of (channel, text, private), oldest first: rowids 1, 2, …"""
    Database.open(path).close()
    c = connect(path)
    db = sqlite_utils.Database(c)
    messages = [
        ArchivedMessage(
            "local",
            "",
            channel,
            channel,
            f"m{i}",
            f"m{i}",
            "local:sam",
            "Sam",
            False,
            text,
            AT + timedelta(hours=i),
            private=private,
        )
        for i, (channel, text, private) in enumerate(rows)
    ]
    with transaction(db):
        insert_rows(db, messages)
    return c


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("ranges") / "copbot.db"
    c = _small_archive(path, [("north", text, False) for text in _texts(1500)])
    yield c
    c.close()


def _match(phrase: str) -> str:
    return f"text : ({parse_terms(phrase)[0].fts()})"


def _top(conn: Any) -> int:
    return int(conn.execute("select max(id) from archive_entries").fetchone()[0])


@settings(max_examples=200, deadline=None)
@given(
    phrase=st.sampled_from(PHRASES),
    n=st.integers(1, 400),
    density=st.floats(1e-9, 1.0),
)
def test_the_ranges_find_the_newest_matches_whatever_the_guess(
    conn: Any, phrase: str, n: int, density: float
) -> None:
    match = _match(phrase)
    expected = [rowid for rowid, _ in _newest(conn, match, n, "", "", [])]
    assert _newest_in_ranges(conn, match, n, "", "", [], _top(conn), density) == expected


def test_a_guess_too_sparse_reads_everything_in_one_range_and_too_dense_in_several(
    conn: Any,
) -> None:
    match = _match('"of caring"')
    queries: list[str] = []  # the ranges read (not FTS5's own reads of its tables)
    conn.set_trace_callback(lambda sql: queries.append(sql) if "f.rowid >=" in sql else None)
    try:
        everything = _newest_in_ranges(conn, match, 10_000, "", "", [], _top(conn), 1e-9)
        one = len(queries)
        queries.clear()
        some = _newest_in_ranges(conn, match, 50, "", "", [], _top(conn), 1.0)
        several = len(queries)
    finally:
        conn.set_trace_callback(None)
    assert one == 1
    assert several > 1
    assert len(everything) > 50
    assert some == everything[:50]


def test_the_ranges_keep_a_search_s_conditions_on_the_row(conn: Any) -> None:
    since = AT + timedelta(hours=900)
    f = ArchiveFilter(since=since)
    params: list[Any] = []
    date_sql = "".join(f" and {c}" for c in date_clauses(f, params) + visibility_clauses(f, params))
    join = " join archive_messages m on m.id = f.rowid"
    match = _match('"of the"')
    expected = [rowid for rowid, _ in _newest(conn, match, 400, join, date_sql, params)]
    assert expected and len(expected) < 400  # only those since then: the filter did narrow
    for density in (1e-6, 0.01, 1.0):
        got = _newest_in_ranges(conn, match, 400, join, date_sql, params, _top(conn), density)
        assert got == expected


def test_a_phrase_search_ranks_the_same_newest_matches(
    conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ranked here, not by SQLite: every phrase counts as dear to weigh.
    monkeypatch.setattr(archive_search, "CHEAP_TO_WEIGH", -1)
    monkeypatch.setattr(archive_search, "COMMON_WINDOW", 40)
    documents = _top(conn)
    ranges: list[str] = []
    for phrase in PHRASES:
        terms = parse_terms(phrase)
        ranges.clear()
        conn.set_trace_callback(lambda sql: ranges.append(sql) if "f.rowid >=" in sql else None)
        try:
            hits = search(conn, terms, ArchiveFilter(), 10)
        finally:
            conn.set_trace_callback(None)
        assert ranges, f"{phrase}: read in ranges"
        window = _newest(conn, _match(phrase), 40, "", "", [])
        frequencies = [
            archive_search._frequency(conn, f'text : ("{w}")', documents) for w in terms[0].words
        ]
        best = rank(window, terms, [min(frequencies)], documents, 10)
        assert [h.message.text for h in hits] == [dict(window)[b.rowid] for b in best], phrase


class _Counting:
    """A connection that counts the reads made through it and the rows they return."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.reads, self.rows = conn, 0, 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.conn.execute(sql, params).fetchall()
        self.reads += 1
        self.rows += len(rows)
        return _Rows(rows)


class _Rows(list[Any]):
    def fetchall(self) -> list[Any]:
        return list(self)

    def fetchone(self) -> Any:
        return self[0] if self else None


def test_a_phrase_search_never_finds_a_private_channel_s_message(tmp_path: Path) -> None:
    # A phrase with a prefix is ranked here whatever the archive's size: read in ranges.
    rows = [("secret", "of the team", True), ("north", "of the team", False)] * 50
    conn = _small_archive(tmp_path / "copbot.db", rows)
    outsider = ArchiveFilter(viewer_channels=frozenset())
    hits = search(conn, parse_terms('"of the" tea*'), outsider, 10)
    assert len(hits) == 10 and {h.message.channel_id for h in hits} == {"north"}
    since = AT + timedelta(hours=90)
    hits = search(conn, parse_terms('"of the" tea*'), replace(outsider, since=since), 10)
    assert hits and {h.message.channel_id for h in hits} == {"north"}
    assert all(h.message.created_at >= since for h in hits)
    member = ArchiveFilter(viewer_channels=frozenset({"secret"}))
    assert "secret" in {
        h.message.channel_id for h in search(conn, parse_terms('"of the" tea*'), member, 10)
    }


def test_the_oldest_message_is_reached_however_the_ranges_fall(tmp_path: Path) -> None:
    conn = _small_archive(
        tmp_path / "copbot.db", [("north", "of caring", False)] + [("north", "x", False)] * 50
    )
    match = _match('"of caring"')
    for top in range(1, 52):
        for n in (1, 2, 5, 300):
            for density in (1.0, 0.01, 1e-9):
                got = _newest_in_ranges(conn, match, n, "", "", [], top, density)
                assert got == [1], (top, n, density)


def test_fewer_matches_than_wanted_all_among_the_newest_take_few_reads(tmp_path: Path) -> None:
    rows = [("north", "x y", False)] * 5000 + [("north", "of caring", False)] * 299
    conn = _small_archive(tmp_path / "copbot.db", rows)
    counting = _Counting(conn)
    match = _match('"of caring"')
    got = _newest_in_ranges(counting, match, 300, "", "", [], len(rows), 1.0)
    assert got == [rowid for rowid, _ in _newest(conn, match, 300, "", "", [])]
    assert counting.reads <= archive_search.MAX_RANGES + 1


def test_a_dense_stretch_further_back_is_not_read_in_full(tmp_path: Path) -> None:
    # One match among the newest, then thousands together further back: 300 are wanted.
    rows = [("north", "of caring", False)] * 5000 + [("north", "x y", False)] * 1000
    rows.append(("north", "of caring", False))
    conn = _small_archive(tmp_path / "copbot.db", rows)
    counting = _Counting(conn)
    match = _match('"of caring"')
    got = _newest_in_ranges(counting, match, 300, "", "", [], len(rows), 1e-4)
    assert got == [rowid for rowid, _ in _newest(conn, match, 300, "", "", [])]
    assert counting.rows <= (archive_search.RANGE_ROWS + 2) * 300


class _MadePrivateMidway(_Counting):
    """Marks every message private just after the search has read its candidates' texts."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = super().execute(sql, params)
        if sql.startswith("select id, text from archive_entries"):
            self.conn.execute("update archive_entries set private = 1")
        return rows


def test_a_channel_made_private_while_a_search_runs_stays_out(tmp_path: Path) -> None:
    conn = _small_archive(tmp_path / "copbot.db", [("north", "of the team", False)] * 30)
    terms = parse_terms('"of the" tea*')
    assert len(search(conn, terms, ArchiveFilter(viewer_channels=frozenset()), 10)) == 10
    midway = _MadePrivateMidway(conn)
    assert search(midway, terms, ArchiveFilter(viewer_channels=frozenset()), 10) == []


async def test_a_search_reads_one_snapshot_while_another_connection_writes(
    tmp_path: Path,
) -> None:
    """A search reads its matches, then their rows. The newest match deleted and another
    channel's message written in between, in the rowid the deletion freed, must not reach
    the results: the search sees the archive as it was when it began."""
    path = tmp_path / "copbot.db"
    _small_archive(path, [("north", "budget planning", False), ("north", "budgeting again", False)])
    database = Database.open(path, readers=1)  # one reader: the traced connection serves all
    writer = sqlite_utils.Database(connect(path))
    elsewhere = ArchivedMessage(
        "local", "", "south", "south", "s1", "s1", "local:kim", "Kim", False,
        "budgie facts from another channel", AT + timedelta(days=1),
    )  # fmt: skip
    written: list[str] = []

    def between(sql: str) -> None:
        if not written and sql.startswith("select m.id,"):  # the read of the rows found
            written.append(sql)
            with transaction(writer):
                writer.execute("delete from archive_entries where id = 2")
                insert_rows(writer, [elsewhere])

    try:
        await database.read(lambda db: db.conn.set_trace_callback(between))
        hits = await SqliteArchiveRepository(database).search(
            parse_terms("budg*"), ArchiveFilter(channel="north", viewer_channels=frozenset()), 10
        )
        assert written, "the write did not land between the search's statements"
        assert writer.execute("select id, channel_name from archive_messages").fetchall() == [
            (1, "north"),
            (2, "south"),
        ]  # the rowid was reused
        assert sorted(h.message.text for h in hits) == ["budget planning", "budgeting again"]
    finally:
        database.close()
        writer.conn.close()
