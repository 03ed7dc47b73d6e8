"""copbot's app served from a thread of the test process: like ``copbot serve``, but its log
records reach pytest's ``caplog``, so a test can say what the server logged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from bot.app import create_app
from bot.settings import Settings


class Records(logging.Handler):
    """Log records from every thread, with a way to wait for one (no sleeping)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.arrived:
            self.records.append(record)
            self.arrived.notify_all()

    def loud(self) -> list[str]:
        """What was logged at WARNING or above."""
        return [
            f"{r.levelname} {r.name}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.WARNING
        ]

    def count(self, message: str) -> int:
        return sum(r.getMessage() == message for r in self.records)


@contextlib.contextmanager
def recording() -> Iterator[Records]:
    """Everything logged while inside, down to the playground adapter's DEBUG lines."""
    records = Records()
    root, adapter = logging.getLogger(), logging.getLogger("adapters.local")
    level = adapter.level
    root.addHandler(records)
    adapter.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        adapter.setLevel(level)


@contextlib.contextmanager
def serving_in_process(db: Path) -> Iterator[str]:
    """Yields the playground's URL; the app stops (cleanly, as on Ctrl+C) on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="copbot-under-test", daemon=True)
    thread.start()

    async def start() -> web.AppRunner:
        app = create_app(Settings(db_path=db, public_url=url))
        # serve's 5 s grace for requests in flight would hold every test up: a page's event
        # stream is one such request until its next change (the adapter can't see a tab go).
        runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(_stop(runner), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        sock.close()


async def _stop(runner: web.AppRunner) -> None:
    await runner.cleanup()
    # As asyncio.run does on the way out: a page's event stream whose tab has gone is no
    # longer the server's to wait for, but still a task of this loop.
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)


STOPPED = "a playground page stopped listening"  # the adapter's DEBUG line


def post_message(url: str, text: str, who: str = "sam", channel: str = "general") -> None:
    """Say something in the playground, as its page does."""
    body = json.dumps({"as": who, "channel": channel, "text": text}).encode()
    request = urllib.request.Request(
        url + "/api/playground/messages", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
