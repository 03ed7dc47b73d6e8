"""Telling open playground pages that something changed: a version number that every
change bumps, and a server-sent event stream of it that each page listens to (the page
then fetches the state it shows)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

log = logging.getLogger(__name__)

SSE_LIFETIME = 25.0  # seconds; the browser reconnects


class Changes:
    def __init__(self) -> None:
        self._version = 0
        self._changed = asyncio.Condition()
        self._closed = False

    @property
    def version(self) -> int:
        return self._version

    async def notify(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def close(self) -> None:
        """End every stream now, and any opened later at its first line."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """The version now, then each new one, until the stream's lifetime is up."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        loop = asyncio.get_running_loop()
        ends = loop.time() + SSE_LIFETIME
        seen = self._version
        try:
            await response.prepare(request)
            await response.write(f"retry: 500\ndata: {seen}\n\n".encode())
            while not self._closed and (left := ends - loop.time()) > 0:
                if await self._changed_since(seen, left):
                    seen = self._version
                    await response.write(f"data: {seen}\n\n".encode())
        except ConnectionResetError:
            # A closed or reloaded tab ends its stream: everyday, not an error to log.
            log.debug("a playground page stopped listening")
        return response

    async def _changed_since(self, version: int, within: float) -> bool:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):  # not wait_for, which may eat a cancel
                    await self._changed.wait_for(lambda: self._version != version or self._closed)
        return self._version != version
