"""The archive's seams: what the core needs from the archive's storage, from its exports,
and from a platform's exported history (see bot/ports.py for the rest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.archive_export import Chunk, Encoding
from bot.errors import WordedError
from bot.model import ChannelRef, MessageRef
from bot.records import ArchivedMessage, ArchiveFilter, ExportLink, SearchHit, ThreadContext
from bot.search_query import Term

_Done = TypeVar("_Done")


class ArchiveRepository(Protocol):
    async def capture(self, message: ArchivedMessage) -> bool:
        """Keep a message; False when it is kept already (a retry) or its author opted out."""
        ...

    @property
    def preparer(self) -> Callable[[list[ArchivedMessage]], object]:
        """For imports: the Python half of writing a batch, done where the messages are
        read, for ``capture_prepared``. A plain function: it may be sent to a worker
        process, so that this work shares out across cores."""
        ...

    async def capture_prepared(self, batch: object) -> int:
        """Keep a prepared batch's messages not kept already, in one transaction; return how
        many were new. For imports: one of a run of large batches."""
        ...

    async def opt_outs(self) -> dict[str, datetime | None]:
        """Everyone who opted out: when they opted back in, or None while they are out."""
        ...

    async def edit(self, ref: MessageRef, text: str, at: datetime) -> bool: ...

    async def delete(self, ref: MessageRef) -> bool:
        """Forget a message at once, text and index entry both."""
        ...

    # capture(), edit() and delete() as they follow the conversation, their outcome left
    # unsaid: inside an inbox batch's item (InboxBatch.item) the write is held, committed
    # with the batch's others when its items are marked done.
    async def record(self, message: ArchivedMessage) -> None: ...

    async def record_edit(
        self, ref: MessageRef, text: str, at: datetime, edited: ArchivedMessage | None = None
    ) -> None:
        """Change a kept message's words; when none is kept yet, keep ``edited`` (the message
        as changed), since its original may arrive late."""

    async def record_delete(self, ref: MessageRef) -> None: ...

    async def erase_author(self, identity: str) -> int: ...

    async def purge_before(self, cutoff: datetime) -> int: ...

    async def opt_out(self, identity: str, at: datetime) -> None: ...

    async def opt_in(self, identity: str, at: datetime) -> bool:
        """Keep what ``identity`` writes from ``at`` on (nothing from before); False when
        they had not opted out."""
        ...

    async def opted_out(self, identity: str) -> bool: ...

    async def get(self, ref: MessageRef) -> ArchivedMessage | None: ...

    async def search(self, terms: Sequence[Term], f: ArchiveFilter, limit: int) -> list[SearchHit]:
        """The best matches by relevance (see bot/ranking.py)."""
        ...

    async def mark_private(self, channel: ChannelRef, private: bool) -> int:
        """Say whether a channel's kept messages came from a private channel; return how
        many changed."""
        ...


class ThreadSource(Protocol):
    """A feature that starts threads (prompts, event announcements), saying which."""

    async def thread_context(self, root: MessageRef) -> ThreadContext | None: ...


class ArchiveReader(Protocol):
    """Blocking, streaming reads of the archive for export; call from a worker thread."""

    def rows(
        self,
        f: ArchiveFilter,
        by_thread: bool,
        shown: frozenset[str] | None = None,
        *,
        as_stored: bool = False,
    ) -> Iterator[tuple[Any, ...]]:
        """Export records in ``bot.archive_export.FIELDS`` order; fields not in ``shown``
        (when given) come as None, unread. With ``as_stored``, ``created_at`` is
        microseconds since 1970 (UTC) and ``thread_id`` the thread's key as stored (an
        integer for a Slack ts): for writers that show times in words and group by thread."""
        ...

    def encoded(self, f: ArchiveFilter, encoding: Encoding) -> Iterator[Chunk]:
        """The same records, in id order, already written in ``encoding`` by storage:
        chunks of records joined by ``bot.archive_export.SEPARATORS``, with their count."""
        ...

    def authors(self, f: ArchiveFilter) -> list[tuple[str, str]]: ...

    def count(self, f: ArchiveFilter) -> int: ...

    def holds_any(self, f: ArchiveFilter) -> bool:
        """Whether any message matches: stops at the first."""
        ...


class ExportLinkRepository(Protocol):
    async def create(self, link: ExportLink) -> None: ...

    async def use(self, link_id: str, at: datetime) -> ExportLink | None: ...

    async def unused(self, link_id: str) -> ExportLink | None: ...

    async def key(self) -> bytes: ...

    async def forget_creator(self, identity: str) -> int: ...

    async def purge_before(self, cutoff: datetime) -> int: ...


class HistoryUnreadable(WordedError):
    """A history file (a platform's export) can't be read; the message says why."""


class HistorySource(Protocol):
    """A platform's exported history, read as neutral archive messages."""

    def day_files(self) -> int:
        """How many units of work there are, for a progress bar."""
        ...

    def batches(
        self,
        work: Callable[[list[ArchivedMessage]], _Done],
        size: int,
        progress: Callable[[int], None] | None = None,
        region_of: Callable[[str], str] | None = None,
    ) -> Iterator[_Done]:
        """The messages in time order, at least ``size`` at a time (the last batch may be
        smaller), each batch passed through ``work`` where it was read. ``region_of`` names
        a channel's region. Both are plain objects: they may be sent to a worker process."""
        ...
