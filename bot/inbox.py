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
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.ports import Clock, InboxRepository
from bot.records import InboxItem

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
        self._waiting: list[tuple[str, InboundEvent, asyncio.Future[bool]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def accept(self, event: InboundEvent) -> bool:
        """Keep the event durably; True when it is new, False for a retry of one we have.

        Events arriving together share one commit (and one fsync): while a commit is under
        way, the next events wait for the one after it, so busy moments cost less per event.
        """
        event = self._redact(event)
        key = f"{platform_of(event)}:{event.event_id}"
        kept: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, event, kept))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit())
        new = await kept
        if new:
            self._wake.set()
        return new

    async def _commit(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._repo.accept([(k, e) for k, e, _ in batch], self._clock.now())
            except Exception as error:
                for _, _, kept in batch:
                    if not kept.done():
                        kept.set_exception(error)
                continue
            for (_, _, kept), new in zip(batch, results, strict=True):
                if not kept.done():
                    kept.set_result(new)

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
        # Someone waits on an interaction, and running one twice could do its work twice:
        # it is marked done at once. Other events are safe to see again (the archive keeps
        # a message once), so they are marked done together, in one write.
        handled: list[int] = []
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
                if isinstance(item.event, CommandReceived | ButtonPressed | FormSubmitted):
                    await self._repo.done([item.id])
                else:
                    handled.append(item.id)
        if handled:
            await self._repo.done(handled)

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
