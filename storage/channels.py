from __future__ import annotations

import sqlite_utils

from bot.clock import to_text
from bot.model import Channel, ChannelKind, ChannelRef
from bot.ports import Clock
from storage.database import Database

_COLUMNS = "platform, workspace, id, name, kind, region, bot_member, archive, private"


class SqliteChannelRepository:
    """The channels the bot has been added to, with their region."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        # Every captured message asks after its channel; channels change only through
        # save(), in this process, so what was read is kept.
        self._known: dict[ChannelRef, Channel | None] = {}

    async def save(self, channel: Channel) -> None:
        ref = channel.ref
        at = to_text(self._clock.now())

        def op(db: sqlite_utils.Database) -> None:
            db.execute(
                f"insert into channels ({_COLUMNS}, updated_at)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " on conflict (platform, workspace, id) do update set"
                " name = excluded.name, kind = excluded.kind, region = excluded.region,"
                " bot_member = excluded.bot_member, archive = excluded.archive,"
                " private = excluded.private,"
                " updated_at = excluded.updated_at",
                [
                    ref.platform,
                    ref.workspace,
                    ref.id,
                    ref.name,
                    ref.kind.value,
                    channel.region,
                    int(channel.bot_member),
                    int(channel.archive),
                    None if channel.private is None else int(channel.private),
                    at,
                ],
            )

        await self._db.write(op)
        self._known[ref] = channel

    async def get(self, ref: ChannelRef) -> Channel | None:
        if ref in self._known:
            return self._known[ref]
        channel = await self._read(ref)
        self._known[ref] = channel
        return channel

    async def _read(self, ref: ChannelRef) -> Channel | None:
        def op(db: sqlite_utils.Database) -> Channel | None:
            row = db.execute(
                f"select {_COLUMNS} from channels where platform = ? and workspace = ? and id = ?",
                [ref.platform, ref.workspace, ref.id],
            ).fetchone()
            return _channel(row) if row else None

        return await self._db.read(op)

    async def find(self, platform: str, name_or_id: str) -> list[Channel]:
        name = name_or_id.lstrip("#")

        def op(db: sqlite_utils.Database) -> list[Channel]:
            rows = db.execute(
                # Teams names keep their case ("North"); people type #north.
                f"select {_COLUMNS} from channels where platform = ?"
                " and (id = ? or name = ? collate nocase)"
                " order by bot_member desc, (id = ?) desc limit 50",
                [platform, name, name, name],
            ).fetchall()
            return [_channel(r) for r in rows]

        return await self._db.read(op)

    async def list(self, platform: str | None = None) -> list[Channel]:
        def op(db: sqlite_utils.Database) -> list[Channel]:
            sql = f"select {_COLUMNS} from channels"
            params: list[str] = []
            if platform:
                sql += " where platform = ?"
                params.append(platform)
            rows = db.execute(sql + " order by platform, name", params).fetchall()
            return [_channel(r) for r in rows]

        return await self._db.read(op)


def _channel(row: tuple[str, str, str, str, str, str, int, int, int | None]) -> Channel:
    platform, workspace, ident, name, kind, region, member, archive, private = row
    return Channel(
        ChannelRef(platform, ident, workspace, name, ChannelKind(kind)),
        region,
        bool(member),
        bool(archive),
        None if private is None else bool(private),
    )
