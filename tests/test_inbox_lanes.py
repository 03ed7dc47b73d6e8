"""People before bulk: a person's command, click or form is taken ahead of captured
messages waiting in the inbox, and runs without waiting for a capture batch under way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from bot.clock import to_text
from bot.codec import encode_event
from bot.inbox import BATCH, CAPTURE_BATCH, INTERACTIVE, Inbox
from bot.model import (
    ChannelRef,
    CommandReceived,
    HomeOpened,
    InboundEvent,
    MessagePosted,
    MessageRef,
    Origin,
)
from bot.records import InboxItem
from storage.database import Database, connect
from storage.inbox import INTERACTIVE as KINDS
from storage.inbox import INTERACTIVE_KINDS, SqliteInboxRepository
from storage.migrations import MIGRATIONS
from tests.support.fakes import ManualClock
from tests.support.harness import ALEX, GENERAL, SAM, Harness

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CHANNELS = [ChannelRef("test", f"C{n}", "T1", f"c{n}") for n in range(4)]


def posted(event_id: str, channel: ChannelRef = GENERAL) -> MessagePosted:
    return MessagePosted(event_id, MessageRef(channel, event_id), SAM, "words", NOW)


def command(event_id: str, channel: ChannelRef = GENERAL, text: str = "whoami") -> CommandReceived:
    return CommandReceived(event_id, Origin(SAM, channel), text, NOW)


class Recorder:
    def __init__(self) -> None:
        self.order: list[str] = []

    async def __call__(self, event: InboundEvent) -> None:
        self.order.append(event.event_id)


async def test_a_command_accepted_after_500_captures_is_handled_before_them(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    handled = Recorder()
    inbox = Inbox(SqliteInboxRepository(db), handled, ManualClock())
    await asyncio.gather(*(inbox.accept(posted(f"Ev{i}")) for i in range(500)))
    await inbox.accept(command("Cmd"))
    assert await inbox.drain() == 501
    assert handled.order[0] == "Cmd"
    assert sorted(handled.order[1:], key=lambda e: int(e[2:])) == handled.order[1:]
    db.close()


async def test_captures_keep_their_order_in_each_conversation_with_commands_between(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    handled = Recorder()
    inbox = Inbox(SqliteInboxRepository(db), handled, ManualClock())
    for i in range(200):
        await inbox.accept(posted(f"Ev{i}", CHANNELS[i % 4]))
        if i % 20 == 0:
            await inbox.accept(command(f"Cmd{i}", CHANNELS[i % 4]))
    assert await inbox.drain() == 210
    commands = [e for e in handled.order if e.startswith("Cmd")]
    assert handled.order[:10] == commands  # every command first, each once
    assert commands == [f"Cmd{i}" for i in range(0, 200, 20)]
    for n, channel in enumerate(CHANNELS):
        mine = [e for e in handled.order if e.startswith("Ev") and int(e[2:]) % 4 == n]
        assert mine == [f"Ev{i}" for i in range(n, 200, 4)], channel
    db.close()


async def test_a_command_runs_while_a_capture_batch_is_stuck(db_path: Path) -> None:
    db = Database.open(db_path)
    capturing, release, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
    captured: list[str] = []

    async def handle(event: InboundEvent) -> None:
        if isinstance(event, CommandReceived):
            answered.set()
            return
        capturing.set()
        await release.wait()  # a long capture batch, holding the capture loop
        captured.append(event.event_id)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    for i in range(50):
        await inbox.accept(posted(f"Ev{i}"))
    running = asyncio.create_task(inbox.run_forever())
    try:
        async with asyncio.timeout(10):
            await capturing.wait()
            await inbox.accept(command("Cmd"))
            await answered.wait()
        assert captured == []  # the batch under way had not moved on
        release.set()
        async with asyncio.timeout(10):
            while len(captured) < 50:
                await asyncio.sleep(0)
        assert captured == [f"Ev{i}" for i in range(50)]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    db.close()


async def test_commands_waiting_behind_one_running_are_kept_through_a_stop(
    db_path: Path,
) -> None:
    """Stopped (SIGTERM) while one command of a conversation runs and two wait behind it:
    the one that ran is not run again; those that never began run after the restart."""
    db = Database.open(db_path)
    running, ran = asyncio.Event(), Recorder()

    async def slow(event: InboundEvent) -> None:
        ran.order.append(event.event_id)
        running.set()
        await asyncio.Event().wait()  # still at it when copbot stops

    inbox = Inbox(SqliteInboxRepository(db), slow, ManualClock(NOW))
    for name in ("First", "Second", "Third"):
        await inbox.accept(command(name))
    loops = asyncio.create_task(inbox.run_forever())
    async with asyncio.timeout(10):
        await running.wait()
    loops.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loops
    db.close()
    assert ran.order == ["First"]

    db = Database.open(db_path)
    handled = Recorder()
    assert await Inbox(SqliteInboxRepository(db), handled, ManualClock(NOW)).drain() == 2
    assert handled.order == ["Second", "Third"]
    db.close()


async def test_after_a_crash_both_kinds_are_handled_people_first(db_path: Path) -> None:
    db = Database.open(db_path)

    async def crash(event: InboundEvent) -> None:
        raise AssertionError("never reached: the process dies before handling")

    first = Inbox(SqliteInboxRepository(db), crash, ManualClock())
    for i in range(30):
        await first.accept(posted(f"Ev{i}"))
    await first.accept(command("Cmd"))
    await first.accept(HomeOpened("Home", SAM, NOW))
    db.close()  # the process stops here, before drain()

    db = Database.open(db_path)
    handled = Recorder()
    assert await Inbox(SqliteInboxRepository(db), handled, ManualClock()).drain() == 32
    assert sorted(handled.order[:2]) == ["Cmd", "Home"]
    assert handled.order[2:] == [f"Ev{i}" for i in range(30)]
    db.close()


async def test_a_home_tab_that_fails_is_shown_again_later_and_a_command_never(
    db_path: Path,
) -> None:
    db = Database.open(db_path)
    clock = ManualClock(NOW)
    runs: list[str] = []

    async def handle(event: InboundEvent) -> None:
        runs.append(event.event_id)
        if len(runs) <= 2:
            raise ValueError("the platform is away")

    inbox = Inbox(SqliteInboxRepository(db), handle, clock)
    await inbox.accept(command("Cmd"))
    await inbox.accept(HomeOpened("Home", SAM, NOW))
    await inbox.drain()
    assert sorted(runs) == ["Cmd", "Home"]
    assert await inbox.drain() == 0  # not before its time
    clock.advance(timedelta(seconds=1))
    assert await inbox.drain() == 1
    assert sorted(runs) == ["Cmd", "Home", "Home"]
    db.close()


async def test_erasing_a_person_reaches_their_waiting_commands_too(db_path: Path) -> None:
    db = Database.open(db_path)
    handled = Recorder()
    repo = SqliteInboxRepository(db)
    inbox = Inbox(repo, handled, ManualClock())
    await inbox.accept(posted("Ev1"))
    await inbox.accept(command("Cmd"))
    assert await repo.erase(SAM.identity) == 2
    assert await inbox.drain() == 0
    assert handled.order == []
    db.close()


async def test_a_command_that_changes_what_is_kept_waits_its_turn(bot: Harness) -> None:
    """`archive on` after a message still waiting: the message was written before the
    channel was kept, so it stays out; a plain command overtakes it."""
    await bot.join(GENERAL)
    await bot.core.inbox.accept(posted("before"))
    await bot.core.inbox.accept(
        CommandReceived("on", Origin(ALEX, GENERAL), "archive on", bot.clock.now())
    )
    await bot.core.inbox.accept(posted("after"))
    await bot.core.inbox.drain()
    kept = await bot.core.db.read(
        lambda d: [r[0] for r in d.execute("select message_id from archive_messages")]
    )
    assert kept == ["after"]


async def test_opting_in_again_keeps_nothing_written_while_opted_out(bot: Harness) -> None:
    await bot.join(GENERAL)
    await bot.command("archive on", ALEX)
    await bot.command("optout")
    await bot.core.inbox.accept(posted("while-out"))
    await bot.core.inbox.accept(command("in", text="optin"))
    await bot.core.inbox.accept(posted("back-in"))
    await bot.core.inbox.drain()
    kept = await bot.core.db.read(
        lambda d: [r[0] for r in d.execute("select message_id from archive_messages")]
    )
    assert kept == ["back-in"]


class Overtaken(SqliteInboxRepository):
    """Another process sharing the file handles what this one has just read, first (at
    the reads of people's interactions, or at those of the capture loop)."""

    def __init__(self, db: Database, other: Inbox, interactive: bool) -> None:
        super().__init__(db)
        self._other = other
        self._interactive = interactive

    async def pending(
        self,
        limit: int,
        now: datetime,
        *,
        interactive: bool = False,
        besides: Collection[int] = (),
    ) -> list[InboxItem]:
        found = await super().pending(limit, now, interactive=interactive, besides=besides)
        if found and interactive == self._interactive:
            await self._other.drain()
        return found


@pytest.mark.parametrize("overtaken_at", ["interactions", "captures"])
async def test_a_command_two_processes_read_at_once_runs_once(
    db_path: Path, overtaken_at: str
) -> None:
    """Both kinds: one taken at once, and one that waits its turn behind messages."""
    handled = Recorder()

    def in_turn(event: InboundEvent) -> bool:
        return isinstance(event, CommandReceived) and event.text == "archive on"

    first_db, second_db = Database.open(db_path), Database.open(db_path)
    first = Inbox(SqliteInboxRepository(first_db), handled, ManualClock(NOW), in_turn=in_turn)
    repo = Overtaken(second_db, first, interactive=overtaken_at == "interactions")
    second = Inbox(repo, handled, ManualClock(NOW), in_turn=in_turn)
    await second.accept(command("once"))
    await second.accept(command("on", text="archive on"))
    await second.drain()
    assert sorted(handled.order) == ["on", "once"]
    first_db.close()
    second_db.close()


def test_the_storage_names_the_same_kinds_the_core_puts_first() -> None:
    assert sorted(kind.__name__ for kind in INTERACTIVE) == sorted(INTERACTIVE_KINDS)


async def test_the_migration_adds_the_index_to_a_database_in_use(db_path: Path) -> None:
    """A copbot of before, stopped with events waiting: the new one finds the person's
    command among them by the index, and handles it first."""
    old = sqlite_utils.Database(connect(db_path))
    MIGRATIONS.apply(old, stop_before="0018_inbox_priority")
    events: list[InboundEvent] = [posted(f"Ev{i}") for i in range(20)] + [command("Cmd")]
    for event in events:
        old["inbox"].insert(
            {
                "dedup_key": f"test:{event.event_id}",
                "kind": type(event).__name__,
                "payload": encode_event(event),
                "received_at": to_text(NOW),
                "identity": SAM.identity,
            }
        )
    old.close()

    db = Database.open(db_path)
    plan = await db.read(
        lambda d: d.execute(
            f"explain query plan select id from inbox where state = 'pending' and {KINDS}"
            " and (retry_at is null or retry_at <= ?) order by id limit ?",
            [to_text(NOW), 100],
        ).fetchall()
    )
    assert "inbox_pending_interactive" in str(plan)
    repo = SqliteInboxRepository(db)
    assert [i.event.event_id for i in await repo.pending(100, NOW, interactive=True)] == ["Cmd"]
    handled = Recorder()
    assert await Inbox(repo, handled, ManualClock()).drain() == 21
    assert handled.order == ["Cmd"] + [f"Ev{i}" for i in range(20)]
    db.close()


async def test_as_copbot_stops_a_command_under_way_ends_and_none_begins(db_path: Path) -> None:
    """SIGTERM mid-command: the one running is given time to end (its answer is not cut off
    half done); those waiting behind it don't begin, and run after the restart."""
    db = Database.open(db_path)
    running, release, ran, ended = asyncio.Event(), asyncio.Event(), Recorder(), []

    async def slow(event: InboundEvent) -> None:
        ran.order.append(event.event_id)
        running.set()
        await release.wait()
        ended.append(event.event_id)

    inbox = Inbox(SqliteInboxRepository(db), slow, ManualClock(NOW))
    for name in ("First", "Second"):
        await inbox.accept(command(name))
    loops = asyncio.create_task(inbox.run_forever())
    async with asyncio.timeout(10):
        await running.wait()
    stopping = asyncio.create_task(inbox.finish_running(within=10))
    await asyncio.sleep(0)
    release.set()
    async with asyncio.timeout(10):
        await stopping
    loops.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loops
    db.close()
    assert ran.order == ["First"] and ended == ["First"]

    db = Database.open(db_path)
    handled = Recorder()
    assert await Inbox(SqliteInboxRepository(db), handled, ManualClock(NOW)).drain() == 1
    assert handled.order == ["Second"]
    db.close()


async def test_as_copbot_stops_a_command_taking_its_turn_among_messages_is_let_end(
    db_path: Path,
) -> None:
    """`archive on` runs in the capture loop, in order with its channel's messages: a stop
    waits for it as for any other command under way."""
    db = Database.open(db_path)
    running, release, ended = asyncio.Event(), asyncio.Event(), []

    async def slow(event: InboundEvent) -> None:
        if isinstance(event, CommandReceived):
            running.set()
            await release.wait()
        ended.append(event.event_id)

    inbox = Inbox(
        SqliteInboxRepository(db),
        slow,
        ManualClock(NOW),
        in_turn=lambda e: isinstance(e, CommandReceived) and e.text == "archive on",
    )
    await inbox.accept(command("Archive", GENERAL, "archive on"))
    await inbox.accept(posted("After"))
    loops = asyncio.create_task(inbox.run_forever())
    async with asyncio.timeout(10):
        await running.wait()
    stopping = asyncio.create_task(inbox.finish_running(within=10))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not stopping.done()  # still waiting for it
    release.set()
    async with asyncio.timeout(10):
        await stopping
    loops.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loops
    db.close()
    assert ended[0] == "Archive"

    # The message after it is captured, before the stop or after the restart (or both,
    # when the stop came before its batch was marked done: the archive keeps it once).
    db = Database.open(db_path)
    handled = Recorder()
    await Inbox(SqliteInboxRepository(db), handled, ManualClock(NOW)).drain()
    assert set(ended[1:] + handled.order) == {"After"}
    db.close()


async def test_clicks_queued_behind_a_slow_one_hold_up_no_other_conversation_nor_capture(
    db_path: Path,
) -> None:
    """More clicks than a page holds wait behind a slow one in one channel (everyone
    pressing Going while Slack is slow): taken, not yet begun, they still wait in the file,
    and must not fill the pages the inbox reads, so another channel's command runs and
    messages are captured meanwhile."""
    db = Database.open(db_path)
    release, started = asyncio.Event(), asyncio.Event()
    ran: list[str] = []
    other_ran, captured = asyncio.Event(), asyncio.Event()

    async def handle(event: InboundEvent) -> None:
        ran.append(event.event_id)
        if event.event_id == "A0":
            started.set()
            await release.wait()
        if event.event_id == "B":
            other_ran.set()
        if event.event_id == "M4":
            captured.set()

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock(NOW))
    for i in range(max(BATCH, CAPTURE_BATCH) + 1):
        await inbox.accept(command(f"A{i}", CHANNELS[0]))
    loops = asyncio.create_task(inbox.run_forever())
    try:
        async with asyncio.timeout(10):
            await started.wait()
            await inbox.accept(command("B", CHANNELS[1]))
            for i in range(5):
                await inbox.accept(posted(f"M{i}", CHANNELS[2]))
            await other_ran.wait()
            await captured.wait()
        assert [e for e in ran if e.startswith("A")] == ["A0"]  # the rest still wait their turn
    finally:
        release.set()
        loops.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loops
        db.close()


async def test_once_copbot_is_stopping_nothing_more_is_read_and_all_waits_for_the_restart(
    db_path: Path,
) -> None:
    """A command that must wait its turn behind messages, as copbot stops: the capture loop
    neither runs it nor reads the same page again and again until it is cancelled."""
    db = Database.open(db_path)
    handled = Recorder()
    inbox = Inbox(SqliteInboxRepository(db), handled, ManualClock(NOW))
    await inbox.accept(command("Archive", GENERAL, "archive on"))
    for i in range(3):
        await inbox.accept(posted(f"M{i}"))
    await inbox.finish_running(within=0)
    async with asyncio.timeout(5):
        assert await inbox.drain() == 0
    assert handled.order == []
    db.close()

    db = Database.open(db_path)
    again = Recorder()
    assert await Inbox(SqliteInboxRepository(db), again, ManualClock(NOW)).drain() == 4
    db.close()
