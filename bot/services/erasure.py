"""Erasing a person, and retention: whatever the features declared they keep of people.

Nothing here lists repositories: each feature declares its ``PersonalData`` in the
registry, so a new feature's data is reached by `/cop optout`, `copbot erase` and the
retention purge without anyone editing this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.archive_ports import ArchiveRepository
from bot.ports import Clock
from bot.registry import Registry


@dataclass(frozen=True)
class Erased:
    counts: tuple[tuple[str, int], ...]  # (what, how many records), as features declared them

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def of(self, what: str) -> int:
        return sum(n for w, n in self.counts if w == what)

    def others(self, but: str) -> str:
        """The non-zero counts other than ``but``, as ", 2 events not yet handled"."""
        return "".join(f", {n} {what}" for what, n in self.counts if n and what != but)


class Erasure:
    def __init__(
        self,
        registry: Registry,
        archive: ArchiveRepository,
        clock: Clock,
        scrub: Callable[[], Awaitable[None]],
    ) -> None:
        self._registry = registry  # read at call time: every feature has declared by then
        self._archive = archive
        self._clock = clock
        # Folds the write-ahead log into the file: what was erased leaves the file's old
        # pages and the log only then, whichever feature's data was erased last.
        self._scrub = scrub

    async def erase(self, identity: str, *, opting_out: bool = False) -> Erased:
        """Keep nothing more of ``identity`` (an opt-out), and erase what was kept.

        ``opting_out``: the person asked with `/cop optout`, which erases the words kept of
        them and leaves what they did on purpose (an event answer, a prompt suggestion) for
        `copbot erase` (``PersonalData.on_opt_out``).
        """
        await self._archive.opt_out(identity, self._clock.now())
        counts = []
        for data in self._registry.personal_data:
            if data.erase is None or (opting_out and not data.on_opt_out):
                continue
            counts.append((data.what, await data.erase(identity)))
        await self._scrub()
        return Erased(tuple(counts))

    def kept(self) -> tuple[tuple[str, str], ...]:
        """What erasing a person leaves in place, and why: (what, why)."""
        return tuple(
            (data.what, data.kept_because)
            for data in self._registry.personal_data
            if data.erase is None
        )

    def notices(self) -> tuple[str, ...]:
        """Everything kept of people, as the privacy page tells them."""
        return tuple(data.notice for data in self._registry.personal_data)

    async def expire(self, before: datetime) -> int:
        """Forget everything kept from before ``before`` that is kept for a limited time."""
        total = 0
        for data in self._registry.personal_data:
            if data.expire is not None:
                total += await data.expire(before)
        if total:
            await self._scrub()
        return total
