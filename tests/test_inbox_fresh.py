"""Events this process accepted are handed on as they came, without decoding them again,
and never in place of another event, nor after their row is gone."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import storage.inbox
from bot import codec
from bot.model import MessagePosted, MessageRef, UserRef
from storage.database import Database
from storage.inbox import SqliteInboxRepository
from storage.inbox_memory import AcceptedEvents
from tests.support.harness import GENERAL, SAM

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ALEX = UserRef("slack", "UALEX", "Alex")


def posted(event_id: str, text: str = "hello", author: UserRef = SAM) -> MessagePosted:
    return MessagePosted(event_id, MessageRef(GENERAL, event_id), author, text, NOW)


def item(event: MessagePosted) -> tuple[str, MessagePosted, str]:
    return f"slack:{event.event_id}", event, event.author.identity


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    db = Database.open(db_path)
    yield db
    db.close()


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The payloads decoded from the file, in order."""
    seen: list[str] = []

    def counting(payload: str) -> object:
        seen.append(payload)
        return codec.decode_event(payload)

    monkeypatch.setattr(storage.inbox, "decode_event", counting)
    return seen


async def test_accepted_events_are_handed_on_without_decoding(
    db: Database, decoded: list[str]
) -> None:
    repo = SqliteInboxRepository(db)
    events = [posted(f"Ev{i}", f"reply {i}") for i in range(3)]
    assert await repo.accept([item(e) for e in events], NOW) == [True] * 3
    assert [i.event for i in await repo.pending(10, NOW)] == events
    assert decoded == []
    # Another process (a restart) has nothing in memory: it reads the same from the file.
    assert [i.event for i in await SqliteInboxRepository(db).pending(10, NOW)] == events
    assert len(decoded) == 3


async def test_a_retry_does_not_replace_the_event_kept(db: Database) -> None:
    repo = SqliteInboxRepository(db)
    await repo.accept([item(posted("Ev1", "first"))], NOW)
    assert await repo.accept([item(posted("Ev1", "changed in a retry"))], NOW) == [False]
    [pending] = await repo.pending(10, NOW)
    assert isinstance(pending.event, MessagePosted) and pending.event.text == "first"


async def test_a_row_id_given_again_hands_on_its_own_event(
    db: Database, decoded: list[str]
) -> None:
    repo = SqliteInboxRepository(db)
    await repo.accept([item(posted("Ev1", "Sam's words"))], NOW)
    # Another process erases the newest row; SQLite then gives its id to the next one.
    other = SqliteInboxRepository(db)
    assert await other.erase(SAM.identity) == 1
    await other.accept([item(posted("Ev2", "Alex's words", ALEX))], NOW)
    [pending] = await repo.pending(10, NOW)
    assert pending.event == posted("Ev2", "Alex's words", ALEX)
    assert len(decoded) == 1  # read from the file, not taken from memory


async def test_an_erased_person_s_events_leave_memory_too(db: Database) -> None:
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    await repo.accept([item(posted("Ev1", "Sam's")), item(posted("Ev2", "Alex's", ALEX))], NOW)
    assert await repo.erase(SAM.identity) == 1
    assert memory.events() == [posted("Ev2", "Alex's", ALEX)]


async def test_an_erasure_while_the_event_is_accepted_leaves_nothing_in_memory(
    db: Database,
) -> None:
    # The erasure's write runs while the acceptance waits for its fsync: it must find the
    # event already in memory, not see it arrive after it has run.
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    accepted, erased = await asyncio.gather(
        repo.accept([item(posted("Ev1", "Sam's words"))], NOW), repo.erase(SAM.identity)
    )
    assert (accepted, erased) == ([True], 1)
    assert memory.events() == []


async def test_an_erasure_by_another_process_leaves_memory_at_the_next_read(
    db: Database,
) -> None:
    # `copbot erase` runs in its own process: the next look at the inbox, even one that
    # finds nothing waiting, lets go of what that process deleted.
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    await repo.accept([item(posted("Ev1", "Sam's words"))], NOW)
    assert await SqliteInboxRepository(db).erase(SAM.identity) == 1
    assert await repo.pending(25, NOW) == []
    assert memory.events() == []


async def test_handled_set_aside_and_passed_by_events_leave_memory(db: Database) -> None:
    memory = AcceptedEvents()
    # The file is asked which kept events still wait at the first read only: the later
    # ones forget by what they read alone.
    repo = SqliteInboxRepository(db, memory, check_every_s=float("inf"))
    await repo.accept([item(posted(f"Ev{i}")) for i in range(7)], NOW)
    first, second, third, fourth, fifth, sixth, seventh = await repo.pending(10, NOW)
    await repo.done([first.id])
    assert first.id not in memory.row_ids()
    await repo.failed(second.id, "ValueError", give_up=True)
    assert second.id not in memory.row_ids()
    async with repo.batch() as batch:
        assert await batch.done([third.id]) == {}
    assert memory.row_ids() == [fourth.id, fifth.id, sixth.id, seventh.id]
    # Another process handles the fifth: a full page's read (the fourth, the sixth)
    # passes it by, and keeps what lies beyond the page (the seventh), still to be read.
    await SqliteInboxRepository(db).done([fifth.id])
    assert [i.id for i in await repo.pending(2, NOW)] == [fourth.id, sixth.id]
    assert memory.row_ids() == [fourth.id, sixth.id, seventh.id]


async def test_an_erasure_by_another_process_behind_a_backlog_leaves_memory(
    db: Database,
) -> None:
    # A full page reads only the oldest events; the erased one waits behind them. The
    # file is asked which kept events still wait, so memory lets go of it at once.
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    backlog = [item(posted(f"Ev{i}", author=ALEX)) for i in range(60)]
    await repo.accept([*backlog, item(posted("EvSam", "Sam's words"))], NOW)
    assert await SqliteInboxRepository(db).erase(SAM.identity) == 1
    assert len(await repo.pending(25, NOW)) == 25
    assert all(event.author == ALEX for event in memory.events())
    assert len(memory.row_ids()) == 60


async def test_reading_nothing_forgets_nothing(db: Database) -> None:
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    await repo.accept([item(posted("Ev1"))], NOW)
    assert await repo.pending(0, NOW) == []
    assert len(memory.row_ids()) == 1


async def test_a_retry_is_read_from_the_file(db: Database, decoded: list[str]) -> None:
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    await repo.accept([item(posted("Ev1", "first try"))], NOW)
    [first] = await repo.pending(10, NOW)
    await repo.failed(first.id, "ValueError", give_up=False, retry_at=NOW)
    assert memory.row_ids() == []
    [again] = await repo.pending(10, NOW)
    assert again.event == posted("Ev1", "first try") and len(decoded) == 1


async def test_reading_people_s_interactions_keeps_messages_in_memory(db: Database) -> None:
    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    await repo.accept([item(posted("Ev1"))], NOW)
    assert await repo.pending(10, NOW, interactive=True) == []
    assert len(memory.row_ids()) == 1


async def test_memory_holds_a_bounded_number_of_events(db: Database, decoded: list[str]) -> None:
    memory = AcceptedEvents(max_events=2)
    repo = SqliteInboxRepository(db, memory)
    events = [posted(f"Ev{i}", f"reply {i}") for i in range(5)]
    await repo.accept([item(e) for e in events], NOW)
    assert memory.events() == events[:2]
    assert [i.event for i in await repo.pending(10, NOW)] == events
    assert len(decoded) == 3


async def test_memory_holds_a_bounded_amount_of_text(db: Database, decoded: list[str]) -> None:
    long = posted("Ev1", "x" * 5_000)
    memory = AcceptedEvents(max_chars=len(codec.encode_event(long)) + 100)
    repo = SqliteInboxRepository(db, memory)
    await repo.accept([item(long), item(posted("Ev2", "y" * 5_000))], NOW)
    assert memory.events() == [long]  # the second would pass the budget: left on disk
    assert [i.event.event_id for i in await repo.pending(10, NOW)] == ["Ev1", "Ev2"]
    assert len(decoded) == 1


async def test_an_event_kept_in_memory_is_the_one_written(db: Database) -> None:
    # What is handed on from memory equals what the file holds, names included (they
    # don't take part in equality).
    repo = SqliteInboxRepository(db)
    event = replace(posted("Ev1"), author=UserRef("slack", "U9", "Named"))
    await repo.accept([item(event)], NOW)
    [fresh] = await repo.pending(10, NOW)
    [read] = await SqliteInboxRepository(db).pending(10, NOW)
    assert codec.encode_event(fresh.event) == codec.encode_event(read.event)


async def test_an_acceptance_that_fails_leaves_nothing_in_memory(db: Database) -> None:
    # The row is written, then its fsync fails: the platform hears an error and sends the
    # event again, so memory keeps nothing of this attempt.
    def failing(fd: int) -> None:
        raise OSError(5, os.strerror(5))

    memory = AcceptedEvents()
    repo = SqliteInboxRepository(db, memory)
    db._wal_sync._fsync_fd = failing  # the test hook WalSync keeps for a disk's fsync
    with pytest.raises(OSError, match="Input/output"):
        await repo.accept([item(posted("Ev1"))], NOW)
    assert memory.row_ids() == []


def test_forgetting_gives_back_room_for_text() -> None:
    memory = AcceptedEvents(max_chars=100)
    memory.add(1, "k1", posted("Ev1"), None, 60)
    memory.add(2, "k2", posted("Ev2"), None, 60)  # past the budget: not kept
    assert memory.row_ids() == [1]
    memory.forget([1])
    memory.add(2, "k2", posted("Ev2"), None, 60)
    assert memory.row_ids() == [2]
    # A row id given again replaces its event, and its text's share of the budget.
    memory.add(2, "k3", posted("Ev3"), None, 90)
    assert memory.get(2, "k3") == posted("Ev3") and memory.get(2, "k2") is None
