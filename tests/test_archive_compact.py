"""Migration 0019 turns an archive kept the old way into the compact one in place: the same
rows, threads, edits, private flags, opt-outs and deletions, found and exported as before."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from hypothesis import example, given
from hypothesis import strategies as st

from bot.archive_export import FIELDS
from bot.console.records import ThreadKey
from bot.model import ChannelRef, MessageRef
from bot.records import ArchivedMessage, ArchiveFilter
from bot.search_query import parse_terms
from storage.archive import SqliteArchiveRepository
from storage.archive_reader import SqliteArchiveReader
from storage.archive_rows import id_from_key, id_key
from storage.archive_threads import SqliteThreadReader
from storage.database import Database, connect
from storage.migrations import MIGRATIONS

OLD_COLUMNS = (
    "id, platform, workspace, channel_id, channel_name, thread_id, message_id, author_id,"
    " author_name, anonymous, text, created_at, edited_at, edit_count, prompt_id, topic,"
    " region, private, tags"
)
# Rows as the archive kept them before 0019: a Slack thread with an edited reply, an
# anonymous reply, a private channel, a Teams thread (ids that are not Slack's), and a
# reply by someone who opted out since.
OLD_ROWS = [
    (1, "slack", "T1", "C1", "ips-north", "1700000000.000100", "1700000000.000100",
     "slack:U1", "Priya", 0, "How do we talk about racism at work?",
     "2023-11-14T22:13:20.000100Z", None, 0, "p-lang", "language", "north", 0, "x"),
    (2, "slack", "T1", "C1", "ips-north", "1700000000.000100", "1700000100.000200",
     "slack:U2", "Sam", 0, "We named it out loud, carefully",
     "2023-11-14T22:15:00.000200Z", "2023-11-15T08:00:00.000000Z", 2, "p-lang", "language",
     "north", 0, "x"),
    (3, "slack", "T1", "C1", "ips-north", "1700000000.000100", "1700000200.000300",
     None, "Anonymous colleague", 1, "I felt unheard in supervision",
     "2023-11-14T22:16:40.000300Z", None, 0, "p-lang", "language", "north", 0, "x"),
    (4, "slack", "T1", "G9", "leads", "1700000300.000000", "1700000300.000000",
     "slack:U1", "Priya", 0, "Private words about rotas", "2023-11-14T22:18:20.000000Z",
     None, 0, "", "", "", 1, "x"),
    (5, "teams", "tenant", "19:abc@thread.tacv2", "General", "1700000400000",
     "1700000400000", "teams:aad-7", "Jo", 0, "Teams thread opening words",
     "2023-12-01T09:00:00.123456Z", None, 0, "", "", "london", 0, "x"),
    (6, "teams", "tenant", "19:abc@thread.tacv2", "General", "1700000400000",
     "1700000500000", "slack:U3", "Kit", 0, "A reply from someone who left",
     "2023-12-01T09:01:40.000000Z", None, 0, "", "", "london", 0, "x"),
]  # fmt: skip


@pytest.fixture
def old_archive(db_path: Path) -> Path:
    conn = connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    db = sqlite_utils.Database(conn)
    MIGRATIONS.apply(db, stop_before="0019_archive_compact")
    with conn:
        conn.executemany(
            f"insert into archive_messages ({OLD_COLUMNS}) values ({','.join('?' * 19)})",
            OLD_ROWS,
        )
        conn.execute(
            "insert into archive_fts (rowid, text, tags) select id, text, tags"
            " from archive_messages"
        )
        conn.execute("insert into archive_optouts values ('slack:U3', '2024-01-01T00:00:00Z')")
        conn.execute(
            "insert into archive_deleted values ('slack', 'T1', 'C1', '1700000900.000900')"
        )
    conn.close()
    return db_path


def _export(path: Path, f: ArchiveFilter, by_thread: bool = False) -> list[tuple[Any, ...]]:
    return list(SqliteArchiveReader(path).rows(f, by_thread))


@pytest.fixture
async def migrated(old_archive: Path) -> Iterator[Database]:
    before = _before(old_archive)
    db = Database.open(old_archive)
    assert _export(old_archive, ArchiveFilter()) == before
    yield db
    db.close()


def _before(path: Path) -> list[tuple[Any, ...]]:
    """The rows as a migrated archive gives them back: the same, but that every Teams
    channel is members-only from migration 0022 on."""
    conn = connect(path)
    try:
        rows = conn.execute(
            f"select {', '.join(FIELDS)} from archive_messages order by id"
        ).fetchall()
    finally:
        conn.close()
    platform, private = FIELDS.index("platform"), FIELDS.index("private")
    return [
        tuple(1 if i == private and r[platform] == "teams" else v for i, v in enumerate(r))
        for r in rows
    ]


async def _found(repo: SqliteArchiveRepository, words: str, f: ArchiveFilter) -> list[str]:
    return [h.message.message_id for h in await repo.search(parse_terms(words), f, 10)]


async def test_the_same_rows_come_out_of_a_migrated_archive(old_archive: Path) -> None:
    before = _before(old_archive)
    Database.open(old_archive).close()
    assert _export(old_archive, ArchiveFilter()) == before
    assert [r[FIELDS.index("message_id")] for r in _export(old_archive, ArchiveFilter(), True)] == [
        "1700000400000", "1700000500000", "1700000000.000100", "1700000100.000200",
        "1700000200.000300", "1700000300.000000",
    ]  # fmt: skip
    conn = connect(old_archive)
    try:
        conn.execute("insert into archive_fts (archive_fts) values ('integrity-check')")
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
        assert "archive_messages_0018" not in tables
    finally:
        conn.close()


async def test_search_and_its_filters_work_after_migrating(migrated: Database) -> None:
    repo = SqliteArchiveRepository(migrated)
    everyone = ArchiveFilter()
    assert await _found(repo, "racism", everyone) == ["1700000000.000100"]
    assert await _found(repo, '"out loud"', everyone) == ["1700000100.000200"]
    assert await _found(repo, "supervi*", everyone) == ["1700000200.000300"]
    assert await _found(repo, "words", ArchiveFilter(region="london")) == ["1700000400000"]
    assert await _found(repo, "words", ArchiveFilter(channel="#leads")) == ["1700000300.000000"]
    assert await _found(repo, "words", ArchiveFilter(author="slack:U1")) == ["1700000300.000000"]
    assert await _found(repo, "words", ArchiveFilter(author="nobody")) == []
    since = datetime(2023, 12, 1, tzinfo=UTC)
    assert await _found(repo, "reply", ArchiveFilter(since=since)) == ["1700000500000"]
    # Someone outside the private channel doesn't find what was said in it.
    assert await _found(repo, "rotas", ArchiveFilter(viewer_channels=frozenset())) == []
    assert await _found(repo, "rotas", ArchiveFilter(viewer_channels=frozenset({"G9"}))) == [
        "1700000300.000000"
    ]


async def test_threads_edits_and_anonymity_survive_migrating(migrated: Database) -> None:
    repo = SqliteArchiveRepository(migrated)
    channel = ChannelRef("slack", "C1", workspace="T1")
    thread = await SqliteThreadReader(migrated).thread(
        ThreadKey("slack", "T1", "C1", "1700000000.000100"), ArchiveFilter()
    )
    assert [m.author_name for m in thread] == ["Priya", "Sam", "Anonymous colleague"]
    edited = await repo.get(MessageRef(channel, "1700000100.000200"))
    assert edited is not None and edited.edit_count == 2
    assert edited.edited_at == datetime(2023, 11, 15, 8, tzinfo=UTC)
    assert edited.created_at == datetime(2023, 11, 14, 22, 15, 0, 200, tzinfo=UTC)
    assert thread[2].anonymous and thread[2].author_id == ""
    [summary] = await SqliteThreadReader(migrated).threads(ArchiveFilter(channel="C1"), 10)
    assert summary.messages == 3 and summary.opening.startswith("How do we talk")


async def test_writes_after_migrating_keep_to_the_rules(migrated: Database) -> None:
    repo = SqliteArchiveRepository(migrated)
    channel = ChannelRef("slack", "C1", workspace="T1")
    at = datetime(2024, 2, 1, tzinfo=UTC)

    def message(ident: str, author: str, text: str) -> ArchivedMessage:
        return ArchivedMessage(
            "slack", "T1", "C1", "ips-north", "1700000000.000100", ident, author, "Someone",
            False, text, at, topic="language", region="north",
        )  # fmt: skip

    # A deleted message delivered late, and an opted-out author's, are not kept.
    assert not await repo.capture(message("1700000900.000900", "slack:U2", "late"))
    assert not await repo.capture(message("1700001000.000000", "slack:U3", "opted out"))
    assert await repo.capture(message("1700001100.000000", "slack:U2", "fresh thoughts"))
    assert not await repo.capture(message("1700001100.000000", "slack:U2", "fresh thoughts"))
    assert await _found(repo, "fresh", ArchiveFilter(region="north")) == ["1700001100.000000"]

    assert await repo.edit(MessageRef(channel, "1700000100.000200"), "changed my mind", at)
    assert await _found(repo, "loud", ArchiveFilter()) == []
    assert await _found(repo, "changed", ArchiveFilter(topic="language")) == ["1700000100.000200"]
    assert await repo.delete(MessageRef(channel, "1700000000.000100"))
    assert await _found(repo, "racism", ArchiveFilter()) == []
    assert await repo.mark_private(channel, True) == 3

    assert await repo.erase_author("slack:U1") == 1
    assert await _found(repo, "rotas", ArchiveFilter()) == []
    assert await repo.purge_before(datetime(2023, 12, 1, tzinfo=UTC)) == 2
    conn = connect(migrated.path)
    try:
        names = {r[0] for r in conn.execute("select author_name from archive_authors")}
        assert names == {"Jo", "Kit", "Someone"}  # nobody erased or purged is named
        conn.execute("insert into archive_fts (archive_fts) values ('integrity-check')")
    finally:
        conn.close()


def test_a_migrated_archive_gives_the_old_layouts_space_back(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    MIGRATIONS.apply(sqlite_utils.Database(conn), stop_before="0019_archive_compact")
    words = ["reflection", "supervision", "language", "equality", "careful", "listening"]
    with conn:
        conn.executemany(
            f"insert into archive_messages ({OLD_COLUMNS}) values ({','.join('?' * 19)})",
            [
                (i, "slack", "T1", f"C{i % 7}", f"ips-{i % 7}", f"17000{i:05d}.000100",
                 f"17000{i:05d}.000100", f"slack:U{i % 40}", f"Person {i % 40}", 0,
                 " ".join(words[(i + k) % len(words)] for k in range(40)),
                 "2024-01-02T03:04:05.000000Z", None, 0, "", "", "north", 0, "x")
                for i in range(1, 4001)
            ],
        )  # fmt: skip
        conn.execute(
            "insert into archive_fts (rowid, text, tags) select id, text, tags"
            " from archive_messages"
        )
    conn.execute("pragma wal_checkpoint(truncate)")
    conn.close()
    before = db_path.stat().st_size

    Database.open(db_path).close()

    conn = connect(db_path)
    try:
        assert conn.execute("pragma freelist_count").fetchone()[0] == 0
        assert conn.execute("select count(*) from archive_messages").fetchone()[0] == 4000
        conn.execute("pragma wal_checkpoint(truncate)")
    finally:
        conn.close()
    assert db_path.stat().st_size < before * 0.8  # 1.4x before, without VACUUM


SLACK_TS = re.compile(r"[1-9][0-9]{9}\.[0-9]{6}")
# Ids shaped like a Slack ts, their characters mostly ASCII digits, sometimes a leading
# zero, another script's digit, a letter or a dot; and the same at other lengths.
DIGITISH = st.sampled_from("0123456789" * 3 + "٣x.")
NEAR_TS = st.builds(
    lambda head, tail: f"{head}.{tail}",
    st.text(DIGITISH, min_size=9, max_size=11),
    st.text(DIGITISH, min_size=5, max_size=7),
)


@given(NEAR_TS | st.text())
@example("1700000000.123456")
@example("170000000٣.123456")  # another script's digit
@example("0700000000.123456")  # a leading zero
@example("1700000000x123456")
@example("1700000000.12345.")
def test_only_a_slack_ts_is_kept_as_an_integer_and_every_id_reads_back(message_id: str) -> None:
    key = id_key(message_id)
    assert isinstance(key, int) == bool(SLACK_TS.fullmatch(message_id))
    assert id_from_key(key) == message_id


async def test_names_and_words_kept_with_control_characters_lose_them_on_upgrade(
    db_path: Path,
) -> None:
    from storage.archive_insert import insert_rows

    conn = connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    old = sqlite_utils.Database(conn)
    MIGRATIONS.apply(old, stop_before="0025_archive_without_controls")

    def kept(mid: str, channel: str, author: str, text: str) -> ArchivedMessage:
        return ArchivedMessage(
            "slack", "T1", "C1", channel, mid, mid, "slack:U1", author, False, text,
            datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        )  # fmt: skip

    with conn:  # as an older copbot kept them, names as the platform sent them
        insert_rows(
            old,
            [
                kept("1", "north", "Sam", "plain words"),
                kept("2", "north\x1b", "Sam\x85", "next\x85line"),
                kept("3", "south\x9b", "Sam\x07 Okafor", "more words"),
            ],
        )
    conn.close()
    db = Database.open(db_path)
    try:
        rows = list(SqliteArchiveReader(db_path).rows(ArchiveFilter(), by_thread=False))
        named = [(r[FIELDS.index("channel_name")], r[FIELDS.index("author_name")]) for r in rows]
        assert named == [("north", "Sam"), ("north", "Sam"), ("south", "Sam Okafor")]
        # A line ended by a NEL is ended by a newline: its words stay apart.
        assert [r[FIELDS.index("text")] for r in rows] == [
            "plain words",
            "next\nline",
            "more words",
        ]
        repo = SqliteArchiveRepository(db)
        hits = await repo.search(parse_terms('"next line"'), ArchiveFilter(), 5)
        assert [h.message.message_id for h in hits] == ["2"]
        north = ArchiveFilter(channel="north")
        assert len(await repo.search(parse_terms("words"), north, 5)) == 1
    finally:
        db.close()


async def test_words_kept_with_a_nul_before_any_check_lose_it_and_what_follows_stays(
    db_path: Path,
) -> None:
    # A NUL came through as it was before copbot took control characters out of words; a
    # check that reads text as C does stops at it, and would leave both in.
    from storage.archive_insert import insert_rows

    conn = connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    old = sqlite_utils.Database(conn)
    MIGRATIONS.apply(old, stop_before="0025_archive_without_controls")
    with conn:
        insert_rows(
            old,
            [
                ArchivedMessage(
                    "slack", "T1", "C1", "north", "1", "1", "slack:U1", "Sam", False,
                    "before\x00 and\x1b after", datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                )
            ],
        )  # fmt: skip
    conn.close()
    db = Database.open(db_path)
    try:
        rows = list(SqliteArchiveReader(db_path).rows(ArchiveFilter(), by_thread=False))
        assert [r[FIELDS.index("text")] for r in rows] == ["before and after"]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("text", "edits"),
    [
        ("plain words, café and 🌍", 0),
        ("a lone \ud800 surrogate", 0),  # orjson refuses it; json writes it
        ("many edits", 2**70),  # past 64 bits: the same
    ],
    ids=["plain", "lone surrogate", "huge integer"],
)
def test_a_batch_reads_back_as_the_messages_whatever_writes_its_json(text: str, edits: int) -> None:
    from storage.archive_insert import RowBatch

    message = ArchivedMessage(
        "slack", "T1", "C1", "north", "1700000000.000100", "1700000000.000100",
        "slack:U1", "Sam", False, text, datetime(2026, 1, 5, 9, 0, tzinfo=UTC), None, edits,
    )  # fmt: skip
    (row,) = json.loads(RowBatch.of([message]).rows)
    assert row[10] == text
    assert row[13] == edits


def test_a_batch_leaves_out_opted_out_authors_and_deleted_messages_only(db_path: Path) -> None:
    from storage.archive_insert import insert_rows
    from storage.database import migrate

    migrate(db_path)
    db = sqlite_utils.Database(connect(db_path))
    db.execute("insert into archive_optouts values ('slack:U9', '2026-01-01', null)")
    db.execute("insert into archive_deleted values ('slack', 'T1', 'C1', '1700000000.000002')")
    db.execute("insert into archive_deleted values ('slack', 'T1', 'C2', '1700000000.000001')")

    def said(mid: str, author: str, channel: str = "C1") -> ArchivedMessage:
        return ArchivedMessage(
            "slack", "T1", channel, "north", mid, mid, author, "Sam", False, f"words {mid}",
            datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        )  # fmt: skip

    with db.conn:
        added = insert_rows(
            db,
            [
                said("1700000000.000001", "slack:U1"),  # its id was deleted in another channel
                said("1700000000.000002", "slack:U1"),  # deleted before it came
                said("1700000000.000003", "slack:U9"),  # opted out
                said("1700000000.000004", "slack:U2"),
            ],
        )
        # A batch with neither asks for neither, and keeps all it brings.
        added += insert_rows(db, [said("1700000000.000005", "slack:U1", channel="C3")])
    kept = [r[0] for r in db.execute("select message_id from archive_messages order by id")]
    assert (added, kept) == (3, ["1700000000.000001", "1700000000.000004", "1700000000.000005"])
    db.conn.close()
