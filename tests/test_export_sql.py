"""JSON Lines, JSON and CSV written by SQLite (storage/archive_encode.py) are the very text
Python's writers give for the same rows: the same fields, order and escaping, whatever
people wrote, through the filters and the private-channel rule, across chunks."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.archive_export import ENCODINGS, FIELDS, Encoding, write, write_encoded
from bot.clock import to_text
from bot.records import ArchivedMessage, ArchiveFilter
from storage.archive import SqliteArchiveRepository
from storage.archive_reader import SqliteArchiveReader
from storage.archive_rows import from_micros, id_from_key
from storage.database import Database

HOSTILE = [
    "",
    "plain words",
    "a, comma",
    'a "quote"',
    "line\nbreak",
    "carriage\rreturn",
    "both\r\nends",
    "=SUM(A1:A9)",
    "+1",
    "-2",
    "@here",
    "\tindented",
    "\rstarts with a return",
    "=with, comma",
    "ends with a comma,",
    ",starts with one",
    "back\\slash",
    "control \x00\x01\x1f\x7f",
    "line\u2028and paragraph\u2029separators",
    "accents: café, naïve; emoji 🙂",
    "<b>&amp;</b>",
    "'single' quotes",
    "%s %d printf",
]


def _messages(n: int, rng: random.Random) -> list[ArchivedMessage]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    alphabet = "ab ,\"'\n\r\t=+-@\\é🙂\u2028%"
    out = []
    for i in range(n):
        text = HOSTILE[i] if i < len(HOSTILE) else "".join(rng.choices(alphabet, k=12))
        name = rng.choice(["Ade Bello", "=Mallory", "Smith, Jo", 'Kit "K"', ""])
        channel = rng.choice(["C1", "C2", "G9"])
        out.append(
            ArchivedMessage(
                "slack",
                "T1",
                channel,
                {"C1": "ips-north", "C2": "london, east", "G9": "leads"}[channel],
                f"{1700000000 + i // 3}.000100",
                f"{1700000000 + i}.000{i % 1000:03d}",
                "" if i % 11 == 0 else f"slack:U{i % 7}",
                name,
                i % 11 == 0,
                text,
                start + timedelta(minutes=i),
                start + timedelta(minutes=i, seconds=30) if i % 5 == 0 else None,
                1 if i % 5 == 0 else 0,
                "language-x" if i % 4 == 0 else "",
                "language" if i % 4 == 0 else "",
                rng.choice(["north", "london", ""]),
                channel == "G9",
            )
        )
    return out


@pytest.fixture
async def archive(db_path: Path) -> Path:
    db = Database.open(db_path)
    try:
        repository = SqliteArchiveRepository(db)
        messages = _messages(700, random.Random(3))
        await repository.capture_prepared(repository.preparer(messages))
    finally:
        db.close()
    return db_path


def _python(reader: SqliteArchiveReader, encoding: Encoding, f: ArchiveFilter) -> str:
    out = io.StringIO()
    write(encoding, reader.rows(f, by_thread=False), out)
    return out.getvalue()


def _sqlite(reader: SqliteArchiveReader, encoding: Encoding, f: ArchiveFilter) -> tuple[int, str]:
    out = io.StringIO()
    written = write_encoded(encoding, reader.encoded(f, encoding), out)
    return written, out.getvalue()


FILTERS = [
    ArchiveFilter(),
    ArchiveFilter(region="north"),
    ArchiveFilter(channel="#london, east"),
    ArchiveFilter(since=datetime(2025, 1, 1, 3, tzinfo=UTC)),
    ArchiveFilter(viewer_channels=frozenset()),  # private channels' words stay out
    ArchiveFilter(viewer_channels=frozenset({"G9"})),
    ArchiveFilter(region="nowhere"),  # nothing matches
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("f", FILTERS, ids=range(len(FILTERS)))
def test_sqlite_writes_exactly_what_python_does(
    archive: Path, encoding: Encoding, f: ArchiveFilter
) -> None:
    # Chunks of a few ids, so that records are joined across many of them.
    reader = SqliteArchiveReader(archive, chunk_ids=37)
    written, text = _sqlite(reader, encoding, f)
    assert text == _python(reader, encoding, f)
    assert written == len(list(reader.rows(f, by_thread=False)))


def test_private_channels_reach_only_their_members(archive: Path) -> None:
    reader = SqliteArchiveReader(archive)
    _, outsider = _sqlite(reader, "jsonl", ArchiveFilter(viewer_channels=frozenset()))
    _, member = _sqlite(reader, "jsonl", ArchiveFilter(viewer_channels=frozenset({"G9"})))
    assert '"channel_id":"G9"' not in outsider and '"private":true' not in outsider
    assert '"channel_id":"G9"' in member and '"private":true' in member


MORE_FILTERS = [
    ArchiveFilter(topic="language"),
    ArchiveFilter(author="slack:U3"),
    ArchiveFilter(workspace=("slack", "T1")),
    ArchiveFilter(until=datetime(2025, 1, 1, 5, tzinfo=UTC), channel="ips-north"),
]


@pytest.mark.parametrize("f", FILTERS + MORE_FILTERS, ids=range(len(FILTERS + MORE_FILTERS)))
def test_the_count_and_the_readable_rows_match_the_full_records(
    archive: Path, f: ArchiveFilter
) -> None:
    reader = SqliteArchiveReader(archive)
    full = list(reader.rows(f, by_thread=True))
    assert reader.count(f) == len(full)  # counted from the keys alone
    shown = frozenset({"channel_id", "text", "created_at"})
    lean = list(reader.rows(f, by_thread=True, shown=shown))
    keep = [i for i, name in enumerate(FIELDS) if name in shown]
    assert [tuple(r[i] for i in keep) for r in full] == [tuple(r[i] for i in keep) for r in lean]
    assert all(v is None for r in lean for i, v in enumerate(r) if i not in keep)


@pytest.mark.parametrize("f", FILTERS + MORE_FILTERS, ids=range(len(FILTERS + MORE_FILTERS)))
def test_rows_as_stored_carry_times_and_threads_as_kept_in_the_same_order(
    archive: Path, f: ArchiveFilter
) -> None:
    """What the readable formats read: the time as microseconds and the thread as its key,
    so SQLite need not spell either out; the same rows, in the same order, otherwise."""
    reader = SqliteArchiveReader(archive)
    shown = frozenset(FIELDS) - {"message_id"}
    spelt = list(reader.rows(f, by_thread=True, shown=shown))
    stored = list(reader.rows(f, by_thread=True, shown=shown, as_stored=True))
    created, thread = FIELDS.index("created_at"), FIELDS.index("thread_id")
    assert len(stored) == len(spelt)
    for s, r in zip(stored, spelt, strict=True):
        assert isinstance(s[created], int)
        assert to_text(from_micros(s[created])) == r[created]
        assert id_from_key(s[thread]) == r[thread]
        assert [v for i, v in enumerate(s) if i not in (created, thread)] == [
            v for i, v in enumerate(r) if i not in (created, thread)
        ]
