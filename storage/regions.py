"""Which regions each channel serves, as facilitators linked them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from bot.clock import to_text
from bot.events import RegionLink
from bot.model import ChannelRef
from bot.ports import Clock
from storage.database import Database


class SqliteRegionLinkRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def link(self, channel: ChannelRef, region: str, by: str) -> bool:
        """False when the channel served that region already."""
        at = to_text(self._clock.now())
        return bool(
            await self._db.execute(
                "insert or ignore into region_links (platform, workspace, channel_id,"
                " channel_name, region, linked_by, linked_at) values (?, ?, ?, ?, ?, ?, ?)",
                [channel.platform, channel.workspace, channel.id, channel.name, region, by, at],
            )
        )

    async def unlink(self, channel: ChannelRef, region: str) -> bool:
        return bool(
            await self._db.execute(
                "delete from region_links where platform = ? and workspace = ?"
                " and channel_id = ? and region = ?",
                [channel.platform, channel.workspace, channel.id, region],
            )
        )

    async def links(self) -> Sequence[RegionLink]:
        def op(db: sqlite_utils.Database) -> list[RegionLink]:
            rows = db.execute(
                "select platform, workspace, channel_id, channel_name, region from region_links"
                " order by region, platform, channel_name, channel_id"
            ).fetchall()
            return [RegionLink(ChannelRef(p, c, w, n), r) for p, w, c, n, r in rows]

        return await self._db.read(op)

    async def forget_linker(self, identity: str) -> int:
        return await self._db.execute(
            "update region_links set linked_by = '' where linked_by = ?", [identity]
        )
