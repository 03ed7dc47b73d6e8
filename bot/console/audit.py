"""The audit trail: sign-ins, exports, role changes, erasures and console actions, with
who and when, so admins can answer for what access was used."""

from __future__ import annotations

from bot.console.ports import AuditRepository
from bot.console.records import AuditEntry
from bot.ports import Clock

SHOWN = 200  # entries on the audit page


class Audit:
    def __init__(self, repository: AuditRepository, clock: Clock) -> None:
        self._repo = repository
        self._clock = clock

    async def record(self, done_by: str, action: str, detail: str = "") -> None:
        await self._repo.add(AuditEntry(self._clock.now(), done_by, action, detail))

    async def newest(self, limit: int = SHOWN) -> list[AuditEntry]:
        return await self._repo.newest(limit)
