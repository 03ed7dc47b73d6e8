"""Teams' published limits, kept by waiting a turn rather than by being told off with a 429:
per bot per conversation 7 requests in 1 s, 8 in 2 s, 60 in 30 s and 1,800 in an hour;
and 50 requests a second per app per tenant (every kind of request counts).

A request holds a place in every window from when it starts until a window's length after
Teams answered (never earlier than when Teams counted it), so copbot stays under the limits
however long requests take. Conversations wait for each other only through the app-wide
limit: a busy thread never holds another up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    limit: int
    per: float  # seconds


PER_CONVERSATION = (Rate(7, 1.0), Rate(8, 2.0), Rate(60, 30.0), Rate(1800, 3600.0))
PER_APP = (Rate(50, 1.0),)


class _Window:
    """When recent requests were answered, and how many are still out."""

    def __init__(self, rates: tuple[Rate, ...]) -> None:
        self.rates = rates
        self.longest = max((r.per for r in rates), default=0.0)
        self.answered: deque[float] = deque()
        self.out = 0

    def wait(self, now: float) -> float | None:
        """0: another may start; seconds until one may; None: not before one out is answered."""
        while self.answered and self.answered[0] <= now - self.longest:
            self.answered.popleft()
        wait = 0.0
        for rate in self.rates:
            recent = [t for t in self.answered if t > now - rate.per]
            over = len(recent) + self.out + 1 - rate.limit  # how many must leave the window
            if over <= 0:
                continue
            if over > len(recent):
                return None
            wait = max(wait, recent[over - 1] + rate.per - now)
        return wait

    @property
    def idle(self) -> bool:
        return not self.out and not self.answered


class Pacer:
    def __init__(
        self,
        per_conversation: tuple[Rate, ...] = PER_CONVERSATION,
        per_app: tuple[Rate, ...] = PER_APP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_conversation = per_conversation
        self._app = _Window(per_app)
        self._conversations: dict[str, _Window] = {}
        self._clock = clock
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def turn(self, conversation: str) -> AsyncIterator[None]:
        """Hold a place in the conversation's windows and the app's while one request goes."""
        key = conversation.split(";", 1)[0]  # a channel's threads count as the channel
        async with self._changed:
            window = self._conversations.setdefault(key, _Window(self._per_conversation))
            while True:
                now = self._clock()
                waits = (window.wait(now), self._app.wait(now))
                if waits == (0.0, 0.0):
                    break
                # Woken when a request is answered, or when the earliest place frees.
                timeout = None if None in waits else max(w for w in waits if w is not None)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
            window.out += 1
            self._app.out += 1
        try:
            yield
        finally:
            async with self._changed:
                now = self._clock()
                for w in (window, self._app):
                    w.out -= 1
                    w.answered.append(now)
                if len(self._conversations) > 1000:
                    self._forget_idle(now)
                self._changed.notify_all()

    def _forget_idle(self, now: float) -> None:
        for key, window in list(self._conversations.items()):
            window.wait(now)  # drops what has left its windows
            if window.idle:
                del self._conversations[key]
