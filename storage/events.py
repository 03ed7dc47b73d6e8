"""Regional events, their answers and the ledger of their announcements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from bot.clock import from_text, to_text
from bot.events import (
    RECENT,
    Announcement,
    Answer,
    Answered,
    AnswersTaken,
    LedgerState,
    Rsvp,
    Saved,
)
from bot.model import ChannelRef
from bot.ports import Clock, WriteOp
from bot.records import Event, EventStatus
from storage.database import Database

_COLUMNS = (
    "id, title, region, starts_at, duration_minutes, timezone, created_at, updated_at,"
    " location, description, capacity, topic, organiser, status, sequence"
)


class SqliteEventRepository:
    """Events in SQLite. Also the calendar's ``EventSource`` (its two methods are async)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, event: Event) -> Event:
        def op(db: sqlite_utils.Database) -> int:
            cursor = db.execute(
                "insert into events (title, region, starts_at, duration_minutes, timezone,"
                " created_at, updated_at, location, description, capacity, topic, organiser,"
                " status, sequence) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _values(event)[1:],
            )
            return int(cursor.lastrowid or 0)

        event_id = await self._db.write(op, durable=True)
        found = await self.event(event_id)
        assert found is not None
        return found

    async def save(self, event: Event) -> Saved:
        now = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> Saved:
            # Read in the write: an answer can't land between the readings and the change.
            was = _event_in(db, event.id)
            db.execute(
                "update events set title = ?, region = ?, starts_at = ?, duration_minutes = ?,"
                " timezone = ?, location = ?, description = ?, capacity = ?, topic = ?,"
                " status = ?, sequence = sequence + 1, updated_at = ? where id = ?",
                [
                    event.title,
                    event.region,
                    to_text(event.starts_at),
                    _minutes(event.duration),
                    event.timezone,
                    event.location,
                    event.description,
                    event.capacity,
                    event.topic,
                    event.status.value,
                    now,
                    event.id,
                ],
            )
            return Saved(was, _event_in(db, event.id), _rsvps(db, event.id))

        return await self._db.write(op, durable=True)

    async def event(self, event_id: int) -> Event | None:
        def op(db: sqlite_utils.Database) -> Event | None:
            row = db.execute(f"select {_COLUMNS} from events where id = ?", [event_id]).fetchone()
            return _event(row) if row else None

        return await self._db.read(op)

    async def upcoming_and_recent(self, region: str | None) -> Sequence[Event]:
        # Compared as text: to_text's fixed-width UTC format sorts as time does. An event
        # ended 30 days ago started at most a day (the longest event) before that.
        since = to_text(self._clock.now() - RECENT - timedelta(days=1))
        events = await self._select("starts_at >= ?", [since], region)
        cutoff = self._clock.now() - RECENT
        return [e for e in events if e.ends_at >= cutoff]

    async def upcoming(self, region: str | None, now: datetime) -> Sequence[Event]:
        events = await self._select(
            "starts_at >= ? and status = 'scheduled'",
            [to_text(now - timedelta(days=1))],
            region,
        )
        return [e for e in events if e.ends_at > now]

    async def _select(self, where: str, params: list[Any], region: str | None) -> list[Event]:
        if region is not None:
            where += " and region = ?"
            params = [*params, region.lower()]

        def op(db: sqlite_utils.Database) -> list[Event]:
            rows = db.execute(
                f"select {_COLUMNS} from events where {where} order by starts_at, id", params
            ).fetchall()
            return [_event(r) for r in rows]

        return await self._db.read(op)

    # -- answers ------------------------------------------------------------------------

    async def answer(self, event_id: int, person: str, answer: Answer) -> Answered:
        now = self._clock.now()
        at = to_text(now)

        def op(db: sqlite_utils.Database) -> Answered:
            # Read in the write: another press's answer, or a cancellation, can't land
            # between these reads and the answer.
            row = db.execute(f"select {_COLUMNS} from events where id = ?", [event_id]).fetchone()
            if row is None:
                return Answered(None, (), (), None, taken=False)
            event = _event(row)
            capacity = event.capacity
            before = _rsvps(db, event_id)
            if event.cancelled or event.ends_at <= now:
                return Answered(capacity, before, before, event, taken=False)
            if any(r.person == person and r.answer is answer for r in before):
                return Answered(capacity, before, before, event)  # the same again keeps its place
            (seq,) = db.execute(
                "select coalesce(max(seq), 0) + 1 from event_rsvps where event_id = ?",
                [event_id],
            ).fetchone()
            db.execute(
                "insert into event_rsvps (event_id, person, answer, seq, answered_at)"
                " values (?, ?, ?, ?, ?) on conflict (event_id, person) do update set"
                " answer = excluded.answer, seq = excluded.seq, answered_at = excluded.answered_at",
                [event_id, person, answer.value, seq, at],
            )
            return Answered(capacity, before, _rsvps(db, event_id), event)

        return await self._db.write(op, durable=True)

    async def rsvps(self, event_id: int) -> Sequence[Rsvp]:
        return await self._db.read(lambda db: list(_rsvps(db, event_id)))

    # -- the announcement ledger --------------------------------------------------------

    async def begin_announcement(self, event_id: int, channel: ChannelRef) -> LedgerState | None:
        at = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> LedgerState | None:
            row = db.execute(
                "select state from event_announcements where event_id = ? and platform = ?"
                " and workspace = ? and channel_id = ?",
                [event_id, channel.platform, channel.workspace, channel.id],
            ).fetchone()
            if row is not None:
                return LedgerState(row[0])
            db.execute(
                "insert into event_announcements (event_id, platform, workspace, channel_id,"
                " channel_name, state, updated_at) values (?, ?, ?, ?, ?, 'posting', ?)",
                [event_id, channel.platform, channel.workspace, channel.id, channel.name, at],
            )
            return None

        # Durable: the row must outlive a power cut that the post itself may survive.
        return await self._db.write(op, durable=True)

    async def settle_announcement(
        self, event_id: int, channel: ChannelRef, state: LedgerState, message_id: str = ""
    ) -> None:
        at = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> None:
            db.execute(
                "update event_announcements set state = ?, message_id = ?, updated_at = ?"
                " where event_id = ? and platform = ? and workspace = ? and channel_id = ?",
                [state.value, message_id, at, event_id, *_where(channel)],
            )

        await self._db.write(op, durable=True)

    async def announcements(self, event_id: int) -> Sequence[Announcement]:
        def op(db: sqlite_utils.Database) -> list[Announcement]:
            rows = db.execute(
                "select platform, workspace, channel_id, channel_name, state, message_id"
                " from event_announcements where event_id = ? order by platform, channel_name",
                [event_id],
            ).fetchall()
            return [
                Announcement(event_id, ChannelRef(p, c, w, n), LedgerState(s), m)
                for p, w, c, n, s, m in rows
            ]

        return await self._db.read(op)

    async def forget_announcement(self, event_id: int, channel: ChannelRef) -> None:
        """The post failed before reaching the platform: the next attempt may post."""

        def op(db: sqlite_utils.Database) -> None:
            db.execute(
                "delete from event_announcements where event_id = ? and platform = ?"
                " and workspace = ? and channel_id = ? and state = 'posting'",
                [event_id, *_where(channel)],
            )

        await self._db.write(op, durable=True)

    def mark_announced(self, event_id: int) -> WriteOp:
        """A write to commit with the announcing job's completion."""
        at = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> None:
            db.execute("update events set announced_at = ? where id = ?", [at, event_id])

        return op

    async def record_announced(self, event_id: int) -> None:
        await self._db.write(self.mark_announced(event_id))

    async def unannounced(self) -> Sequence[Event]:
        """Events still to come whose announcing never finished (copbot stopped)."""
        return await self._select(
            "announced_at is null and status = 'scheduled' and starts_at >= ?",
            [to_text(self._clock.now())],
            None,
        )

    # -- feedback and erasure -----------------------------------------------------------

    async def set_feedback_round(self, event_id: int, round_id: int) -> None:
        await self._db.execute(
            "update events set feedback_round = ? where id = ?", [round_id, event_id]
        )

    def feedback_linking(self, event_id: int) -> Callable[[int], WriteOp]:
        def linking(round_id: int) -> WriteOp:
            def write(db: sqlite_utils.Database) -> None:
                db.execute(
                    "update events set feedback_round = ? where id = ?", [round_id, event_id]
                )

            return write

        return linking

    async def feedback_round(self, event_id: int) -> int | None:
        def op(db: sqlite_utils.Database) -> int | None:
            row = db.execute(
                "select feedback_round from events where id = ?", [event_id]
            ).fetchone()
            return int(row[0]) if row and row[0] is not None else None

        return await self._db.read(op)

    async def event_of_round(self, round_id: int) -> int | None:
        def op(db: sqlite_utils.Database) -> int | None:
            row = db.execute(
                "select id from events where feedback_round = ?", [round_id]
            ).fetchone()
            return int(row[0]) if row else None

        return await self._db.read(op)

    async def forget_person(self, identity: str) -> tuple[int, list[AnswersTaken]]:
        def op(db: sqlite_utils.Database) -> tuple[int, list[AnswersTaken]]:
            taken = []
            for event_id, capacity in db.execute(
                "select id, capacity from events where id in"
                " (select event_id from event_rsvps where person = ?) order by id",
                [identity],
            ).fetchall():
                rows = db.execute(
                    "select person, answer, seq from event_rsvps where event_id = ? order by seq",
                    [event_id],
                ).fetchall()
                rsvps = tuple(Rsvp(event_id, p, Answer(a), s) for p, a, s in rows)
                taken.append(AnswersTaken(event_id, capacity, rsvps))
            n = db.execute("delete from event_rsvps where person = ?", [identity]).rowcount
            n += db.execute(
                "update events set organiser = '' where organiser = ?", [identity]
            ).rowcount
            return n, taken

        return await self._db.write(op)


def _rsvps(db: sqlite_utils.Database, event_id: int) -> tuple[Rsvp, ...]:
    rows = db.execute(
        "select person, answer, seq from event_rsvps where event_id = ? order by seq",
        [event_id],
    ).fetchall()
    return tuple(Rsvp(event_id, p, Answer(a), s) for p, a, s in rows)


def _event_in(db: sqlite_utils.Database, event_id: int) -> Event:
    row = db.execute(f"select {_COLUMNS} from events where id = ?", [event_id]).fetchone()
    assert row is not None, "events are never deleted"
    return _event(row)


def _where(channel: ChannelRef) -> list[str]:
    return [channel.platform, channel.workspace, channel.id]


def _minutes(duration: timedelta) -> int:
    return int(duration.total_seconds() // 60)


def _values(event: Event) -> list[Any]:
    return [
        event.id,
        event.title,
        event.region,
        to_text(event.starts_at),
        _minutes(event.duration),
        event.timezone,
        to_text(event.created_at),
        to_text(event.updated_at),
        event.location,
        event.description,
        event.capacity,
        event.topic,
        event.organiser,
        event.status.value,
        event.sequence,
    ]


def _event(row: tuple[Any, ...]) -> Event:
    (ident, title, region, starts, minutes, tz, created, updated) = row[:8]
    location, description, capacity, topic, organiser, status, sequence = row[8:]
    return Event(
        id=ident,
        title=title,
        region=region,
        starts_at=from_text(starts),
        duration=timedelta(minutes=minutes),
        timezone=tz,
        created_at=from_text(created),
        updated_at=from_text(updated),
        location=location,
        description=description,
        capacity=capacity,
        topic=topic,
        organiser=organiser,
        status=EventStatus(status),
        sequence=sequence,
    )
