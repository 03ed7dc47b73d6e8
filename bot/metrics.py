"""What copbot is doing, as Prometheus metrics: counts and durations, never names, ids or text.

Served at ``GET /metrics`` only when ``COPBOT_METRICS=on``. Every label is from a small
fixed set (a route's template, a status code, a platform, a kind of post, a logger's name),
so a label can't carry anything a person wrote, and the number of series stays bounded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from bot.ports import Clock

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Where platforms' requests arrive: the time to answer them is the acknowledgement latency.
PLATFORM_ROUTES = frozenset({"/slack/events", "/api/messages"})
UNMATCHED = "unmatched"  # a path no route serves: never the path itself, which anyone picks


class Backlog(Protocol):
    async def backlog(self) -> tuple[int, datetime | None]:
        """Events waiting in the inbox, and when the oldest of them arrived."""
        ...


class Schedule(Protocol):
    async def next_due(self) -> datetime | None: ...


class Metrics:
    def __init__(self, backlog: Backlog, schedule: Schedule, clock: Clock) -> None:
        self._backlog = backlog
        self._schedule = schedule
        self._clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "copbot_http_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.ack_seconds = Histogram(
            "copbot_ack_seconds",
            "Time to answer a platform's request (Slack events, Teams activities)",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.inbox_depth = Gauge(
            "copbot_inbox_depth", "Inbound events acknowledged, not yet handled", registry=r
        )
        self.inbox_age = Gauge(
            "copbot_inbox_oldest_seconds", "Age of the oldest event waiting", registry=r
        )
        self.scheduler_lag = Gauge(
            "copbot_scheduler_lag_seconds",
            "How far the earliest due job is behind its time (0 when none is late)",
            registry=r,
        )
        self.posts = Counter(
            "copbot_posts",
            "Messages sent to the platforms, by kind and outcome",
            ["platform", "kind", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "copbot_platform_retries",
            "Requests to Slack and Teams sent again, by the status that was answered "
            "(429: rate limited)",
            ["platform", "reason"],
            registry=r,
        )
        self.log_records = Counter(
            "copbot_log_records",
            "Warnings and errors logged, by level and logger",
            ["level", "logger"],
            registry=r,
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        route = _route_of(request)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as e:
            status = e.status
            raise
        finally:
            self.requests.labels(route, str(status)).inc()
            if route in PLATFORM_ROUTES:
                self.ack_seconds.labels(route).observe(time.perf_counter() - start)

    def sent(self, platform: str, kind: str, outcome: str) -> None:
        """One message sent (or not): ``outcome`` is ok, failed or unknown."""
        self.posts.labels(platform, kind, outcome).inc()

    def retried(self, platform: str, reason: str) -> None:
        """One request to a platform sent again; ``reason`` is the status answered."""
        self.retries.labels(platform, reason).inc()

    async def page(self, request: web.Request) -> web.Response:
        depth, oldest = await self._backlog.backlog()
        now = self._clock.now()
        self.inbox_depth.set(depth)
        self.inbox_age.set((now - oldest).total_seconds() if oldest else 0)
        due = await self._schedule.next_due()
        self.scheduler_lag.set(max(0.0, (now - due).total_seconds()) if due else 0)
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    def log_counter(self) -> logging.Handler:
        """A logging handler that counts warnings and errors (it writes nothing)."""
        return _CountingHandler(self.log_records)


class _CountingHandler(logging.Handler):
    def __init__(self, counter: Counter) -> None:
        super().__init__(level=logging.WARNING)
        self._counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        # The logger's top two parts ("adapters.slack"): a bounded set, never a message.
        logger = ".".join(record.name.split(".")[:2])
        self._counter.labels(record.levelname, logger).inc()


def _route_of(request: web.Request) -> str:
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return UNMATCHED
    return info.route.resource.canonical
