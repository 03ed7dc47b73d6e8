"""Slack allows about one message a second in a channel; copbot keeps to it by waiting its
turn, per channel, rather than by being told off with a 429.

The clock and the sleep are injected so tests can see what was asked for without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    def __init__(
        self,
        interval: float = 1.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._sleep = sleep
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def turn(self, channel_id: str) -> AsyncIterator[None]:
        """Hold the channel while one message goes out, at least ``interval`` after the last."""
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            last = self._last.get(channel_id)
            if last is not None:
                wait = last + self._interval - self._clock()
                if wait > 0:
                    await self._sleep(wait)
            try:
                yield
            finally:
                # Counted from when Slack answered, which is never earlier than when it counted.
                self._last[channel_id] = self._clock()
