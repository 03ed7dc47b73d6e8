"""What the console needs from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.console.records import AuditEntry, ThreadKey, ThreadSummary
from bot.records import ArchivedMessage, ArchiveFilter


class SessionRepository(Protocol):
    async def use_link(self, link_id: str, identity: str, at: datetime) -> bool:
        """Mark a link used; False when it was used already (one statement: two presses
        of the button can't both win)."""
        ...

    async def link_used(self, link_id: str) -> bool: ...

    async def open(
        self, id_hash: str, identity: str, at: datetime, until: datetime, workspace: str
    ) -> None: ...

    async def find(self, id_hash: str, now: datetime) -> tuple[str, datetime, str] | None:
        """(identity, expiry, workspace) of a session still current at ``now``."""
        ...

    async def end(self, id_hash: str, at: datetime) -> None: ...

    async def end_all(self, identity: str, at: datetime) -> int: ...

    async def forget(self, identity: str) -> int: ...

    async def purge_before(self, cutoff: datetime) -> int: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def newest(self, limit: int) -> list[AuditEntry]: ...


class ThreadReader(Protocol):
    async def threads(self, f: ArchiveFilter, limit: int) -> list[ThreadSummary]: ...

    async def thread(self, key: ThreadKey, scope: ArchiveFilter) -> list[ArchivedMessage]: ...

    async def participation(self, f: ArchiveFilter) -> list[tuple[str, str, str, str, str, int]]:
        """(topic, region, month "YYYY-MM", prompt id, author identity or "" when
        anonymous, replies)."""
        ...

    async def channels(self, scope: ArchiveFilter) -> list[str]:
        """The names of the channels with archived messages in ``scope``."""
        ...

    async def workspaces(self, platform: str) -> list[str]:
        """The workspaces (or tenants) of a platform in the archive, most messages first."""
        ...
