"""The events this process accepted, kept as they came until they are handled, so that
handing one on needn't decode it from the file again.

An entry is added in the write that inserts its row and goes in the write that marks the
row done, sets it aside or erases it: on the one writer thread, so memory changes in the
order the file does, and an erasure never runs before the entry it should remove is there.
Reader threads and the event loop also read and drop entries; a lock keeps each change
whole. Dropping an entry is always safe: the event is then decoded from its row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from bot.model import InboundEvent

MAX_EVENTS = 1_000  # enough for a burst's next reads; a longer backlog waits on disk
MAX_CHARS = 2_000_000  # characters of encoded events in all: nor do long messages fill it


@dataclass(frozen=True)
class _Kept:
    key: str  # the row's dedup key: a deleted row's id may be given to another event
    event: InboundEvent
    identity: str | None
    size: int


class AcceptedEvents:
    def __init__(self, max_events: int = MAX_EVENTS, max_chars: int = MAX_CHARS) -> None:
        self._max_events = max_events
        self._max_chars = max_chars
        self._kept: dict[int, _Kept] = {}
        self._chars = 0
        self._lock = threading.Lock()

    def add(
        self, row_id: int, key: str, event: InboundEvent, identity: str | None, size: int
    ) -> None:
        """Keep ``event`` (``size`` characters encoded) for row ``row_id``, room allowing."""
        with self._lock:
            self._drop(row_id)  # a deleted row's id, given again: its old event goes
            if len(self._kept) >= self._max_events or self._chars + size > self._max_chars:
                return
            self._kept[row_id] = _Kept(key, event, identity, size)
            self._chars += size

    def get(self, row_id: int, key: str) -> InboundEvent | None:
        """The event kept for row ``row_id``, if that row still holds the event of ``key``."""
        kept = self._kept.get(row_id)
        return kept.event if kept is not None and kept.key == key else None

    def forget(self, row_ids: Iterable[int]) -> None:
        with self._lock:
            for row_id in row_ids:
                self._drop(row_id)

    def forget_person(self, identity: str) -> None:
        with self._lock:
            for row_id in [i for i, kept in self._kept.items() if kept.identity == identity]:
                self._drop(row_id)

    def row_ids(self) -> list[int]:
        with self._lock:
            return list(self._kept)

    def events(self) -> list[InboundEvent]:
        with self._lock:
            return [kept.event for kept in self._kept.values()]

    def _drop(self, row_id: int) -> None:
        kept = self._kept.pop(row_id, None)
        if kept is not None:
            self._chars -= kept.size
