"""Search over the archive.

FTS5 finds matches fast, newest first. Asking it to ORDER BY rank would score every match
(and count every row holding each word, to weigh it) before the first result: fine for
rare words, hundreds of milliseconds for common ones. So relevance is ranked among the
newest ``RANK_WINDOW`` matches (all of them, for most searches): one newest-first probe,
which stops early, finds where that window starts. SQLite ranks it when its phrases are
cheap to weigh; otherwise bot/ranking.py does, with the same BM25. A phrase's newest
matches are read forwards, in ranges of rowids from the newest back: FTS5 reads a phrase
backwards more slowly.

Filters by channel, topic, region, author, month and workspace are words in a second
indexed column (``tags``), so they narrow the match inside the index, not row by row. The
words are computed from the row's keys (the view ``archive_fts_content``), never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.ranking import HIT_END, HIT_START, clip_snippet, rank, snippet
from bot.records import ArchiveFilter, SearchHit
from bot.search_query import Term
from storage.archive_rows import (
    COLUMNS,
    SELECT,
    date_clauses,
    message_from_row,
    visibility_clauses,
)

RANK_WINDOW = 1000  # candidates SQLite ranks: all matches, or the newest this many
COMMON_WINDOW = 300  # candidates ranked in Python when a phrase is common
FREQUENCY_SAMPLE = 200
CHEAP_TO_WEIGH = 100_000  # rows bm25() may count to weigh a query's phrases (~5 ms)
MAX_MONTHS = 36  # a longer date range hardly narrows a search
AHEAD_MONTHS = 12  # months after this one a since-only search looks for messages in
RANGE_MARGIN = 1.25  # a phrase's next range of rowids: what is still wanted, and a quarter
MAX_RANGES = 3  # ranges read forwards; the rest, if any, newest first
RANGE_ROWS = 4  # a range returns at most this many times the matches wanted
GROWTH_WHEN_EMPTY = 8  # the next range after one with no match at all
MAX_EXPANSION = 200  # words a prefix is read as, at most; more, and FTS5 merges them


def _months(conn: Any, since: datetime | None, until: datetime | None) -> list[str]:
    """Month words covering [since, until), when that narrows the search at all; with no
    ``until``, to this month, or further when a message is dated after it."""
    if since is None:
        return []
    end = until or _latest_month(conn, since, datetime.now(UTC))
    months: list[str] = []
    year, month = since.year, since.month
    while (year, month) <= (end.year, end.month) and len(months) <= MAX_MONTHS:
        months.append(f"zm{year:04d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months if len(months) <= MAX_MONTHS else []


def _latest_month(conn: Any, since: datetime, now: datetime) -> datetime:
    """``now``; or, when a message is dated in one of the next ``AHEAD_MONTHS`` months (a
    platform's clock ahead of copbot's, an import), the last of them that a list of month
    words from ``since`` may reach and still narrow (a word no message holds costs
    little). One read of the index, whatever the archive holds. A message dated later
    than that is an error in its data, left to searches without a start date."""
    later: list[tuple[int, int]] = []
    year, month = now.year, now.month
    if (since.year, since.month) > (year, month):
        return now  # no month list at all: the row's date alone decides
    room = MAX_MONTHS - ((year - since.year) * 12 + (month - since.month) + 1)
    for _ in range(min(room, AHEAD_MONTHS)):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        later.append((year, month))
    if not later:
        return now
    words = " OR ".join(f"zm{y:04d}{m:02d}" for y, m in later)
    found = conn.execute(
        "select 1 from archive_fts where archive_fts match ? limit 1", [f"tags : ({words})"]
    ).fetchone()
    return datetime(*later[-1], 1, tzinfo=UTC) if found else now


def _vocabulary(conn: Any, start: str, end: str, limit: int) -> list[str]:
    """The index's words in [start, end), at most ``limit`` (-1: all). fts5vocab reads each
    word's list of matches in full before it names it, so the range should skip words
    that are common."""
    conn.execute(
        "create virtual table if not exists temp.archive_vocab"
        " using fts5vocab(main, 'archive_fts', 'row')"
    )
    return [
        str(r[0])
        for r in conn.execute(
            "select term from temp.archive_vocab where term >= ? and term < ? limit ?",
            [start, end, limit],
        )
    ]


def filter_tags(conn: Any, f: ArchiveFilter) -> list[str]:
    """FTS5 expressions on the tags column, one a filter. A row's words name its keys in
    the archive's small tables (migration 0019): ``zc`` and its channel's key, and so on."""
    tags = []
    if f.workspace:
        tags.append(
            _any(
                conn, "zw", "select id from archive_labels where value = ?", [":".join(f.workspace)]
            )
        )
    if f.channel:
        name = f.channel.lstrip("#")
        channels = _keys(conn, "select id from archive_channels where channel_id = ?", [name])
        names = _keys(conn, "select id from archive_labels where value = ?", [name])
        tags.append(_words([f"zc{k}" for k in channels] + [f"zn{k}" for k in names]))
    if f.topic:
        tags.append(_any(conn, "zt", "select id from archive_labels where value = ?", [f.topic]))
    if f.region:
        tags.append(_any(conn, "zr", "select id from archive_labels where value = ?", [f.region]))
    if f.author:
        tags.append(
            _any(conn, "za", "select id from archive_authors where author_id = ?", [f.author])
        )
    if months := _months(conn, f.since, f.until):
        tags.append("(" + " OR ".join(months) + ")")
    return tags


def _keys(conn: Any, sql: str, params: list[Any]) -> list[int]:
    return [int(r[0]) for r in conn.execute(sql, params)]


def _any(conn: Any, kind: str, sql: str, params: list[Any]) -> str:
    return _words([f"{kind}{k}" for k in _keys(conn, sql, params)])


def _words(words: list[str]) -> str:
    """Any of the words; a word no row holds when there are none (the filter matches
    nothing)."""
    return "(" + " OR ".join(words) + ")" if words else "znone"


def search(conn: Any, terms: Sequence[Term], f: ArchiveFilter, limit: int) -> list[SearchHit]:
    """The best ``limit`` matches of ``terms`` within a filter, by relevance (BM25).

    Every query here is bounded, whatever the archive's size: one small newest-first probe
    a phrase estimates how common it is; when all are uncommon enough to weigh cheaply,
    SQLite ranks (ORDER BY rank) the newest ``RANK_WINDOW`` matches; otherwise the newest
    ``COMMON_WINDOW`` matches are ranked by bot/ranking.py with the estimates.
    """
    if not terms:
        return []
    tags = filter_tags(conn, f)
    exprs = [_expression(conn, t) for t in terms]
    phrases = [f"text : ({e})" for e in exprs] + [f"tags : {t}" for t in tags]
    match = " AND ".join(phrases)
    params: list[Any] = []
    # Conditions on the row itself, beside the match: its dates, and whether the viewer
    # may see its channel.
    dates = date_clauses(f, params) + visibility_clauses(f, params)
    date_sql = "".join(f" and {c}" for c in dates)
    join = " join archive_messages m on m.id = f.rowid"
    row_join = join if dates else ""  # for reads that need the row only for its conditions
    documents = max(1, conn.execute("select max(id) from archive_entries").fetchone()[0] or 1)
    # How common each term is (for its weight), and how much bm25() would read to weigh it:
    # a phrase costs what reading each of its words does.
    frequencies, cost = [], 0
    window: list[tuple[int, str]] | None = None
    if len(terms) == 1 and len(terms[0].words) == 1 and not tags and not dates:
        # One word (or prefix) and nothing else: the newest matches it would be weighed by
        # are the start of the window it would be ranked in, so one read serves both (a
        # prefix's read merges every word it starts, the dearest part of its search).
        window = _newest(conn, match, COMMON_WINDOW, "", "", [])
        frequencies.append(_estimate(window, documents))
        cost = frequencies[0]
    for term, expr in zip(terms, exprs, strict=True) if window is None else ():
        if len(term.words) > 1:
            each = [_frequency(conn, f'text : ("{w}")', documents) for w in term.words]
            frequencies.append(min(each))
            cost += sum(each)
        else:
            frequencies.append(_frequency(conn, f"text : ({expr})", documents))
            cost += frequencies[-1]
    cost += sum(_frequency(conn, f"tags : {tag}", documents) for tag in tags)
    # A prefix stands for many words, often common ones: SQLite's ranking would read them
    # twice more (for the window's start, and in full for bm25's counts), so a search with
    # one is ranked here, from the one read of its newest matches.
    if cost <= CHEAP_TO_WEIGH and not any(t.prefix for t in terms):
        floor = _nth_newest(conn, match, RANK_WINDOW, row_join, date_sql, params)
        rows = conn.execute(
            f"select {SELECT}, snippet(archive_fts, 0, '{HIT_START}', '{HIT_END}', '…', 24)"
            f" from archive_fts f{join} where archive_fts match ?"
            f"{' and f.rowid >= ?' if floor else ''}{date_sql} order by f.rank limit ?",
            [match, *([floor] if floor else []), *params, limit],
        ).fetchall()
        return [SearchHit(message_from_row(r[:-1]), clip_snippet(r[-1])) for r in rows]
    if window is None and any(len(t.words) > 1 for t in terms):
        # No match is commoner than its rarest term is among the newest messages.
        density = min(frequencies) / documents
        ids = _newest_in_ranges(
            conn, match, COMMON_WINDOW, row_join, date_sql, params, documents, density
        )
        window = _texts(conn, ids)
    if window is None:
        window = _newest(conn, match, COMMON_WINDOW, row_join, date_sql, params)
    best = rank(window, terms, frequencies, documents, limit)
    if not best:
        return []
    # The row's conditions again: a channel made private since the matches were read
    # stays out.
    rows = {
        r[0]: r[1:]
        for r in conn.execute(
            f"select m.id, {SELECT} from archive_messages m"
            f" where m.id in ({','.join('?' * len(best))}){date_sql}",
            [*(b.rowid for b in best), *params],
        )
    }
    text = COLUMNS.index("text")
    return [
        SearchHit(message_from_row(rows[b.rowid]), snippet(rows[b.rowid][text], terms))
        for b in best
        if b.rowid in rows
    ]


def _expression(conn: Any, term: Term) -> str:
    """A term as FTS5 reads it; a prefix as the words it starts, when there are at most
    ``MAX_EXPANSION`` (the prefix's own word counted among them, whether or not a message
    holds it). FTS5 reads a prefix by merging every word's list of matches into one, in
    full, each time; a list of words is read lazily, newest first, and stops at the limit.
    Finding the words reads their lists once (fts5vocab counts each word's matches before
    it names it), except the prefix's own word, often the commonest of them (``like``,
    ``help``, ``the``): it is read as a word, matching nothing if there is none, and the
    vocabulary from just after it (bench: finding ``like*``'s words at 10M messages, 25 ms
    through fts5vocab alone, 2.4 ms this way)."""
    typed = term.words[0]
    if not term.prefix or not (typed.isascii() and typed.isalnum()):
        # Beyond ASCII letters and digits, copbot's folding and FTS5's can differ ("x²"
        # is "x2" here, not to FTS5): FTS5 reads the prefix itself.
        return term.fts()
    start = typed.lower()  # a word as FTS5 splits and folds text, and no other
    # From the least text after the prefix (no word holds a NUL, and fts5vocab compares
    # the whole bound value, NUL included), to the last text it starts.
    after = start[:-1] + chr(ord(start[-1]) + 1)
    words = [start, *_vocabulary(conn, start + "\x00", after, MAX_EXPANSION)]
    if len(words) > MAX_EXPANSION:
        return term.fts()
    return "(" + " OR ".join('"' + w.replace('"', '""') + '"' for w in words) + ")"


def _nth_newest(
    conn: Any, match: str, n: int, join: str, date_sql: str, params: list[Any]
) -> int | None:
    """The rowid of the n-th newest match, or None when there are fewer than n."""
    row = conn.execute(
        f"select f.rowid from archive_fts f{join} where archive_fts match ?{date_sql}"
        " order by f.rowid desc limit 1 offset ?",
        [match, *params, n - 1],
    ).fetchone()
    return int(row[0]) if row else None


def _newest(
    conn: Any, match: str, n: int, join: str, date_sql: str, params: list[Any]
) -> list[tuple[int, str]]:
    """The n newest matches (rowid, text), newest first: one read, which stops at the n-th."""
    return [
        (int(r[0]), r[1])
        for r in conn.execute(
            # The text from the row itself: f.text would read the index's content view,
            # which works out every row's filter words too.
            "select f.rowid, (select e.text from archive_entries e where e.id = f.rowid)"
            f" from archive_fts f{join} where archive_fts match ?"
            f"{date_sql} order by f.rowid desc limit ?",
            [match, *params, n],
        )
    ]


def _newest_in_ranges(
    conn: Any,
    match: str,
    n: int,
    join: str,
    date_sql: str,
    params: list[Any],
    top: int,
    density: float,
) -> list[int]:
    """The rowids of the n newest matches, newest first, as ``_newest`` finds them, read as
    ranges of rowids from the newest back, each range oldest first.

    FTS5 reads a phrase forwards in half to three quarters of the time it takes backwards
    (a page of a word's list is parsed forwards before it can be stepped through
    backwards), and a phrase whose rarer word is in many more messages than the phrase
    reads many pages to find its newest matches (bench, 10M messages: ``"of caring"``'s
    newest 300, 31 ms backwards, 18 ms forwards from where they start). Where they start
    is guessed: first from ``density``, how many matches a rowid the phrase's rarest word
    has among the newest messages (the phrase has no more), then from what has been found.
    A guess can be wrong either way, so the ranges are few and each returns a bounded
    number of rows; what is still wanted after them is read newest first, as before.
    """
    found: list[int] = []
    high = top + 1
    span = max(n, round(RANGE_MARGIN * n / max(density, 1e-9)))
    cap = RANGE_ROWS * n
    for _ in range(MAX_RANGES):
        if high <= 1 or len(found) >= n:
            return found[:n]
        low = max(1, high - span)
        rows = conn.execute(
            f"select f.rowid from archive_fts f{join} where archive_fts match ?"
            f" and f.rowid >= ? and f.rowid < ?{date_sql} order by f.rowid limit ?",
            [match, low, high, *params, cap],
        ).fetchall()
        if len(rows) == cap:
            break  # far denser than guessed: the range's newest were not read
        found.extend(int(r[0]) for r in reversed(rows))
        if found:  # the rest, at the density found so far
            span = round(RANGE_MARGIN * (n - len(found)) * (top + 1 - low) / len(found))
        else:  # none yet: the guess was far too dense
            span *= GROWTH_WHEN_EMPTY
        high = low
    if high > 1 and len(found) < n:
        found += (
            int(r[0])
            for r in conn.execute(
                f"select f.rowid from archive_fts f{join} where archive_fts match ?"
                f" and f.rowid < ?{date_sql} order by f.rowid desc limit ?",
                [match, high, *params, n - len(found)],
            )
        )
    return found[:n]


def _texts(conn: Any, ids: list[int]) -> list[tuple[int, str]]:
    """(rowid, text) for each of ``ids`` still in the archive, in their order."""
    texts = dict(
        conn.execute(
            f"select id, text from archive_entries where id in ({','.join('?' * len(ids))})", ids
        ).fetchall()
    )
    return [(i, texts[i]) for i in ids if i in texts]


def _estimate(newest: list[tuple[int, str]], documents: int) -> int:
    """_frequency's figure, from the newest matches already read (at least
    ``FREQUENCY_SAMPLE`` of them, or all there are)."""
    if len(newest) < FREQUENCY_SAMPLE:
        return len(newest)
    floor = newest[FREQUENCY_SAMPLE - 1][0]
    return min(documents, round(FREQUENCY_SAMPLE * documents / max(1, documents - floor + 1)))


def _frequency(conn: Any, match: str, documents: int) -> int:
    """How many messages hold a phrase: counted when few, else estimated from how far back
    its newest ``FREQUENCY_SAMPLE`` matches reach."""
    floor = _nth_newest(conn, match, FREQUENCY_SAMPLE, "", "", [])
    if floor is None:
        return int(
            conn.execute(
                "select count(*) from archive_fts where archive_fts match ?", [match]
            ).fetchone()[0]
        )
    return min(documents, round(FREQUENCY_SAMPLE * documents / max(1, documents - floor + 1)))
