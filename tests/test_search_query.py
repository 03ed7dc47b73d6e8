from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.records import ArchivedMessage, ArchiveFilter
from bot.search_query import MAX_PHRASE_WORDS, MAX_TERMS, SearchTooLong, Term, parse_terms
from storage.archive_insert import insert_rows
from storage.archive_search import filter_tags, search
from storage.database import Database, connect, transaction

AT = datetime(2026, 3, 1, tzinfo=UTC)
TEXTS = [
    "We talked about unconscious bias in job matching",
    "Café culture and the vocational profile",
    "Recruitment fairs: who do we recruit, who recruits us?",
    "bias bias bias: it came up again and again",
    "Nothing to see here",
]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("q") / "copbot.db"
    Database.open(path).close()
    c = connect(path)
    db = sqlite_utils.Database(c)
    with transaction(db):
        insert_rows(
            db,
            [
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
                    t,
                    AT,
                )
                for i, t in enumerate(TEXTS)
            ],
        )
    yield c
    c.close()


def found(conn, text: str) -> list[str]:
    terms = parse_terms(text)
    assert terms
    return [h.message.text for h in search(conn, terms, ArchiveFilter(), 10)]


def test_words_phrases_and_prefixes(conn) -> None:
    assert found(conn, "bias")[0] == TEXTS[3]  # the most relevant first
    assert set(found(conn, "bias")) == {TEXTS[0], TEXTS[3]}
    assert found(conn, '"job matching"') == [TEXTS[0]]
    assert found(conn, '"matching job"') == []
    assert set(found(conn, "recruit*")) == {TEXTS[2]}
    assert found(conn, "cafe") == [TEXTS[1]]  # diacritics don't matter
    assert found(conn, "CAFÉ Vocational") == [TEXTS[1]]


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced quote bias',
        "bias AND",
        "OR bias",
        "NEAR(bias job)",
        "*",
        "text:bias",
        "tags:zr123",
        "bias\x00\x07\x1b",
        "^bias",
        "-bias +job",
        "((bias",
        '""',
        "a* b*",
    ],
)
def test_fts_syntax_in_what_people_type_is_literal_and_never_an_error(conn, text: str) -> None:
    search(conn, parse_terms(text), ArchiveFilter(), 5)


def test_operators_are_words_not_syntax(conn) -> None:
    # "and" is a word to find: only the message with both words matches
    assert found(conn, "bias AND") == [TEXTS[3]]
    assert found(conn, "job OR profile") == []
    assert found(conn, "text:bias") == []  # no column called "text" is searched for "bias"


def test_nothing_to_search_for() -> None:
    assert parse_terms("   ") == []
    assert parse_terms("*** !!! ---") == []
    assert parse_terms('"" ""') == []


def test_short_prefixes_are_plain_words() -> None:
    assert [t.prefix for t in parse_terms("a* ab* abc*")] == [False, False, True]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_valid_search(conn, text: str) -> None:
    try:
        terms = parse_terms(text)
    except SearchTooLong:
        assert len(re.findall(r"[^\W_]+", text)) > MAX_TERMS  # refused in words, not an error
        return
    search(conn, terms, ArchiveFilter(region="north"), 5)


def test_a_word_or_phrase_given_twice_is_searched_once() -> None:
    assert parse_terms('bias job bias "of the" bias "of the" job*') == [
        Term(("bias",)),
        Term(("job",)),
        Term(("of", "the")),
        Term(("job",), prefix=True),
    ]
    # However often it is pasted, one phrase is one read; ASCII in any case is one word.
    assert parse_terms('"of the" ' * 5000) == [Term(("of", "the"))]
    assert parse_terms('Bias BIAS bias "Of The" "of the"') == [Term(("Bias",)), Term(("Of", "The"))]
    # Beyond ASCII, FTS5 folds case in its own way: such words are compared as written.
    assert len(parse_terms("Éire éire")) == 2


def test_a_search_longer_than_copbot_reads_is_refused_in_words() -> None:
    words = [f"word{i}" for i in range(MAX_TERMS + 1)]
    assert len(parse_terms(" ".join(words[:MAX_TERMS]))) == MAX_TERMS
    with pytest.raises(
        SearchTooLong,
        match=f"has {MAX_TERMS + 1} words and phrases; search for at most {MAX_TERMS}",
    ):
        parse_terms(" ".join(words))
    phrase = " ".join(words[:MAX_PHRASE_WORDS])
    assert parse_terms(f'"{phrase}"') == [Term(tuple(words[:MAX_PHRASE_WORDS]))]
    with pytest.raises(
        SearchTooLong,
        match=f"at most {MAX_PHRASE_WORDS} words long; that one has {MAX_PHRASE_WORDS + 1}",
    ):
        parse_terms(f'"{phrase} more"')


def _archive(path: Path, texts: list[str]) -> sqlite_utils.Database:
    Database.open(path).close()
    db = sqlite_utils.Database(connect(path))
    messages = [
        ArchivedMessage(
            "local", "", "north", "north", f"m{i}", f"m{i}", "local:sam", "Sam", False, t, AT
        )
        for i, t in enumerate(texts)
    ]
    with transaction(db):
        insert_rows(db, messages)
    return db


def _fts5_prefix(conn, prefix: str) -> set[str]:
    """What FTS5's own prefix query finds: the reference for the words a prefix is read as."""
    return {
        r[0]
        for r in conn.execute(
            "select e.text from archive_fts f join archive_entries e on e.id = f.rowid"
            " where archive_fts match ?",
            [f'text : ("{prefix}"*)'],
        )
    }


def test_a_prefix_finds_every_word_it_starts_as_fts5_would(tmp_path: Path) -> None:
    texts = [f"training {w}" for w in ("recruit", "recruits", "Recruitment", "récord")]
    texts += ["rec room", "wreck", "nothing", "a record"]
    db = _archive(tmp_path / "copbot.db", texts)
    for prefix in ("recr", "rec", "REC", "réc", "trai", "zzz"):
        hits = [
            h.message.text for h in search(db.conn, parse_terms(prefix + "*"), ArchiveFilter(), 20)
        ]
        assert set(hits) == _fts5_prefix(db.conn, prefix.lower().replace("é", "e")), prefix
    assert len(found(db.conn, "rec*")) == 6  # not "wreck": words that start with it


def test_a_prefix_of_more_words_than_are_listed_is_still_found_whole(tmp_path: Path) -> None:
    from storage.archive_search import MAX_EXPANSION

    suffixes = [f"{a}{b}" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghij"]
    assert len(suffixes) > MAX_EXPANSION
    db = _archive(tmp_path / "copbot.db", [f"pre{s} and more" for s in suffixes])
    hits = search(db.conn, parse_terms("pre*"), ArchiveFilter(), 10)
    assert len(hits) == 10
    assert len(_fts5_prefix(db.conn, "pre")) == len(suffixes)
    assert {h.message.text for h in search(db.conn, parse_terms("prez*"), ArchiveFilter(), 20)} == {
        f"prez{b} and more" for b in "abcdefghij"
    }


def test_a_prefix_whose_only_message_was_deleted_finds_nothing(tmp_path: Path) -> None:
    db = _archive(tmp_path / "copbot.db", ["the quokka sighting", "another message"])
    assert found(db.conn, "quok*") == ["the quokka sighting"]
    with transaction(db):
        db.execute("delete from archive_entries where text = ?", ["the quokka sighting"])
    assert found(db.conn, "quok*") == []
    assert found(db.conn, "anot*") == ["another message"]


def _every_prefix_as_fts5_would(conn) -> None:
    for a, b, c in product("ab9é²й", repeat=3):
        for prefix in (a + b + c, *(a + b + c + d for d in "ab9")):
            hits = search(conn, parse_terms(prefix + "*"), ArchiveFilter(), 1000)
            expected = _fts5_prefix(conn, prefix)
            assert {h.message.text for h in hits} == expected, prefix
            assert len(hits) == len(expected), prefix


def test_a_prefix_that_is_a_word_itself_finds_what_fts5_would(tmp_path: Path) -> None:
    # Words of "a", "b", "9", "é" (which FTS5 reads as "e"), "²" (which it keeps, and
    # copbot's folding reads as "2") and "й" (which it keeps, and NFD would not), so that
    # every prefix below is a word, a start of words, both or neither.
    rng = random.Random(7)
    letters = "ab9é²йAB"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 5))) for _ in range(150)]
    texts = [" ".join(rng.sample(words, 3)) + f" n{i}" for i in range(200)]
    db = _archive(tmp_path / "copbot.db", texts)
    assert any(_fts5_prefix(db.conn, w) for w in ("aaa", "ab9", "bab"))
    _every_prefix_as_fts5_would(db.conn)
    # The filter words of the index's second column are not words of the text.
    assert found(db.conn, "zm2026*") == []
    with transaction(db):  # a word's last message gone: it is no longer a word
        db.execute("delete from archive_entries where id % 3 = 0")
    _every_prefix_as_fts5_would(db.conn)


@pytest.mark.parametrize("own_word", [True, False])
@pytest.mark.parametrize("more", [-1, 0, 1])
def test_a_prefix_of_as_many_words_as_are_listed_finds_them_all(
    tmp_path: Path, own_word: bool, more: int
) -> None:
    # Read as the words it starts up to MAX_EXPANSION of them, its own word counted
    # whether a message holds it or not; by FTS5 beyond.
    from storage.archive_search import MAX_EXPANSION

    suffixes = [f"{a}{b}" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghij"]
    words = ["pre"] if own_word else []
    words += [f"pre{s}" for s in suffixes[: MAX_EXPANSION + more - len(words)]]
    db = _archive(tmp_path / "copbot.db", [f"{w} and more" for w in words])
    hits = search(db.conn, parse_terms("pre*"), ArchiveFilter(), 1000)
    assert {h.message.text for h in hits} == _fts5_prefix(db.conn, "pre")
    assert len(hits) == len(words)


class _Statements:
    """A connection that notes each statement and its parameters."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.seen: list[tuple[str, list]] = []

    def execute(self, sql: str, params=()):
        self.seen.append((sql, list(params)))
        return self._conn.execute(sql, params)


def test_a_prefix_that_is_a_word_is_not_counted_through_the_vocabulary(tmp_path: Path) -> None:
    # fts5vocab counts every match of each word it names: the prefix's own word, often the
    # commonest (like, help, the), is asked of the index directly, one match read.
    db = _archive(tmp_path / "copbot.db", ["I like it", "likely so", "we liked that"])
    traced = _Statements(db.conn)
    hits = search(traced, parse_terms("like*"), ArchiveFilter(), 10)
    assert {h.message.text for h in hits} == {"I like it", "likely so", "we liked that"}
    vocab = [p for sql, p in traced.seen if "archive_vocab where" in sql]
    assert vocab and all(p[0] > "like" for p in vocab)
    # Not a word itself: the vocabulary names them all.
    assert {h.message.text for h in search(db.conn, parse_terms("lik*"), ArchiveFilter(), 10)} == {
        "I like it",
        "likely so",
        "we liked that",
    }


def test_messages_dated_after_this_month_are_found_since_a_date(tmp_path: Path) -> None:
    """Month words narrow a search with a start date and no end to the months up to now,
    or to the latest month a message is dated in (a platform's clock ahead of copbot's, an
    import); a word in someone's text that looks like one changes nothing."""
    now = datetime.now(UTC)
    ahead = (now.replace(day=1) + timedelta(days=40)).replace(day=2)  # next month
    db = _archive(tmp_path / "copbot.db", [])
    messages = [
        ArchivedMessage("local", "", "north", "north", f"m{i}", f"m{i}", "local:sam", "Sam",
                        False, text, at)
        for i, (text, at) in enumerate([
            ("rota planning now", now - timedelta(hours=1)),
            ("rota planning ahead", ahead),
            ("rota zm209912 zm2026121 zmzz", now - timedelta(days=400)),
        ])
    ]  # fmt: skip
    with transaction(db):
        insert_rows(db, messages)
    since = ArchiveFilter(since=now - timedelta(days=3))
    assert sorted(h.message.text for h in search(db.conn, parse_terms("rota"), since, 10)) == [
        "rota planning ahead",
        "rota planning now",
    ]
    read: list[str] = []
    db.conn.set_trace_callback(read.append)
    [months] = filter_tags(db.conn, since)
    db.conn.set_trace_callback(None)
    assert f"zm{ahead.year:04d}{ahead.month:02d}" in months
    assert "zm209912" not in months  # the month list still narrows the search
    # One read of the index, whatever words people wrote: none of its vocabulary.
    ours = [sql for sql in read if not sql.startswith("--")]  # not FTS5's own
    assert len(ours) == 1 and "archive_vocab" not in ours[0]
    far = ArchiveFilter(since=datetime(9999, 1, 1, tzinfo=UTC))  # a start in the future
    assert filter_tags(db.conn, far) == []
    assert search(db.conn, parse_terms("rota"), far, 10) == []
