from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.clock import from_text, to_text
from bot.ports import Clock, WriteOp
from bot.records import PAUSED, Job, JobState, Recurrence
from storage.database import Database

_JOB = "id, kind, payload, due_at, key, state, attempts, owner, schedule_id, last_error"
_REC = "id, kind, payload, rule, timezone, starts, owner, description, active, next_at, paused_at"
UNTRACED_IDS = 2**61  # untraced jobs' ids are drawn from [2**61, 2**62)
# The run a caller claimed (or found lapsed) is still the job's: not closed, nor claimed
# again, by another process meanwhile.
_STILL_HELD = "id = ? and state = 'running' and attempts = ?"


class SqliteJobRepository:
    """Scheduled jobs and the recurrences that queue them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, job: Job, *, untraced: bool = False) -> Job | None:
        if not untraced:
            now = to_text(self._clock.now())
            return await self._db.write(lambda db: _insert_job(db, job, now))
        # Ids count up as jobs are queued, and so do creation times: either would line an
        # anonymous reply up with the moment it was sent.
        return await self._db.write(
            lambda db: _insert_job(db, job, to_text(job.due_at), ident=_random_id(db))
        )

    async def add_recurrence(self, recurrence: Recurrence, first: Job) -> Recurrence:
        now = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> Recurrence:
            r = recurrence
            cur = db.execute(
                "insert into recurrences (kind, payload, rule, timezone, starts, owner,"
                " description, active, next_at, created_at) values (?,?,?,?,?,?,?,?,?,?)",
                [
                    r.kind,
                    r.payload,
                    r.rule,
                    r.timezone,
                    r.starts.isoformat(),
                    r.owner,
                    r.description,
                    int(r.active),
                    to_text(first.due_at),
                    now,
                ],
            )
            rid = int(cur.lastrowid or 0)
            key = first.key.replace("{recurrence_id}", str(rid))
            _insert_job(db, _with(first, schedule_id=rid, key=key), now)
            return _recurrence(
                db.execute(f"select {_REC} from recurrences where id = ?", [rid]).fetchone()
            )

        return await self._db.write(op)

    async def get(self, job_id: int) -> Job | None:
        return await self._db.read(lambda db: _one_job(db, "id = ?", job_id))

    async def find_by_key(self, key: str) -> Job | None:
        return await self._db.read(lambda db: _one_job(db, "key = ?", key))

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Job]:
        def op(db: sqlite_utils.Database) -> list[Job]:
            rows = db.execute(
                f"select {_JOB} from jobs where state = 'pending' and due_at <= ?"
                " order by due_at, id limit ?",
                [to_text(now), limit],
            ).fetchall()
            jobs = [_job(r) for r in rows]
            for job in jobs:
                db.execute(
                    "update jobs set state = 'running', attempts = attempts + 1,"
                    " lease_until = ? where id = ?",
                    [to_text(lease_until), job.id],
                )
            return [_with(j, state=JobState.RUNNING, attempts=j.attempts + 1) for j in jobs]

        return await self._db.write(op)

    async def interrupted(self, now: datetime) -> list[Job]:
        def op(db: sqlite_utils.Database) -> list[Job]:
            rows = db.execute(
                f"select {_JOB} from jobs where state = 'running' and lease_until < ?",
                [to_text(now)],
            ).fetchall()
            return [_job(r) for r in rows]

        return await self._db.read(op)

    async def finish(
        self,
        job: Job,
        state: JobState,
        error: str = "",
        *,
        also: Sequence[WriteOp] = (),
        then: Job | None = None,
    ) -> bool:
        now = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> bool:
            closed = db.execute(
                "update jobs set state = ?, last_error = ?, finished_at = ?, lease_until = null"
                f" where {_STILL_HELD}",
                [state.value, error, now, job.id, job.attempts],
            ).rowcount
            if not closed and state is not JobState.DONE:
                return False  # another process closed it first: its closing stands
            # Done here though closed elsewhere (its lease lapsed meanwhile): what it did
            # happened, so its bookkeeping is kept; the closer queued its successor.
            for write in also:
                write(db)
            if closed and then is not None:
                _insert_job(db, then, now)
                if then.schedule_id is not None:
                    db.execute(
                        "update recurrences set next_at = ? where id = ?",
                        [to_text(then.due_at), then.schedule_id],
                    )
            return bool(closed)

        return await self._db.write(op)

    async def retry(self, job: Job, due_at: datetime, error: str) -> None:
        # Only a run still held: one another process has closed meanwhile stays closed.
        await self._db.execute(
            "update jobs set state = 'pending', due_at = ?, last_error = ?, lease_until = null"
            f" where {_STILL_HELD}",
            [to_text(due_at), error, job.id, job.attempts],
        )

    async def next_due(self) -> datetime | None:
        def op(db: sqlite_utils.Database) -> datetime | None:
            row = db.execute("select min(due_at) from jobs where state = 'pending'").fetchone()
            return from_text(row[0]) if row and row[0] else None

        return await self._db.read(op)

    async def recurrence(self, recurrence_id: int) -> Recurrence | None:
        def op(db: sqlite_utils.Database) -> Recurrence | None:
            row = db.execute(
                f"select {_REC} from recurrences where id = ?", [recurrence_id]
            ).fetchone()
            return _recurrence(row) if row else None

        return await self._db.read(op)

    async def recurrences(self, kind: str | None = None, active: bool = True) -> list[Recurrence]:
        def op(db: sqlite_utils.Database) -> list[Recurrence]:
            sql = f"select {_REC} from recurrences where active = ?"
            params: list[Any] = [int(active)]
            if kind is not None:
                sql += " and kind = ?"
                params.append(kind)
            return [_recurrence(r) for r in db.execute(sql + " order by id", params).fetchall()]

        return await self._db.read(op)

    async def forget_owner(self, identity: str) -> int:
        """Schedules outlive the person who made them; whom to tell of trouble goes."""

        def op(db: sqlite_utils.Database) -> int:
            # Counted as the erasure reports them: a schedule once, not once for each time
            # it came due; a job of no schedule (an event's announcement) on its own.
            single = db.execute(
                "update jobs set owner = '' where owner = ? and schedule_id is null", [identity]
            ).rowcount
            db.execute("update jobs set owner = '' where owner = ?", [identity])
            recurrences = db.execute(
                "update recurrences set owner = '' where owner = ?", [identity]
            ).rowcount
            return int(single + recurrences)

        return await self._db.write(op)

    async def cancel_recurrence(self, recurrence_id: int) -> bool:
        now = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> bool:
            cur = db.execute(
                "update recurrences set active = 0, next_at = null where id = ? and active = 1",
                [recurrence_id],
            )
            if not cur.rowcount:
                return False
            db.execute(
                "update jobs set state = ?, finished_at = ?"
                " where schedule_id = ? and state = 'pending'",
                [JobState.CANCELLED.value, now, recurrence_id],
            )
            return True

        return await self._db.write(op)

    async def pause_recurrence(self, recurrence_id: int) -> bool:
        """Pause an active schedule that isn't paused; False when there's none such."""
        return await self._set_paused(recurrence_id, to_text(self._clock.now()))

    async def resume_recurrence(self, recurrence_id: int, then: Job | None) -> bool:
        """Resume a paused active schedule; False when there's none such. An occurrence
        still queued though its time has passed (nothing ran while it was paused: copbot
        was stopped) is skipped as the pause would have, and ``then`` queued instead."""
        now = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> bool:
            resumed = db.execute(
                "update recurrences set paused_at = null"
                " where id = ? and active = 1 and paused_at is not null",
                [recurrence_id],
            ).rowcount
            if not resumed:
                return False
            db.execute(
                "update jobs set state = ?, last_error = ?, finished_at = ?"
                " where schedule_id = ? and state = 'pending' and due_at <= ?",
                [JobState.SKIPPED.value, PAUSED, now, recurrence_id, now],
            )
            queued = db.execute(
                "select 1 from jobs where schedule_id = ? and state in ('pending', 'running')",
                [recurrence_id],
            ).fetchone()
            if queued is None:
                next_at = None
                if then is not None and _insert_job(db, then, now) is not None:
                    next_at = to_text(then.due_at)
                db.execute(
                    "update recurrences set next_at = ? where id = ?", [next_at, recurrence_id]
                )
            return True

        return await self._db.write(op)

    async def _set_paused(self, recurrence_id: int, paused_at: str) -> bool:
        # Only a change counts: pausing a paused schedule is refused, so the person hears
        # it was already so.
        changed = await self._db.execute(
            "update recurrences set paused_at = ?"
            " where id = ? and active = 1 and paused_at is null",
            [paused_at, recurrence_id],
        )
        return changed > 0

    async def jobs(self, *, states: Sequence[JobState] = (), limit: int = 100) -> list[Job]:
        def op(db: sqlite_utils.Database) -> list[Job]:
            sql = f"select {_JOB} from jobs"
            params: list[Any] = []
            if states:
                sql += f" where state in ({','.join('?' * len(states))})"
                params.extend(s.value for s in states)
            rows = db.execute(sql + " order by due_at, id limit ?", [*params, limit]).fetchall()
            return [_job(r) for r in rows]

        return await self._db.read(op)


def _random_id(db: sqlite_utils.Database) -> int:
    """An unused job id, drawn at random from far above the ids that count up."""
    while True:
        ident = UNTRACED_IDS + secrets.randbelow(UNTRACED_IDS)
        if db.execute("select 1 from jobs where id = ?", [ident]).fetchone() is None:
            return ident


def _insert_job(
    db: sqlite_utils.Database, job: Job, now: str, ident: int | None = None
) -> Job | None:
    cur = db.execute(
        "insert or ignore into jobs (id, kind, payload, due_at, key, state, attempts, owner,"
        " schedule_id, created_at) values (?,?,?,?,?,?,?,?,?,?)",
        [
            ident,
            job.kind,
            job.payload,
            to_text(job.due_at),
            job.key,
            job.state.value,
            job.attempts,
            job.owner,
            job.schedule_id,
            now,
        ],
    )
    if not cur.rowcount:
        return None
    return _with(job, id=int(cur.lastrowid or 0))


def _one_job(db: sqlite_utils.Database, where: str, value: object) -> Job | None:
    row = db.execute(f"select {_JOB} from jobs where {where}", [value]).fetchone()
    return _job(row) if row else None


def _job(row: tuple[Any, ...]) -> Job:
    ident, kind, payload, due_at, key, state, attempts, owner, schedule_id, error = row
    return Job(
        ident,
        kind,
        payload,
        from_text(due_at),
        key,
        JobState(state),
        attempts,
        owner,
        schedule_id,
        error,
    )


def _recurrence(row: tuple[Any, ...]) -> Recurrence:
    ident, kind, payload, rule, tz, starts, owner, description, active, next_at, paused = row
    return Recurrence(
        ident,
        kind,
        payload,
        rule,
        tz,
        datetime.fromisoformat(starts),
        owner,
        description,
        bool(active),
        from_text(next_at) if next_at else None,
        from_text(paused) if paused else None,
    )


def _with(job: Job, **changes: Any) -> Job:
    return replace(job, **changes)
