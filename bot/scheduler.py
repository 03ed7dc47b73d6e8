"""Persistent jobs, run on time, at most once.

A job is a row with a due time, a kind, a payload and an idempotency key (unique: queueing
the same key twice queues one job). The loop claims due jobs (marking them running, with
a lease), runs the handler for their kind, and closes them together with the handler's
own bookkeeping in one transaction. So:

- after a restart, jobs that came due meanwhile run, unless they are more than the grace
  period late: those are recorded as missed and their owner is told, not posted stale;
- a job whose process died mid-run is found by its lapsed lease and recorded as
  interrupted (owner told) rather than run again, because its effect may have happened;
  so is one that ran out of time part way;
- a failing job is retried with backoff, then recorded as failed and its owner told.

Recurrences are RFC 5545 rules (python-dateutil's rrule) over naive local times in a named
time zone, so "Tuesdays at 10:00" stays 10:00 local on both sides of a clock change. Each
occurrence is one job, keyed by recurrence and local time; the next is queued in the same
transaction that closes the current one.

A recurrence can be paused. Its occurrences still come round as jobs, but each is closed
as skipped when it comes due (nobody is told: the pause was asked for), and the next is
queued as usual. Resuming skips, too, an occurrence that came due during the pause
unseen (copbot stopped meanwhile) and queues the next time due instead, so nothing
missed during the pause is posted late or reported missed. The pause is a column of the
recurrence, so it holds across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from bot.errors import WordedError
from bot.logs import stack_only
from bot.ports import Clock, DeliveryError, JobRepository, OutcomeUnknown, WriteOp
from bot.records import PAUSED, Job, JobState, Recurrence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerSettings:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    grace: timedelta = timedelta(minutes=15)
    poll: timedelta = timedelta(seconds=20)  # how soon jobs from another process are seen
    lease: timedelta = timedelta(minutes=10)
    backoff: tuple[timedelta, ...] = (
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
    )

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1


@dataclass(frozen=True)
class Outcome:
    """What a job did, for the record: writes to commit with the job's completion."""

    also: tuple[WriteOp, ...] = ()
    # Once the job is closed, best effort (telling someone what it did): a failure here is
    # logged, never retried, since retrying the job would repeat its effect.
    then: Callable[[], Awaitable[None]] | None = None


Trouble = Callable[[Job, JobState], Awaitable[None]]
# The error of a job found running after its lease lapsed: its process stopped mid-run.
STOPPED = "copbot stopped while this job ran"
TIMED_OUT = "the job ran out of time part way"


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Callable[[Job], Awaitable[Outcome | None]]
    # Told when a job of this kind is missed, fails for good, or is interrupted. The job's
    # last_error is then worded for people, or "" where it was not (it may quote anyone).
    on_trouble: Trouble | None = None
    # A job whose moment matters (a prompt) is missed when late; housekeeping runs late.
    run_late: bool = False
    # A job whose row must not outlive it, however it ends (an anonymous reply: its words,
    # id and queueing time would line it up with a submission): deleted in the same
    # transaction that closes it, failed or interrupted as well as done.
    forget: Callable[[int], WriteOp] | None = None
    # A job whose one effect must not happen twice (a post): cut off part way, it may
    # have happened, so it is recorded as interrupted, not tried again. Others (an
    # announcement that keeps a ledger of where it posted, housekeeping) are retried.
    at_most_once: bool = False


class JobError(WordedError):
    """A job cannot run as asked and retrying will not help (e.g. its channel is gone)."""


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive local time in ``tz`` as UTC. A time skipped by a clock change (01:30 on the
    spring-forward Sunday) maps to the moment an hour later; a repeated one to its first."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def next_occurrence(rule: str, starts: datetime, after_local: datetime) -> datetime | None:
    """The first occurrence of ``rule`` (counted from naive local ``starts``) after the
    naive local time ``after_local``."""
    recurrence = rrulestr(rule, dtstart=starts)
    nxt: datetime | None = recurrence.after(after_local, inc=False)
    return nxt


def occurrence_key(recurrence_id: int | str, local: datetime) -> str:
    """One job per recurrence and local time: queueing an occurrence twice queues it once."""
    return f"recurrence:{recurrence_id}@{local.isoformat(timespec='minutes')}"


def _occurrence_of(key: str) -> datetime:
    return datetime.fromisoformat(key.partition("@")[2])


def first_due(job: Job, tz: ZoneInfo) -> datetime:
    """When ``job`` was first due: a retry moves its due time, not its occurrence's."""
    if job.schedule_id is None or "@" not in job.key:
        return job.due_at
    return local_to_utc(_occurrence_of(job.key), tz)


class Scheduler:
    def __init__(self, jobs: JobRepository, clock: Clock, settings: SchedulerSettings) -> None:
        self._jobs = jobs
        self._clock = clock
        self._settings = settings
        self._kinds: dict[str, JobKind] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._idle = asyncio.Event()  # no tick under way
        self._idle.set()

    @property
    def timezone(self) -> ZoneInfo:
        return self._settings.timezone

    def register(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind '{kind.name}' is registered twice")
        self._kinds[kind.name] = kind

    # -- queueing --------------------------------------------------------------

    async def once(
        self, kind: str, payload: dict[str, Any], due_at: datetime, key: str, owner: str = ""
    ) -> Job | None:
        """Queue a one-off job; None when a job with this key exists already."""
        # A job that must not outlive its run leaves no trace of when it was queued either.
        untraced = (found := self._kinds.get(kind)) is not None and found.forget is not None
        job = await self._jobs.add(
            Job(0, kind, _dump(payload), due_at, key, owner=owner), untraced=untraced
        )
        self._wake.set()
        return job

    async def find(self, key: str) -> Job | None:
        """The job queued under ``key``, whatever its state; None if there's none."""
        return await self._jobs.find_by_key(key)

    async def repeat(
        self,
        kind: str,
        payload: dict[str, Any],
        rule: str,
        owner: str,
        description: str,
        starts: datetime | None = None,
    ) -> Recurrence:
        """Queue a recurrence; its first occurrence after now becomes a job at once.

        Raises ValueError when the rule is unreadable or never occurs.
        """
        tz = self._settings.timezone
        now_local = self._clock.now().astimezone(tz).replace(tzinfo=None, microsecond=0)
        starts = starts or now_local.replace(second=0)
        try:
            first = next_occurrence(rule, starts, now_local)
        except (ValueError, TypeError) as e:
            raise ValueError(f"the recurrence rule can't be read ({e})") from None
        if first is None:
            raise ValueError("the recurrence rule never comes round again")
        recurrence = Recurrence(0, kind, _dump(payload), rule, tz.key, starts, owner, description)
        key = occurrence_key("{recurrence_id}", first)
        job = Job(0, kind, recurrence.payload, local_to_utc(first, tz), key, owner=owner)
        stored = await self._jobs.add_recurrence(recurrence, job)
        self._wake.set()
        return stored

    async def cancel(self, recurrence_id: int) -> bool:
        return await self._jobs.cancel_recurrence(recurrence_id)

    async def pause(self, recurrence_id: int) -> bool:
        """Skip the recurrence's occurrences until resumed; False unless it was running."""
        return await self._jobs.pause_recurrence(recurrence_id)

    async def resume(self, recurrence_id: int) -> bool:
        """Carry on from the next occurrence due after now; False unless it was paused.

        An occurrence that came due during the pause is skipped, even one no tick saw
        (copbot stopped meanwhile, the schedule resumed from the command line): run when
        copbot looked again, it would be posted late or reported missed.
        """
        recurrence = await self._jobs.recurrence(recurrence_id)
        if recurrence is None:
            return False
        tz = ZoneInfo(recurrence.timezone)
        now_local = self._clock.now().astimezone(tz).replace(tzinfo=None)
        nxt = next_occurrence(recurrence.rule, recurrence.starts, now_local)
        then = None if nxt is None else _occurrence(recurrence, nxt, tz)
        resumed = await self._jobs.resume_recurrence(recurrence_id, then)
        self._wake.set()
        return resumed

    async def recurrences(self, kind: str) -> list[Recurrence]:
        return await self._jobs.recurrences(kind)

    async def recurrence(self, recurrence_id: int) -> Recurrence | None:
        return await self._jobs.recurrence(recurrence_id)

    # -- running ---------------------------------------------------------------

    async def finish_running(self, within: float) -> None:
        """As copbot stops: claim no more jobs (those due stay pending for the restart), and
        give the one running up to ``within`` seconds to end, so that a post under way is
        neither cut off nor left in doubt, its owner told ten minutes later it may have gone."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._idle.wait()

    async def tick(self) -> int:
        """Run everything that is due now; return how many jobs were closed."""
        if self._stopping:
            return 0
        self._idle.clear()
        try:
            return await self._tick()
        finally:
            self._idle.set()

    async def _tick(self) -> int:
        now = self._clock.now()
        closed = 0
        for job in await self._jobs.interrupted(now):
            await self._close(job, JobState.INTERRUPTED, STOPPED)
            closed += 1
        # One job claimed at a time: a process killed mid-way leaves at most one job in
        # doubt (recorded as interrupted, not run again); the rest stay pending and run
        # after the restart, so a schedule due in many channels posts in each once.
        while not self._stopping and (
            due := await self._jobs.claim_due(now, now + self._settings.lease, limit=1)
        ):
            for job in due:
                await self._run(job, now)
                closed += 1
        return closed

    async def _run(self, job: Job, now: datetime) -> None:
        kind = self._kinds.get(job.kind)
        if kind is None:
            await self._close(job, JobState.FAILED, f"no handler for jobs of kind {job.kind}")
            return
        if job.schedule_id is not None:
            recurrence = await self._jobs.recurrence(job.schedule_id)
            if recurrence is not None and recurrence.paused:
                await self._close(job, JobState.SKIPPED, PAUSED)
                return
        late = now - job.due_at
        if late > self._settings.grace and not kind.run_late:
            await self._close(job, JobState.MISSED, f"{_minutes(late)} late; not run stale")
            return
        try:
            async with asyncio.timeout(self._settings.lease.total_seconds() / 2):
                outcome = await kind.run(job)
        except (JobError, DeliveryError) as e:
            await self._close(job, JobState.FAILED, str(e))
        except OutcomeUnknown as e:
            # At most once: a job that may have had its effect is not tried again.
            await self._close(job, JobState.INTERRUPTED, str(e)[:300], told="")
        except TimeoutError as e:
            if kind.at_most_once:
                # Stopped by the guard part way: its post may have gone out.
                await self._close(job, JobState.INTERRUPTED, TIMED_OUT, told="")
            else:
                await self._attempt_failed(job, now, e)
        except Exception as e:
            await self._attempt_failed(job, now, e)
        else:
            await self._close(job, JobState.DONE, also=outcome.also if outcome else ())
            if outcome is not None and outcome.then is not None:
                try:
                    async with asyncio.timeout(self._settings.lease.total_seconds() / 2):
                        await outcome.then()
                except Exception:
                    log.warning("job %s (%s) done; what follows it failed", job.id, job.kind)

    async def _attempt_failed(self, job: Job, now: datetime, e: Exception) -> None:
        """Tried again with backoff, or, after the last attempt, failed for good."""
        # Words copbot wrote are kept; any other error's message may quote what someone
        # wrote (a reply's words, a name), so only its type and where it happened.
        if isinstance(e, WordedError):
            error = f"{type(e).__name__}: {e}"[:300]
            log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempts, error)
        else:
            error = type(e).__name__
            log.warning(
                "job %s (%s) attempt %s failed: %s",
                job.id,
                job.kind,
                job.attempts,
                stack_only(e),
            )
        if job.attempts >= self._settings.max_attempts:
            await self._close(job, JobState.FAILED, error, told="")
        else:
            delay = self._settings.backoff[job.attempts - 1]
            await self._jobs.retry(job, now + delay, error)

    async def _close(
        self,
        job: Job,
        state: JobState,
        error: str = "",
        also: Sequence[WriteOp] = (),
        told: str | None = None,
    ) -> None:
        """``told``: the error as the kind's on_trouble may repeat it, if not ``error``."""
        then = await self._successor(job, state)
        kind = self._kinds.get(job.kind)
        if kind is not None and kind.forget is not None:
            also = (*also, kind.forget(job.id))
        if not await self._jobs.finish(job, state, error, also=also, then=then):
            # Another process closed it first (found its lease lapsed): told once, by it.
            log.info("job %s (%s) was closed elsewhere first", job.id, job.kind)
            return
        if state in (JobState.MISSED, JobState.FAILED, JobState.INTERRUPTED):
            log.info("job %s (%s) %s: %s", job.id, job.kind, state.value, error)
            if kind and kind.on_trouble:
                try:
                    said = error if told is None else told
                    await kind.on_trouble(replace(job, state=state, last_error=said), state)
                except Exception:
                    log.exception("telling the owner of job %s about it failed", job.id)

    async def _successor(self, job: Job, state: JobState) -> Job | None:
        if job.schedule_id is None:
            return None
        recurrence = await self._jobs.recurrence(job.schedule_id)
        if recurrence is None or not recurrence.active:
            return None
        tz = ZoneInfo(recurrence.timezone)
        after = _occurrence_of(job.key)
        if state in (JobState.MISSED, JobState.SKIPPED):
            # Back after a long stop (or paused through one): carry on from now, not
            # through every occurrence missed meanwhile (the owner hears once, if at all).
            after = max(after, self._clock.now().astimezone(tz).replace(tzinfo=None))
        nxt = next_occurrence(recurrence.rule, recurrence.starts, after)
        return None if nxt is None else _occurrence(recurrence, nxt, tz)

    async def run_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
                delay = await self._delay()
            except Exception:
                log.exception("the scheduler loop hit an error; retrying shortly")
                delay = 5.0
            with contextlib.suppress(TimeoutError):  # not wait_for: see Inbox.run_forever
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _delay(self) -> float:
        poll = self._settings.poll.total_seconds()
        due = await self._jobs.next_due()
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self._clock.now()).total_seconds()))


def _occurrence(recurrence: Recurrence, local: datetime, tz: ZoneInfo) -> Job:
    """The job for ``recurrence``'s occurrence at naive local time ``local``."""
    return Job(
        0,
        recurrence.kind,
        recurrence.payload,
        local_to_utc(local, tz),
        occurrence_key(recurrence.id, local),
        owner=recurrence.owner,
        schedule_id=recurrence.id,
    )


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
