"""How long copbot takes to stop, at most, and how that time is shared out.

``docker stop`` kills the process 10 seconds after its SIGTERM (the systemd unit waits 15):
every step of a stop draws on one limit, counted from SIGTERM, so that copbot has ended on
its own before either gives up on it. Nothing acknowledged is lost either way (it is in the
inbox), but a stop that ends by itself closes its connections and its database cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STOP_LIMIT = 9.0  # seconds from SIGTERM to exit, at most: inside docker stop's 10
REQUESTS = 5.0  # for the requests being answered (the server's shutdown timeout)
GRACE = 3.0  # for a command, click or scheduled post under way to end
CLOSING = 1.0  # kept back from GRACE for the adapters to close their connections


class Stopping:
    """One stop's deadline: each step asks how long it may take, and gets what is left."""

    def __init__(self, limit: float = STOP_LIMIT, now: Callable[[], float] = time.monotonic):
        self._limit = limit
        self._now = now
        self._end: float | None = None

    def begin(self) -> None:
        """The stop starts (SIGTERM, Ctrl+C): the limit counts from the first call."""
        if self._end is None:
            self._end = self._now() + self._limit

    def left(self, most: float, keep: float = 0.0) -> float:
        """Seconds the next step may take: ``most`` at most, and never so long that the
        ``keep`` seconds the steps after it need are gone."""
        self.begin()
        assert self._end is not None
        return max(0.0, min(most, self._end - keep - self._now()))
