"""A phrase's newest matches read as ranges of rowids (storage/archive_search.py) are
exactly the ones a newest-first read finds, whatever the guess of where they start."""

from __future__ import annotations

import random
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


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("ranges") / "copbot.db"
    Database.open(path).close()
    c = connect(path)
    db = sqlite_utils.Database(c)
    messages = [
        ArchivedMessage(
            "local",
            "",
            "north",
            "north",
            f"m{i}",
            f"m{i}",
            "local:sam",
            "Sam",
            False,
            text,
            AT + timedelta(hours=i),
        )
        for i, text in enumerate(_texts(1500))
    ]
    with transaction(db):
        insert_rows(db, messages)
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
    assert _newest_in_ranges(conn, match, n, ("", "", []), _top(conn), density) == expected


def test_a_guess_too_sparse_reads_everything_in_one_range_and_too_dense_in_several(
    conn: Any,
) -> None:
    match = _match('"of caring"')
    queries: list[str] = []  # the ranges read (not FTS5's own reads of its tables)
    conn.set_trace_callback(lambda sql: queries.append(sql) if "f.rowid >=" in sql else None)
    try:
        everything = _newest_in_ranges(conn, match, 10_000, ("", "", []), _top(conn), 1e-9)
        one = len(queries)
        queries.clear()
        some = _newest_in_ranges(conn, match, 50, ("", "", []), _top(conn), 1.0)
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
        where = (join, date_sql, params)
        assert _newest_in_ranges(conn, match, 400, where, _top(conn), density) == expected


def test_a_phrase_search_ranks_the_same_newest_matches(
    conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ranked here, not by SQLite: every phrase counts as dear to weigh.
    monkeypatch.setattr(archive_search, "CHEAP_TO_WEIGH", 0)
    monkeypatch.setattr(archive_search, "COMMON_WINDOW", 40)
    documents = _top(conn)
    for phrase in PHRASES:
        terms = parse_terms(phrase)
        hits = search(conn, terms, ArchiveFilter(), 10)
        window = _newest(conn, _match(phrase), 40, "", "", [])
        frequencies = [
            archive_search._frequency(conn, f'text : ("{w}")', documents) for w in terms[0].words
        ]
        best = rank(window, terms, [min(frequencies)], documents, 10)
        assert [h.message.text for h in hits] == [dict(window)[b.rowid] for b in best], phrase
