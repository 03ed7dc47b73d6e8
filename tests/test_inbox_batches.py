"""A lane's captured messages kept together: their archive writes and the marking of them
handled in one transaction; one message failing loses none of the others; a replay after
a crash keeps each message once; edits, deletes and in-turn commands stay in step."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from bot.app import build_core
from bot.inbox import Inbox
from bot.model import (
    CommandReceived,
    InboundEvent,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
)
from bot.records import ArchivedMessage
from bot.settings import Settings
from storage import sqlite as sqlite3
from storage.archive import SqliteArchiveRepository
from storage.database import Database
from storage.held_writes import Together
from storage.inbox import SqliteInboxRepository
from tests.support.fakes import FakeAdapter, ManualClock
from tests.support.faults import Faults, disk_full, locked
from tests.support.harness import ALEX, GENERAL, SAM, Harness

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Recording(Faults):
    """A gate that also notes the name of every write it lets through."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self._noting = threading.Lock()

    def __call__(self, op: Callable[..., object], *, write: bool) -> None:
        if write:
            with self._noting:
                self.writes.append(getattr(op, "__qualname__", ""))
        super().__call__(op, write=write)


def harness(path: Path, gate: Faults) -> Harness:
    settings = Settings(db_path=path, admins=frozenset({ALEX.identity}))
    clock = ManualClock(NOW)
    adapter = FakeAdapter()
    return Harness(
        build_core(settings, Database.open(path, gate=gate), clock, [adapter]), adapter, clock
    )


def posted(n: int, text: str = "") -> MessagePosted:
    return MessagePosted(f"p{n}", MessageRef(GENERAL, f"m{n}"), SAM, text or f"words {n}", NOW)


async def kept(bot: Harness) -> dict[str, str]:
    rows = await bot.core.db.read(
        lambda d: d.execute("select message_id, text from archive_messages").fetchall()
    )
    return dict(rows)


async def pending(bot: Harness) -> int:
    return int(
        await bot.core.db.read(
            lambda d: d.execute("select count(*) from inbox where state = 'pending'").fetchone()[0]
        )
    )


async def accept(bot: Harness, *events: InboundEvent) -> None:
    for event in events:
        assert await bot.core.inbox.accept(event)


async def archiving(bot: Harness) -> None:
    await bot.join(GENERAL)
    await bot.command("archive on", ALEX)


async def test_a_lanes_messages_go_in_with_their_marking_done_in_one_write(db_path: Path) -> None:
    gate = Recording()
    bot = harness(db_path, gate)
    try:
        await archiving(bot)
        await accept(bot, *(posted(n) for n in range(20)))
        gate.writes.clear()
        assert await bot.core.inbox.drain() == 20
        assert len(await kept(bot)) == 20
        # One transaction: the batch's commit, holding each message's write and the
        # marking of all twenty done; no write of its own for any of them.
        assert [w for w in gate.writes if w.startswith("WriteBatch.flush")] == [
            "WriteBatch.flush.<locals>.<lambda>"
        ]
        assert gate.writes.count("SqliteInboxRepository.done_together") == 1
        assert sum("record" in w for w in gate.writes) == 20
        assert not [w for w in gate.writes if w.startswith("SqliteInboxRepository.done.")]
        assert await pending(bot) == 0
    finally:
        bot.close()


async def test_one_message_failing_to_be_kept_loses_none_of_the_others(db_path: Path) -> None:
    faults = Faults()
    bot = harness(db_path, faults)
    try:
        await archiving(bot)
        await accept(bot, *(posted(n) for n in range(5)))
        faults.fail("SqliteArchiveRepository.record", disk_full)  # the first message's write
        assert await bot.core.inbox.drain() == 5
        assert faults.raised == ["SqliteArchiveRepository.record"]
        assert sorted(await kept(bot)) == ["m1", "m2", "m3", "m4"]
        # The one that failed waits to be tried again (after a second), and then is kept.
        state = await bot.core.db.read(
            lambda d: d.execute(
                "select attempts, error from inbox where state = 'pending'"
            ).fetchall()
        )
        assert state == [(1, "OperationalError")]
        bot.clock.advance(timedelta(seconds=1))
        assert await bot.core.inbox.drain() == 1
        assert sorted(await kept(bot)) == ["m0", "m1", "m2", "m3", "m4"]
        assert await pending(bot) == 0
    finally:
        bot.close()


async def test_a_batch_whose_commit_fails_keeps_nothing_and_is_replayed_once(
    db_path: Path,
) -> None:
    """As a crash between the messages' writes and their marking done would: nothing of
    the batch went in, so the replay keeps each message once, and marks each done."""
    faults = Faults()
    bot = harness(db_path, faults)
    try:
        await archiving(bot)
        await accept(bot, *(posted(n) for n in range(5)))
        faults.fail("SqliteInboxRepository.done", locked)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await bot.core.inbox.drain()
        assert await kept(bot) == {}
        assert await pending(bot) == 5
        assert await bot.core.inbox.drain() == 5
        assert sorted(await kept(bot)) == [f"m{n}" for n in range(5)]
        assert await pending(bot) == 0
    finally:
        bot.close()


async def test_a_message_delivered_again_under_another_id_is_kept_once(bot: Harness) -> None:
    """Kept, then handed over again (as a replay of a batch that went in, or a platform's
    second delivery would): the archive's unique key keeps one copy, and search finds one."""
    await archiving(bot)
    first = [posted(n, f"replayed words {n}") for n in range(3)]
    await accept(bot, *first)
    assert await bot.core.inbox.drain() == 3
    await accept(bot, *(replace(e, event_id=f"again-{e.event_id}") for e in first))
    assert await bot.core.inbox.drain() == 3
    found = await bot.core.db.read(
        lambda d: d.execute(
            "select count(*) from archive_fts where archive_fts match 'replayed'"
        ).fetchone()[0]
    )
    assert found == 3
    assert len(await kept(bot)) == 3


async def test_a_message_whose_handling_raises_leaves_nothing_held_and_the_rest_go_in(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    archive = SqliteArchiveRepository(db)
    clock = ManualClock(NOW)
    runs: list[str] = []

    async def handle(event: InboundEvent) -> None:
        assert isinstance(event, MessagePosted)
        runs.append(event.event_id)
        await archive.record(archived(event))
        if runs == ["p0", "p1"]:  # the second message, the first time only
            raise ValueError("something after the write went wrong")

    inbox = Inbox(SqliteInboxRepository(db), handle, clock)
    for n in range(3):
        await inbox.accept(posted(n))
    assert await inbox.drain() == 3
    ids = await db.read(
        lambda d: [r[0] for r in d.execute("select message_id from archive_messages")]
    )
    assert sorted(ids) == ["m0", "m2"]  # m1's write was dropped with its failure
    clock.advance(timedelta(seconds=1))
    assert await inbox.drain() == 1
    ids = await db.read(
        lambda d: [r[0] for r in d.execute("select message_id from archive_messages")]
    )
    assert sorted(ids) == ["m0", "m1", "m2"]
    db.close()


def archived(event: MessagePosted) -> ArchivedMessage:
    ref = event.message
    return ArchivedMessage(
        platform=ref.channel.platform,
        workspace=ref.channel.workspace,
        channel_id=ref.channel.id,
        channel_name=ref.channel.name,
        thread_id=ref.id,
        message_id=ref.id,
        author_id=event.author.identity,
        author_name=event.author.display,
        anonymous=False,
        text=event.text,
        created_at=event.at,
        prompt_id="",
        topic="",
        region="",
        private=False,
    )


async def test_a_read_in_a_batch_sees_what_its_task_holds_and_never_overtakes_it(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    archive = SqliteArchiveRepository(db)
    repo = SqliteInboxRepository(db)
    try:
        async with repo.batch() as batch:
            with batch.item(1):
                await archive.record(archived(posted(1)))
                # Nothing is committed yet; this read commits it first, and sees it.
                assert await archive.get(MessageRef(GENERAL, "m1")) is not None
                await archive.record_delete(MessageRef(GENERAL, "m1"))
            # An ordinary write commits what is held before it: the delete went in first.
            assert not await archive.capture(archived(posted(1)))
            assert await batch.done([1]) == {}
        assert await archive.get(MessageRef(GENERAL, "m1")) is None
    finally:
        db.close()


async def test_edits_and_deletes_keep_in_step_with_messages_in_the_same_batch(
    bot: Harness,
) -> None:
    await archiving(bot)
    await accept(
        bot,
        posted(1, "first words"),
        posted(2, "to be deleted"),
        MessageEdited("edit1", MessageRef(GENERAL, "m1"), "second thoughts", NOW, SAM),
        MessageDeleted("del2", MessageRef(GENERAL, "m2"), NOW),
        posted(3, "after them"),
        MessageDeleted("del4", MessageRef(GENERAL, "m4"), NOW),  # deleted before it arrives
        posted(4, "arrived late"),
    )
    assert await bot.core.inbox.drain() == 7
    assert await kept(bot) == {"m1": "second thoughts", "m3": "after them"}


async def test_an_in_turn_command_in_a_batch_commits_the_messages_before_it_first(
    bot: Harness,
) -> None:
    """`optin` after a message written while opted out, and before one written after:
    the batch commits the first before the command runs, so consent is checked as each
    was written."""
    await archiving(bot)
    await bot.command("optout")
    await accept(
        bot,
        posted(1, "while opted out"),
        CommandReceived("in", Origin(SAM, GENERAL), "optin", NOW),
        posted(2, "after opting in"),
    )
    assert await bot.core.inbox.drain() == 3
    assert await kept(bot) == {"m2": "after opting in"}


async def test_writes_that_go_in_together_fall_back_to_one_by_one_when_one_is_at_fault(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    await db.execute("create table words (word text not null check (word != 'bad'))")

    def insert_all(d: sqlite_utils.Database, words: list[str]) -> list[int]:
        d.conn.executemany("insert into words values (?)", [(w,) for w in words])
        return [len(w) for w in words]

    seen: list[int] = []
    try:
        async with db.batch() as batch:
            for n, word in enumerate(["one", "bad", "three"]):
                with batch.item(n):
                    await db.write_later(
                        lambda d, w=word: insert_all(d, [w])[0],
                        then=seen.append,
                        together=Together(insert_all, word),
                    )
            await batch.flush()
            assert list(batch.failed) == [1]
            assert isinstance(batch.failed[1], sqlite3.IntegrityError)
        assert seen == [3, 5]
        rows = await db.read(lambda d: [r[0] for r in d.execute("select word from words")])
        assert rows == ["one", "three"]
    finally:
        db.close()
