"""Bringing a platform's exported history into the archive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace

from bot.archive_ports import ArchiveRepository
from bot.markup import CONTROL, kept_text
from bot.records import ArchivedMessage

# Messages a transaction: a larger one is indexed in one piece (migration 0021), yet it
# holds the write lock for about a second, not longer, against a server on the same file.
BATCH = 20_000


@dataclass(frozen=True)
class ImportResult:
    read: int
    added: int  # new to the archive: running an import twice adds nothing the second time
    skipped: int  # by people who opted out


class HistoryImport:
    def __init__(self, archive: ArchiveRepository) -> None:
        self._archive = archive

    async def run(self, messages: Iterable[ArchivedMessage]) -> ImportResult:
        """Keep every message not kept yet, honouring opt-outs (messages should carry their
        region: see ``HistorySource.messages``). Reading the next batch
        overlaps with writing the last one (the writer has a thread of its own)."""
        opted_out = await self._archive.opted_out_all()
        read = added = skipped = 0
        batch: list[ArchivedMessage] = []
        writing: asyncio.Future[int] | None = None
        for message in messages:
            read += 1
            if message.author_id in opted_out:
                skipped += 1
                continue
            if CONTROL.search(message.text):  # rare: a search costs less than a copy
                message = replace(message, text=kept_text(message.text))
            batch.append(message)
            if len(batch) >= BATCH:
                if writing is not None:
                    added += await writing
                writing = asyncio.ensure_future(self._archive.capture_many(batch))
                await asyncio.sleep(0)  # lets the write begin before the next batch is read
                batch = []
        if writing is not None:
            added += await writing
        if batch:
            added += await self._archive.capture_many(batch)
        return ImportResult(read, added, skipped)
