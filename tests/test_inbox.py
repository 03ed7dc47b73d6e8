from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.inbox import Inbox
from bot.interaction import Interaction
from bot.model import (
    ChannelRef,
    CommandReceived,
    FormSubmitted,
    InboundEvent,
    MessagePosted,
    MessageRef,
    Origin,
)
from storage import sqlite as sqlite3  # one SQLite library per process: see storage/sqlite.py
from storage.database import Database
from storage.inbox import SqliteInboxRepository
from tests.support.fakes import ManualClock
from tests.support.faults import Faults, disk_full, locked
from tests.support.harness import ALEX, GENERAL, SAM, Harness

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def posted(event_id: str, text: str = "hello") -> MessagePosted:
    return MessagePosted(event_id, MessageRef(GENERAL, event_id), SAM, text, NOW)


async def test_a_retried_event_is_accepted_once_and_handled_once(db_path: Path) -> None:
    db = Database.open(db_path)
    handled: list[InboundEvent] = []

    async def handle(event: InboundEvent) -> None:
        handled.append(event)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    assert await inbox.accept(posted("Ev1"))
    assert not await inbox.accept(posted("Ev1"))  # the platform's retry
    assert await inbox.drain() == 1
    assert not await inbox.accept(posted("Ev1"))  # even after it was handled
    assert await inbox.drain() == 0
    assert handled == [posted("Ev1")]
    db.close()


async def test_accepted_events_survive_a_crash_and_are_handled_after_restart(db_path: Path) -> None:
    db = Database.open(db_path)

    async def crash(event: InboundEvent) -> None:
        raise AssertionError("never reached: the process dies before handling")

    first = Inbox(SqliteInboxRepository(db), crash, ManualClock())
    await first.accept(posted("Ev1", "kept"))
    await first.accept(posted("Ev2", "kept too"))
    db.close()  # the process stops here, before drain()

    db = Database.open(db_path)
    handled: list[str] = []

    async def handle(event: InboundEvent) -> None:
        assert isinstance(event, MessagePosted)
        handled.append(event.text)

    assert await Inbox(SqliteInboxRepository(db), handle, ManualClock()).drain() == 2
    assert handled == ["kept", "kept too"]
    db.close()


async def test_handled_events_keep_no_message_text(db_path: Path) -> None:
    db = Database.open(db_path)

    async def handle(event: InboundEvent) -> None:
        return None

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    await inbox.accept(posted("Ev1", "a private reflection"))
    await inbox.drain()
    rows = await db.read(lambda d: d.execute("select state, payload from inbox").fetchall())
    assert rows == [("done", None)]
    db.close()


async def test_a_failing_event_is_retried_with_backoff_then_set_aside_and_later_purged(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database.open(db_path)
    clock = ManualClock(NOW)
    attempts = 0

    async def handle(event: InboundEvent) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError(f"cannot handle {event}")

    repo = SqliteInboxRepository(db)
    inbox = Inbox(repo, handle, clock)
    await inbox.accept(posted("Ev1", "sensitive words"))
    for wait in (0, 1, 10, 60, 300):
        clock.advance(timedelta(seconds=wait))
        await inbox.drain()
        assert await inbox.drain() == 0  # not tried again before its time
    assert attempts == 5
    rows = await db.read(
        lambda d: d.execute(
            "select state, error, attempts, payload is not null from inbox"
        ).fetchall()
    )
    assert rows == [("failed", "ValueError", 5, 1)]  # set aside, to look into
    assert "sensitive words" not in caplog.text
    assert "ValueError at" in caplog.text
    await repo.purge(clock.now() - timedelta(days=3), clock.now() + timedelta(seconds=1))
    assert await db.read(lambda d: d.execute("select count(*) from inbox").fetchone()[0]) == 0
    db.close()


async def test_an_unreadable_event_is_set_aside_and_the_rest_go_on(db_path: Path) -> None:
    db = Database.open(db_path)
    handled: list[str] = []

    async def handle(event: InboundEvent) -> None:
        assert isinstance(event, MessagePosted)
        handled.append(event.text)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    await db.execute(
        "insert into inbox (dedup_key, kind, payload, received_at) values"
        " ('test:old', 'MessagePosted', '{\"type\": \"Gone\"}', '2026-01-01T00:00:00.000000Z')"
    )
    await inbox.accept(posted("Ev2", "still handled"))
    await inbox.drain()
    assert handled == ["still handled"]
    rows = await db.read(
        lambda d: d.execute("select dedup_key, state, error from inbox order by id").fetchall()
    )
    assert rows == [("test:old", "failed", "unreadable"), ("test:Ev2", "done", "")]
    db.close()


async def test_erasing_a_person_reaches_events_not_yet_handled(db_path: Path) -> None:
    db = Database.open(db_path)

    async def handle(event: InboundEvent) -> None:
        return None

    repo = SqliteInboxRepository(db)
    inbox = Inbox(repo, handle, ManualClock())
    await inbox.accept(posted("Ev3", "from sam"))
    assert await repo.erase("test:sam") == 1
    assert await inbox.drain() == 0
    db.close()


async def test_anonymous_forms_are_stored_without_who_sent_them(
    bot: Harness, db_path: Path
) -> None:
    received: list[FormSubmitted] = []

    async def on_form(ix: Interaction, event: FormSubmitted) -> None:
        received.append(event)

    bot.core.registry.form("feedback", on_form, anonymous=True)
    event = FormSubmitted(
        "Ev-anon",
        Origin(SAM, GENERAL, None, handle="trigger-for-sam"),
        "feedback",
        (("comment", "it was useful"),),
        NOW,
    )
    await bot.core.inbox.accept(event)
    # Before it is handled, the stored copy already lacks the identity.
    stored = bot.core.db.path.read_bytes() + Path(f"{bot.core.db.path}-wal").read_bytes()
    assert b"it was useful" in stored
    assert b"sam" not in stored and b"Sam" not in stored and b"trigger-for-sam" not in stored
    await bot.core.inbox.drain()
    assert [e.origin.user.is_anonymous for e in received] == [True]
    assert received[0].value("comment") == "it was useful"


async def test_events_in_one_conversation_keep_their_order(db_path: Path) -> None:
    db = Database.open(db_path)
    order: list[str] = []

    async def handle(event: InboundEvent) -> None:
        assert isinstance(event, MessagePosted)
        order.append(event.event_id)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    for i in range(30):
        await inbox.accept(posted(f"Ev{i}"))
    await inbox.drain()
    assert order == [f"Ev{i}" for i in range(30)]
    db.close()


def test_inbox_table_is_readable_by_plain_sqlite(db_path: Path) -> None:
    Database.open(db_path).close()
    conn = sqlite3.connect(db_path)
    columns = [r[1] for r in conn.execute("pragma table_info(inbox)")]
    assert columns == [
        "id",
        "dedup_key",
        "kind",
        "payload",
        "received_at",
        "state",
        "attempts",
        "error",
        "retry_at",
        "identity",
    ]
    conn.close()


async def test_events_arriving_together_share_one_durable_commit(db_path: Path) -> None:
    db = Database.open(db_path)
    repo = SqliteInboxRepository(db)
    commits: list[int] = []
    original = repo.accept

    async def counting(items, at):  # type: ignore[no-untyped-def]
        commits.append(len(items))
        return await original(items, at)

    repo.accept = counting  # type: ignore[method-assign]

    async def handle(event: InboundEvent) -> None:
        return None

    inbox = Inbox(repo, handle, ManualClock())
    results = await asyncio.gather(*(inbox.accept(posted(f"Ev{i % 15}")) for i in range(20)))
    assert results.count(True) == 15  # five were retries of events in the same moment
    assert sum(commits) == 20 and len(commits) < 20  # batched
    assert await inbox.drain() == 15
    db.close()


async def test_concurrent_accept_pending_done_never_fail_and_everything_drains(
    db_path: Path,
) -> None:
    """Regression: a cursor returned by done()'s write was freed on the event loop's thread,
    resetting the statement the writer thread was binding for the next done()
    ("InterfaceError: Error binding parameter 0"); the batch was then handled again."""
    db = Database.open(db_path)
    repo = SqliteInboxRepository(db)
    inbox = Inbox(repo, _ignore, ManualClock())
    total, workers = 2000, 16

    async def produce(w: int) -> None:
        for i in range(w, total, workers):
            where = MessageRef(CHANNELS[i % 8], f"{i}")
            assert await inbox.accept(MessagePosted(f"Ev{i}", where, SAM, "x", NOW))

    await asyncio.gather(*(produce(w) for w in range(workers)))
    ids = [item.id for item in await repo.pending(total, NOW)]
    assert len(ids) == total

    async def consume(w: int) -> None:
        # Batches of done() queued at once from many lanes; marking one done again is
        # harmless, so each worker goes over every event, in its own order.
        mine = ids[w:] + ids[:w]
        for k in range(0, total, 50):
            await repo.done(mine[k : k + 50])

    await asyncio.gather(*(consume(w) for w in range(workers)))
    assert await repo.pending(10, NOW) == []
    states = await db.read(lambda d: d.execute("select state, count(*) from inbox").fetchall())
    assert states == [("done", total)]
    db.close()


async def _ignore(event: InboundEvent) -> None:
    return None


CHANNELS = [ChannelRef("test", f"C{n}", "T1", f"c{n}") for n in range(8)]


async def test_a_full_disk_on_accept_is_an_error_to_the_platform_and_loses_nothing(
    db_path: Path,
) -> None:
    faults = Faults()
    db = Database.open(db_path, gate=faults)
    handled: list[str] = []

    async def handle(event: InboundEvent) -> None:
        handled.append(event.event_id)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    assert await inbox.accept(posted("Ev1"))
    faults.fail("SqliteInboxRepository.accept", disk_full)
    # The adapter answers the platform with an error, never a 200, so it sends Ev2 again.
    with pytest.raises(sqlite3.OperationalError, match="full"):
        await inbox.accept(posted("Ev2"))
    assert faults.raised == ["SqliteInboxRepository.accept"]
    assert await inbox.accept(posted("Ev2"))  # the platform's retry, once the disk has room
    assert await inbox.drain() == 2
    assert handled == ["Ev1", "Ev2"]
    db.close()


async def test_a_batch_whose_done_write_fails_is_handled_once_more_and_not_lost(
    db_path: Path,
) -> None:
    faults = Faults()
    db = Database.open(db_path, gate=faults)
    handled: list[str] = []

    async def handle(event: InboundEvent) -> None:
        handled.append(event.event_id)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    for n in range(3):
        await inbox.accept(posted(f"Ev{n}"))
    faults.fail("SqliteInboxRepository.done", locked)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await inbox.drain()
    assert await inbox.drain() == 3  # still pending: seen again, once
    assert await inbox.drain() == 0
    assert sorted(handled) == sorted(["Ev0", "Ev1", "Ev2"] * 2)
    states = await db.read(lambda d: d.execute("select state, count(*) from inbox").fetchall())
    assert states == [("done", 3)]
    db.close()


async def test_unnoted_deliveries_are_named_by_a_key_outside_the_file(db_path: Path) -> None:
    """A delivery that leads to an anonymous form may be named by the person's chat: the
    inbox keeps a keyed hash instead. With COPBOT_SECRET_KEY, a retry after a restart is
    still recognised; without it, the key was the process's own."""
    from bot.inbox import veil_of

    db = Database.open(db_path)

    async def handle(event: InboundEvent) -> None:
        pass

    def restarted(veil: bytes | None) -> Inbox:
        repo = SqliteInboxRepository(db)
        return Inbox(repo, handle, ManualClock(), unnoted=lambda e: True, veil=veil)

    veil = veil_of("a-secret-key-of-at-least-32-characters!")
    press = posted("a:1priya-personal-chat:f:9")
    assert await restarted(veil).accept(press)
    assert not await restarted(veil).accept(press)  # after a restart: recognised
    assert await restarted(None).accept(press)  # the process's own key: not
    assert await restarted(None).accept(press)
    # A form's submission names nothing of the person's: kept by its own id, so that a
    # retry, even after a restart, is never kept twice (an anonymous reply posted twice).
    origin = Origin(SAM, GENERAL).anonymised()
    sent = FormSubmitted("view:V123", origin, "anon-reply", (("text", "hi"),), NOW)
    assert await restarted(None).accept(sent)
    assert not await restarted(None).accept(sent)
    db.close()
    conn = sqlite3.connect(db_path)
    keys = [r[0] for r in conn.execute("select dedup_key from inbox")]
    conn.close()
    assert len(keys) == 4 and not any("priya" in k for k in keys)


async def test_an_anonymous_form_is_emptied_at_once_not_behind_a_slow_command(
    db_path: Path,
) -> None:
    """An anonymous form's row holds its ticket (the person's hash, while the round's key is
    in the file) beside the answers: it is emptied as soon as it is taken, never left
    waiting behind someone's slow command in the channel it was sent from."""
    db = Database.open(db_path)
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(event: InboundEvent) -> None:
        if isinstance(event, CommandReceived):
            await release.wait()  # an export or a search taking its time
        handled.append(event.event_id)

    inbox = Inbox(SqliteInboxRepository(db), handle, ManualClock())
    await inbox.accept(CommandReceived("Cmd", Origin(SAM, GENERAL), "export", NOW))
    origin = Origin(SAM, GENERAL).anonymised()
    answer = (("comment", "ticket-and-words"),)
    await inbox.accept(FormSubmitted("form:1", origin, "feedback", answer, NOW))
    draining = asyncio.create_task(inbox.drain())
    for _ in range(50):
        await asyncio.sleep(0.01)
        if "form:1" in handled:
            break
    conn = sqlite3.connect(db_path)
    waiting = conn.execute("select count(*) from inbox where payload is not null").fetchone()
    conn.close()
    release.set()
    await draining
    assert handled == ["form:1", "Cmd"]
    assert waiting == (0,)  # the command's row was emptied as it began; the form's too
    db.close()


async def test_a_command_erased_while_it_waits_its_turn_never_runs_as_another_event(
    db_path: Path,
) -> None:
    """Someone erased (copbot erase, the console) while their command waits behind a slow
    one: it is forgotten, and doesn't run when its turn comes, even once SQLite has given
    its row's id to the next event; that event, someone else's, is handled, not lost."""
    db = Database.open(db_path)
    repo = SqliteInboxRepository(db)
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(event: InboundEvent) -> None:
        if event.event_id == "Slow":
            await release.wait()
        handled.append(event.event_id)

    inbox = Inbox(repo, handle, ManualClock())
    await inbox.accept(CommandReceived("Slow", Origin(SAM, GENERAL), "export", NOW))
    await inbox.accept(CommandReceived("Alex", Origin(ALEX, GENERAL), "search words", NOW))
    draining = asyncio.create_task(inbox.drain())
    await asyncio.sleep(0.1)  # both taken: Alex's waits its turn behind Sam's
    assert await repo.erase(ALEX.identity) == 1
    await inbox.accept(posted("Later", "from sam"))  # given the erased row's id
    release.set()
    await draining
    await inbox.drain()
    assert handled == ["Slow", "Later"]
    db.close()
