from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from bot.records import Job, JobState
from bot.scheduler import (
    JobError,
    JobKind,
    Outcome,
    Scheduler,
    SchedulerSettings,
    local_to_utc,
)
from storage.database import Database
from storage.jobs import SqliteJobRepository
from tests.support.fakes import ManualClock

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


@dataclass
class Recorder:
    """A job kind that records its runs and can be told to fail."""

    runs: list[tuple[int, datetime]] = field(default_factory=list)
    troubles: list[tuple[int, JobState]] = field(default_factory=list)
    fail: int = 0
    error: type[Exception] = ConnectionError
    said: str = "platform said no"
    block: asyncio.Event | None = None
    clock: ManualClock | None = None

    async def run(self, job: Job) -> Outcome:
        assert self.clock is not None
        self.runs.append((job.id, self.clock.now()))
        if self.block is not None:
            await self.block.wait()
        if self.fail:
            self.fail -= 1
            raise self.error(self.said)

        def record(db: sqlite_utils.Database) -> None:
            db.execute("insert into effects (job_key) values (?)", [job.key])

        return Outcome(also=(record,))

    async def trouble(self, job: Job, state: JobState) -> None:
        self.troubles.append((job.id, state))


@dataclass
class World:
    path: Path
    clock: ManualClock
    recorder: Recorder
    db: Database | None = None
    scheduler: Scheduler | None = None
    others: list[Database] = field(default_factory=list)  # other processes' handles

    def start(self) -> Scheduler:
        """(Re)start the process: a new database handle and a new scheduler."""
        self.db = Database.open(self.path)
        self.scheduler = Scheduler(
            SqliteJobRepository(self.db, self.clock),
            self.clock,
            SchedulerSettings(timezone=LONDON, grace=timedelta(minutes=15)),
        )
        self.scheduler.register(JobKind("post", self.recorder.run, self.recorder.trouble))
        return self.scheduler

    def stop(self) -> None:
        assert self.db is not None
        self.db.close()
        for other in self.others:
            other.close()

    async def effects(self) -> list[str]:
        assert self.db is not None
        rows = await self.db.read(lambda d: d.execute("select job_key from effects").fetchall())
        return [r[0] for r in rows]

    async def job(self, key: str) -> Job:
        assert self.db is not None
        job = await SqliteJobRepository(self.db, self.clock).find_by_key(key)
        assert job is not None
        return job


@pytest.fixture
async def world(db_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(START)
    w = World(db_path, clock, Recorder(clock=clock))
    w.start()
    assert w.db is not None
    await w.db.execute("create table effects (job_key text unique)")
    yield w
    w.stop()


async def test_a_job_runs_when_due_not_before_and_only_once(world: World) -> None:
    s = world.scheduler
    assert s is not None
    due = START + timedelta(hours=1)
    assert await s.once("post", {"topic": "language"}, due, key="k1", owner="slack:U1")
    assert await s.once("post", {"topic": "language"}, due, key="k1") is None  # same key
    assert await s.tick() == 0
    world.clock.set(due)
    assert await s.tick() == 1
    assert await s.tick() == 0
    assert [at for _, at in world.recorder.runs] == [due]
    assert await world.effects() == ["k1"]
    assert (await world.job("k1")).state is JobState.DONE


async def test_a_job_found_too_late_is_recorded_as_missed_not_run_stale(world: World) -> None:
    s = world.scheduler
    assert s is not None
    job = await s.once("post", {}, START, key="late", owner="slack:U1")
    assert job is not None
    world.clock.advance(timedelta(minutes=16))
    await s.tick()
    assert world.recorder.runs == []
    missed = await world.job("late")
    assert missed.state is JobState.MISSED and "16 minutes late" in missed.last_error
    assert world.recorder.troubles == [(job.id, JobState.MISSED)]


async def test_a_job_a_little_late_still_runs(world: World) -> None:
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, START, key="bit-late")
    world.clock.advance(timedelta(minutes=14))
    await s.tick()
    assert (await world.job("bit-late")).state is JobState.DONE


async def test_failures_are_retried_with_backoff_then_succeed_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    s = world.scheduler
    assert s is not None
    world.recorder.fail, world.recorder.said = 2, "Priya's words"
    await s.once("post", {}, START, key="flaky")
    await s.tick()
    job = await world.job("flaky")
    assert job.state is JobState.PENDING and job.due_at == START + timedelta(seconds=30)
    # Not copbot's words: the error's message may quote someone (a reply's words), so the
    # job keeps, and the log says, only its kind and where it happened.
    assert job.last_error == "ConnectionError"
    assert "ConnectionError at" in caplog.text and "Priya" not in caplog.text
    world.clock.advance(timedelta(seconds=30))
    await s.tick()
    assert (await world.job("flaky")).due_at == START + timedelta(seconds=30 + 120)
    world.clock.advance(timedelta(seconds=120))
    await s.tick()
    done = await world.job("flaky")
    assert (done.state, done.attempts) == (JobState.DONE, 3)
    assert await world.effects() == ["flaky"]
    assert world.recorder.troubles == []


async def test_a_job_that_keeps_failing_is_reported_to_its_owner_once(world: World) -> None:
    s = world.scheduler
    assert s is not None
    world.recorder.fail = 99
    job = await s.once("post", {}, START, key="broken", owner="slack:U1")
    assert job is not None
    for _ in range(10):
        await s.tick()
        world.clock.advance(timedelta(minutes=10))
    failed = await world.job("broken")
    assert (failed.state, failed.attempts) == (JobState.FAILED, 4)
    assert world.recorder.troubles == [(job.id, JobState.FAILED)]
    assert await world.effects() == []


async def test_a_job_error_fails_at_once_without_retrying(world: World) -> None:
    s = world.scheduler
    assert s is not None
    world.recorder.fail, world.recorder.error = 1, JobError
    await s.once("post", {}, START, key="gone")
    await s.tick()
    assert (await world.job("gone")).state is JobState.FAILED
    assert len(world.recorder.runs) == 1


async def test_jobs_due_while_stopped_run_once_after_restart(world: World) -> None:
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, START + timedelta(minutes=5), key="while-down")
    world.stop()  # the process stops before the job is due
    world.clock.advance(timedelta(minutes=10))
    s = world.start()
    await s.tick()
    await s.tick()
    assert await world.effects() == ["while-down"]
    assert len(world.recorder.runs) == 1


async def test_as_copbot_stops_the_job_under_way_ends_and_none_begins(world: World) -> None:
    """SIGTERM mid-post: the job running is given time to end (its post is neither cut
    off nor left in doubt for its owner); the next one due waits for the restart."""
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, START, key="under-way")
    await s.once("post", {}, START, key="next")
    world.recorder.block = asyncio.Event()
    loop = asyncio.create_task(s.run_forever())
    while not world.recorder.runs:
        await asyncio.sleep(0.01)
    stopping = asyncio.create_task(s.finish_running(within=10))
    await asyncio.sleep(0.05)
    world.recorder.block.set()
    async with asyncio.timeout(10):
        await stopping
    await asyncio.sleep(0.05)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    assert await world.effects() == ["under-way"] and len(world.recorder.runs) == 1
    states = {j.key: j.state for j in await _all_jobs(world)}
    assert states == {"under-way": JobState.DONE, "next": JobState.PENDING}
    assert world.recorder.troubles == []


async def test_as_copbot_stops_a_job_that_overruns_its_time_is_left_to_the_restart(
    world: World,
) -> None:
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, START, key="slow")
    await s.once("post", {}, START, key="next")
    world.recorder.block = asyncio.Event()  # never set: the post hangs
    loop = asyncio.create_task(s.run_forever())
    while not world.recorder.runs:
        await asyncio.sleep(0.01)
    async with asyncio.timeout(5):
        await s.finish_running(within=0.1)  # gives up waiting, as the stop goes on
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    # Left as it was, for the restart to settle (in doubt: its owner is told then).
    states = {j.key: j.state for j in await _all_jobs(world)}
    assert states == {"slow": JobState.RUNNING, "next": JobState.PENDING}
    assert len(world.recorder.runs) == 1 and world.recorder.troubles == []


async def test_a_restart_mid_run_neither_reruns_nor_silently_drops_the_job(world: World) -> None:
    s = world.scheduler
    assert s is not None
    rec = await s.repeat(
        "post", {"topic": "any"}, "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10;BYMINUTE=0", "slack:U1", "weekly"
    )
    first_due = rec.next_at
    assert first_due == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    world.clock.set(first_due)
    world.recorder.block = asyncio.Event()
    running = asyncio.create_task(s.tick())
    while not world.recorder.runs:
        await asyncio.sleep(0.01)
    running.cancel()  # the process dies while the post is in flight
    with pytest.raises(asyncio.CancelledError):
        await running
    world.stop()

    world.recorder.block = None
    world.clock.advance(timedelta(minutes=11))  # past the lease
    s = world.start()
    await s.tick()
    [job] = [j for j in await _all_jobs(world) if j.due_at == first_due]
    assert job.state is JobState.INTERRUPTED  # not re-run: its post may have gone out
    assert world.recorder.troubles == [(job.id, JobState.INTERRUPTED)]
    assert len(world.recorder.runs) == 1
    # and the schedule goes on: next Tuesday is queued
    nxt = await _pending(world)
    assert [j.due_at for j in nxt] == [datetime(2026, 3, 10, 10, 0, tzinfo=UTC)]


async def test_a_job_that_hangs_past_its_guard_is_interrupted_not_run_again(
    world: World,
) -> None:
    s = world.scheduler
    assert s is not None
    # A guard of a tenth of a second (half the lease), so the hang ends quickly.
    s._settings = SchedulerSettings(timezone=LONDON, lease=timedelta(seconds=0.2))
    s.register(JobKind("post-once", world.recorder.run, world.recorder.trouble, at_most_once=True))
    await s.once("post-once", {}, world.clock.now(), "hangs", owner="slack:U1")
    world.recorder.block = asyncio.Event()  # its post went out; the answer never comes
    await s.tick()
    job = await world.job("hangs")
    assert job.state is JobState.INTERRUPTED
    assert world.recorder.troubles == [(job.id, JobState.INTERRUPTED)]
    assert job.last_error != ""
    world.recorder.block = None
    for _ in range(4):  # past every backoff: it must not come round again
        world.clock.advance(timedelta(minutes=15))
        await s.tick()
    assert len(world.recorder.runs) == 1
    assert world.recorder.troubles == [(job.id, JobState.INTERRUPTED)]


async def test_a_job_that_may_run_again_is_tried_again_after_hanging(world: World) -> None:
    """An announcement keeps a ledger of where it posted, so a hang is retried, not left
    half done until copbot restarts."""
    s = world.scheduler
    assert s is not None
    s._settings = SchedulerSettings(timezone=LONDON, lease=timedelta(seconds=0.2))
    await s.once("post", {}, world.clock.now(), "hangs-once", owner="slack:U1")
    world.recorder.block = asyncio.Event()
    await s.tick()
    job = await world.job("hangs-once")
    assert job.state is JobState.PENDING and "TimeoutError" in job.last_error
    world.recorder.block = None
    world.clock.advance(timedelta(minutes=15))
    await s.tick()
    assert (await world.job("hangs-once")).state is JobState.DONE
    assert len(world.recorder.runs) == 2 and world.recorder.troubles == []


class Overtaken(SqliteJobRepository):
    """Another process closes the lapsed jobs this one has just found, before it can."""

    def __init__(self, db: Database, clock: ManualClock, other: Scheduler) -> None:
        super().__init__(db, clock)
        self._other = other

    async def interrupted(self, now: datetime) -> list[Job]:
        found = await super().interrupted(now)
        await self._other.tick()
        return found


def another_process(world: World, jobs: SqliteJobRepository | None = None) -> Scheduler:
    db = Database.open(world.path)
    world.others.append(db)
    scheduler = Scheduler(
        jobs or SqliteJobRepository(db, world.clock),
        world.clock,
        SchedulerSettings(timezone=LONDON, grace=timedelta(minutes=15)),
    )
    scheduler.register(JobKind("post", world.recorder.run, world.recorder.trouble))
    return scheduler


async def test_a_lapsed_job_two_processes_find_is_closed_and_told_once(world: World) -> None:
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, world.clock.now(), "lapsed", owner="slack:U1")
    assert world.db is not None
    now = world.clock.now()
    # A process claims it, then stops mid-run; two others find its lease lapsed.
    await SqliteJobRepository(world.db, world.clock).claim_due(now, now + timedelta(minutes=10), 1)
    world.clock.advance(timedelta(minutes=11))
    first = another_process(world)
    second_db = Database.open(world.path)
    world.others.append(second_db)
    second = another_process(world, Overtaken(second_db, world.clock, first))
    await second.tick()
    job = await world.job("lapsed")
    assert job.state is JobState.INTERRUPTED
    assert world.recorder.troubles == [(job.id, JobState.INTERRUPTED)]


async def test_a_run_closed_elsewhere_meanwhile_is_not_tried_again(world: World) -> None:
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, world.clock.now(), "slow", owner="slack:U1")
    world.recorder.block = asyncio.Event()
    world.recorder.fail = 1  # once it goes on, it fails: ordinarily tried again later
    running = asyncio.create_task(s.tick())
    while not world.recorder.runs:
        await asyncio.sleep(0.01)
    world.clock.advance(timedelta(minutes=11))  # its lease lapses while it hangs
    await another_process(world).tick()  # another process records it interrupted
    world.recorder.block.set()
    await running
    job = await world.job("slow")
    assert job.state is JobState.INTERRUPTED
    world.recorder.block = None
    for _ in range(4):
        world.clock.advance(timedelta(minutes=15))
        await s.tick()
    assert len(world.recorder.runs) == 1
    assert world.recorder.troubles == [(job.id, JobState.INTERRUPTED)]


async def test_a_run_done_after_another_process_closed_it_keeps_its_effect_told_once(
    world: World,
) -> None:
    s = world.scheduler
    assert s is not None
    await s.once("post", {}, world.clock.now(), "late-done", owner="slack:U1")
    world.recorder.block = asyncio.Event()
    running = asyncio.create_task(s.tick())
    while not world.recorder.runs:
        await asyncio.sleep(0.01)
    world.clock.advance(timedelta(minutes=11))
    await another_process(world).tick()
    world.recorder.block.set()
    await running
    job = await world.job("late-done")
    assert job.state is JobState.INTERRUPTED  # as its owner was told
    assert world.recorder.troubles == [(job.id, JobState.INTERRUPTED)]
    assert await world.effects() == ["late-done"]  # what it did is recorded all the same


async def test_weekly_schedule_keeps_local_time_across_both_clock_changes(world: World) -> None:
    s = world.scheduler
    assert s is not None
    world.clock.set(datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    await s.repeat(
        "post", {}, "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10;BYMINUTE=0", "slack:U1", "Tuesdays 10:00"
    )
    # Walk the clock hour by hour from mid-March to mid-November, ticking as the loop would.
    while world.clock.now() < datetime(2026, 11, 15, tzinfo=UTC):
        world.clock.advance(timedelta(minutes=30))
        await s.tick()
    ran = [at for _, at in world.recorder.runs]
    assert len(ran) == len(set(ran)) == 35  # every Tuesday from 17 March to 10 November, once
    assert all(at.astimezone(LONDON).hour == 10 and at.minute == 0 for at in ran)
    assert all(at.astimezone(LONDON).weekday() == 1 for at in ran)
    by_date = {at.date().isoformat(): at.hour for at in ran}
    assert by_date["2026-03-24"] == 10  # GMT: 10:00 London is 10:00 UTC
    assert by_date["2026-03-31"] == 9  # BST after the last Sunday of March
    assert by_date["2026-10-20"] == 9
    assert by_date["2026-10-27"] == 10  # GMT again after the last Sunday of October
    assert len(await world.effects()) == 35


def test_a_local_time_skipped_by_the_clock_change_maps_an_hour_later() -> None:
    skipped = datetime(2026, 3, 29, 1, 30)  # does not exist in London
    assert local_to_utc(skipped, LONDON) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_to_utc(skipped, LONDON).astimezone(LONDON).hour == 2
    repeated = datetime(2026, 10, 25, 1, 30)  # happens twice: the first is meant
    assert local_to_utc(repeated, LONDON) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


async def test_a_job_written_by_another_process_is_picked_up_by_the_loop(
    world: World, db_path: Path
) -> None:
    s = world.scheduler
    assert s is not None
    s._settings = SchedulerSettings(timezone=LONDON, poll=timedelta(seconds=0.05))
    loop = asyncio.create_task(s.run_forever())
    try:
        await asyncio.sleep(0.1)  # the loop is idle, with nothing due
        other = Database.open(db_path)  # e.g. the CLI, in its own process
        await SqliteJobRepository(other, world.clock).add(
            Job(0, "post", json.dumps({}), world.clock.now(), "from-cli")
        )
        other.close()
        async with asyncio.timeout(5):
            while not world.recorder.runs:
                await asyncio.sleep(0.02)
    finally:
        loop.cancel()
    assert (await world.job("from-cli")).state in (JobState.RUNNING, JobState.DONE)


async def test_cancelling_a_recurrence_cancels_its_queued_job(world: World) -> None:
    s = world.scheduler
    assert s is not None
    rec = await s.repeat("post", {}, "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "slack:U1", "daily")
    assert await s.cancel(rec.id)
    assert not await s.cancel(rec.id)
    assert await _pending(world) == []
    world.clock.advance(timedelta(days=3))
    await s.tick()
    assert world.recorder.runs == []


async def test_a_paused_recurrence_skips_its_occurrences_until_resumed(world: World) -> None:
    s = world.scheduler
    assert s is not None
    rec = await s.repeat("post", {}, "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "slack:U1", "daily")
    assert await s.pause(rec.id)
    assert not await s.pause(rec.id)  # paused already: nothing changes
    paused = await s.recurrence(rec.id)
    assert paused is not None and paused.paused_at == START
    world.clock.set(START + timedelta(hours=1))  # 09:00, Monday
    for _ in range(3):  # Monday to Wednesday
        await s.tick()
        world.clock.advance(timedelta(days=1))
    assert world.recorder.runs == [] and world.recorder.troubles == []
    states = [j.state for j in await _all_jobs(world)]
    assert states == [JobState.SKIPPED] * 3 + [JobState.PENDING]
    world.stop()  # a restart keeps the pause
    s = world.start()
    await s.tick()  # Thursday
    assert world.recorder.runs == [] and world.recorder.troubles == []
    assert await s.resume(rec.id)
    assert not await s.resume(rec.id)  # running already
    await s.tick()
    assert world.recorder.runs == []  # nothing owed from the pause
    world.clock.advance(timedelta(days=1))
    await s.tick()
    assert len(world.recorder.runs) == 1


@pytest.mark.parametrize(
    ("back", "next_due"),
    [
        (datetime(2026, 3, 2, 9, 5, tzinfo=UTC), datetime(2026, 3, 3, 9, 0, tzinfo=UTC)),
        (datetime(2026, 3, 4, 12, 0, tzinfo=UTC), datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),
    ],
)
async def test_resuming_skips_an_occurrence_that_fell_due_unseen_while_paused(
    world: World, back: datetime, next_due: datetime
) -> None:
    # Paused, then copbot stopped (or not yet looked) when it came due: resumed from the
    # command line before it starts again, that occurrence is not posted late (within
    # the grace period) nor reported missed (beyond it).
    s = world.scheduler
    assert s is not None
    rec = await s.repeat("post", {}, "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "slack:U1", "daily")
    assert await s.pause(rec.id)
    world.stop()
    world.clock.set(back)  # five minutes after Monday's 09:00, or two days
    s = world.start()
    assert await s.resume(rec.id)
    resumed = await s.recurrence(rec.id)
    assert resumed is not None and resumed.next_at == next_due
    await s.tick()
    assert world.recorder.runs == [] and world.recorder.troubles == []
    [pending] = await _pending(world)
    assert pending.due_at == next_due
    world.clock.set(next_due)
    await s.tick()
    assert len(world.recorder.runs) == 1


async def test_only_an_active_recurrence_can_be_paused(world: World) -> None:
    s = world.scheduler
    assert s is not None
    rec = await s.repeat("post", {}, "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "slack:U1", "daily")
    assert await s.cancel(rec.id)
    assert not await s.pause(rec.id)
    assert not await s.pause(9999)
    assert not await s.resume(rec.id)


async def test_unreadable_rules_are_refused(world: World) -> None:
    s = world.scheduler
    assert s is not None
    with pytest.raises(ValueError, match="can't be read"):
        await s.repeat("post", {}, "FREQ=SOMETIMES", "x:y", "bad")
    with pytest.raises(ValueError, match="never comes round"):
        await s.repeat("post", {}, "FREQ=DAILY;UNTIL=20200101T000000", "x:y", "past")


async def _all_jobs(world: World) -> list[Job]:
    assert world.db is not None
    return await SqliteJobRepository(world.db, world.clock).jobs()


async def _pending(world: World) -> list[Job]:
    assert world.db is not None
    return await SqliteJobRepository(world.db, world.clock).jobs(states=[JobState.PENDING])
