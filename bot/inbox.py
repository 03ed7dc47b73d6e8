"""The durable inbox: accept an event (committed before the platform hears back), then
handle it. Events left pending by a crash are handled on the next start; a platform's
retry of an event already accepted is recognised by its key and dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.model import (
    BotAddedToChannel,
    ButtonPressed,
    CommandReceived,
    FormSubmitted,
    HomeOpened,
    InboundEvent,
    InboxItem,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.ports import Clock, InboxRepository

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
BATCH = 100
KEEP_HANDLED = timedelta(days=3)  # long enough to recognise any platform's late retry


def platform_of(event: InboundEvent) -> str:
    match event:
        case MessagePosted() | MessageEdited() | MessageDeleted():
            return event.message.channel.platform
        case CommandReceived() | ButtonPressed() | FormSubmitted():
            return event.origin.channel.platform
        case BotAddedToChannel() | MemberJoined():
            return event.channel.platform
        case HomeOpened():
            return event.user.platform


def conversation_of(event: InboundEvent) -> str:
    """Events of one conversation are handled in order; different conversations in parallel."""
    match event:
        case MessagePosted() | MessageEdited() | MessageDeleted():
            return event.message.channel.key
        case CommandReceived() | ButtonPressed() | FormSubmitted():
            return event.origin.channel.key
        case BotAddedToChannel() | MemberJoined():
            return event.channel.key
        case HomeOpened():
            return event.user.identity


class Inbox:
    def __init__(
        self,
        repository: InboxRepository,
        handler: Callable[[InboundEvent], Awaitable[None]],
        clock: Clock,
        redact: Callable[[InboundEvent], InboundEvent] = lambda e: e,
    ) -> None:
        self._repo = repository
        self._handler = handler
        self._clock = clock
        self._redact = redact
        self._wake = asyncio.Event()

    async def accept(self, event: InboundEvent) -> bool:
        """Keep the event durably; True when it is new, False for a retry of one we have."""
        event = self._redact(event)
        key = f"{platform_of(event)}:{event.event_id}"
        new = await self._repo.accept(key, event, self._clock.now())
        if new:
            self._wake.set()
        return new

    async def drain(self) -> int:
        """Handle everything pending now; return how many events were handled."""
        handled = 0
        while items := await self._repo.pending(BATCH):
            lanes: dict[str, list[InboxItem]] = defaultdict(list)
            for item in items:
                lanes[conversation_of(item.event)].append(item)
            await asyncio.gather(*(self._run_lane(lane) for lane in lanes.values()))
            handled += len(items)
        return handled

    async def _run_lane(self, items: list[InboxItem]) -> None:
        for item in items:
            try:
                await self._handler(item.event)
            except Exception as e:
                # The type only: an exception's text may quote what someone wrote.
                error = type(e).__name__
                give_up = item.attempts + 1 >= MAX_ATTEMPTS
                log.exception("handling inbox item %s failed (%s)", item.id, error)
                await self._repo.failed(item.id, error, give_up)
            else:
                await self._repo.done(item.id)

    async def run_forever(self) -> None:
        purge_due = self._clock.now()
        while True:
            self._wake.clear()
            try:
                await self.drain()
                if self._clock.now() >= purge_due:
                    await self._repo.purge_done(self._clock.now() - KEEP_HANDLED)
                    purge_due = self._clock.now() + timedelta(hours=1)
            except Exception:
                log.exception("the inbox loop hit an error; retrying shortly")
                await asyncio.sleep(1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5)
