"""Rate limits as a platform enforces them, for the fake servers: sliding windows per key (a
channel, a conversation) and over the whole app, counted when a request arrives. A request
over any limit is refused with the seconds to wait (for ``Retry-After``) and not counted.

The published figures (checked in December 2026):
- Slack, chat.postMessage: "one message per second per channel", short bursts allowed, and a
  workspace-wide limit whose figure Slack does not publish.
- Teams, per bot per conversation: 7 in 1 s, 8 in 2 s, 60 in 30 s, 1,800 in an hour; and 50
  requests a second per app per tenant, every kind of request counted.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rate:
    limit: int
    per: float  # seconds


SLACK_PER_CHANNEL = (Rate(1, 1.0),)  # stricter than Slack: no burst allowed
TEAMS_PER_CONVERSATION = (Rate(7, 1.0), Rate(8, 2.0), Rate(60, 30.0), Rate(1800, 3600.0))
TEAMS_PER_APP = (Rate(50, 1.0),)


@dataclass
class Limits:
    per_key: tuple[Rate, ...] = ()
    overall: tuple[Rate, ...] = ()
    methods: frozenset[str] | None = None  # None: every method counts
    clock: Callable[[], float] = time.monotonic
    refused: int = 0
    accepted: dict[str, list[float]] = field(default_factory=dict)  # method -> arrival times
    _logs: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)

    def refuse(self, method: str, key: str) -> int | None:
        """None, and the request counted; or the whole seconds to wait before trying again."""
        if self.methods is not None and method not in self.methods:
            return None
        now = self.clock()
        log = self._logs.setdefault(key, deque())
        wait = max(_wait(log, self.per_key, now), _wait(self._all, self.overall, now))
        if wait > 0:
            self.refused += 1
            return max(1, math.ceil(wait))
        log.append(now)
        self._all.append(now)
        self.accepted.setdefault(method, []).append(now)
        return None


def _wait(log: deque[float], rates: tuple[Rate, ...], now: float) -> float:
    if not rates:
        return 0.0
    longest = max(r.per for r in rates)
    while log and log[0] <= now - longest:
        log.popleft()
    wait = 0.0
    for rate in rates:
        recent = [t for t in log if t > now - rate.per]
        if len(recent) >= rate.limit:
            # Free once enough of the oldest have left the window.
            wait = max(wait, recent[len(recent) - rate.limit] + rate.per - now)
    return wait
