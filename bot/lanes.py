"""Work side by side, one lane a key: a lane's work runs in the order it was started."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from functools import partial
from typing import Any


class Lanes:
    def __init__(self) -> None:
        self._last: dict[str, asyncio.Task[None]] = {}  # each lane's newest work
        self._running: set[asyncio.Task[None]] = set()  # kept, or the loop may drop them
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self, key: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` once the lane's earlier work has ended (however it ended)."""
        task = asyncio.create_task(_after(self._last.get(key), work))
        self._last[key] = task
        self._running.add(task)
        self._idle.clear()
        task.add_done_callback(partial(self._ended, key))
        return task

    async def quiet(self, within: float) -> None:
        """Wait until no work is running, or ``within`` seconds at most."""
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self._idle.wait()

    def cancel(self) -> None:
        for task in self._running:
            task.cancel()

    def _ended(self, key: str, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._running:
            self._idle.set()
        if self._last.get(key) is task:
            del self._last[key]


async def _after(before: asyncio.Task[None] | None, work: Coroutine[Any, Any, None]) -> None:
    try:
        if before is not None:
            await asyncio.wait([before])
    except BaseException:
        work.close()  # cancelled while waiting: the work never starts
        raise
    await work
