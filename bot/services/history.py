"""Bringing a platform's exported history into the archive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from bot.archive_ports import ArchiveRepository, HistorySource
from bot.markup import CONTROL, kept_name, kept_text
from bot.records import ArchivedMessage

# Messages a transaction: a larger one is indexed in one piece (migration 0021), yet it
# holds the write lock for about a second, not longer, against a server on the same file.
BATCH = 20_000


@dataclass(frozen=True)
class ImportResult:
    read: int
    added: int  # new to the archive: running an import twice adds nothing the second time
    opted_out: int  # by people who have opted out
    before_opt_in: int  # by people who opted back in, written before they did

    @property
    def skipped(self) -> int:
        """Left out for their authors' sake (the rest of what was read and not added was
        in the archive already)."""
        return self.opted_out + self.before_opt_in


@dataclass(frozen=True)
class KeptBatch:
    read: int
    opted_out: int
    before_opt_in: int
    prepared: object  # the kept messages, as the archive's preparer made them ready


@dataclass(frozen=True)
class Keeping:
    """What an import keeps of a batch it read, made ready for the archive. A plain object,
    so that a platform's reader can run it in its worker process, beside the parsing."""

    opt_outs: Mapping[str, datetime | None]  # identity: when they opted back in, if they did
    prepare: Callable[[list[ArchivedMessage]], object]

    def __call__(self, messages: list[ArchivedMessage]) -> KeptBatch:
        if not self.opt_outs:
            return KeptBatch(len(messages), 0, 0, self.prepare([_clean(m) for m in messages]))
        kept = []
        opted_out = before_opt_in = 0
        for m in messages:
            if m.author_id in self.opt_outs:
                resumed = self.opt_outs[m.author_id]
                if resumed is None:
                    opted_out += 1
                    continue
                if m.created_at < resumed:  # as the archive refuses it (archive_insert)
                    before_opt_in += 1
                    continue
            kept.append(_clean(m))
        return KeptBatch(len(messages), opted_out, before_opt_in, self.prepare(kept))


class HistoryImport:
    def __init__(self, archive: ArchiveRepository) -> None:
        self._archive = archive

    async def run(
        self,
        source: HistorySource,
        progress: Callable[[int], None] | None = None,
        region_of: Callable[[str], str] | None = None,
    ) -> ImportResult:
        """Keep every message not kept yet, honouring opt-outs (the archive refuses an
        opted-out author's message too, should they opt out meanwhile). Reading and
        preparing the next batch overlaps with writing the last one."""
        keeping = Keeping(await self._archive.opt_outs(), self._archive.preparer)
        read = added = opted_out = before_opt_in = 0
        writing: asyncio.Future[int] | None = None
        try:
            for batch in source.batches(keeping, BATCH, progress, region_of):
                read += batch.read
                opted_out += batch.opted_out
                before_opt_in += batch.before_opt_in
                if writing is not None:
                    added += await writing
                    writing = None
                if batch.read > batch.opted_out + batch.before_opt_in:
                    writing = asyncio.ensure_future(self._archive.capture_prepared(batch.prepared))
                    await asyncio.sleep(0)  # lets the write begin before the next batch is read
        finally:
            # Reading may fail part way (the export changed under it): the batch being
            # written is finished, so that what the error says was imported, was.
            if writing is not None:
                added += await writing
        return ImportResult(read, added, opted_out, before_opt_in)


def _clean(message: ArchivedMessage) -> ArchivedMessage:
    """The message without control characters, in its words or its names (as the model
    keeps live ones: bot.model.UserRef)."""
    author, channel = message.author_name, message.channel_name
    # Rare: searches cost less than a copy.
    if CONTROL.search(message.text) or not (author.isprintable() and channel.isprintable()):
        return replace(
            message,
            text=kept_text(message.text),
            author_name=kept_name(author),
            channel_name=kept_name(channel),
        )
    return message
