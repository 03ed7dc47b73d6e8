"""A platform's exported history held in a list, for the core's import tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from bot.records import ArchivedMessage

_Done = TypeVar("_Done")


@dataclass(frozen=True)
class ListHistory:
    messages: list[ArchivedMessage]

    def day_files(self) -> int:
        return len(self.messages)

    def batches(
        self,
        work: Callable[[list[ArchivedMessage]], _Done],
        size: int,
        progress: Callable[[int], None] | None = None,
        region_of: Callable[[str], str] | None = None,
    ) -> Iterator[_Done]:
        for start in range(0, len(self.messages), size):
            batch = self.messages[start : start + size]
            yield work(batch)
            if progress is not None:
                progress(len(batch))
