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

from bot.logs import stack_only
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    CommandReceived,
    FormSubmitted,
    HomeOpened,
    InboundEvent,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    UserRef,
)
from bot.ports import Clock, InboxRepository
from bot.records import InboxItem

log = logging.getLogger(__name__)

RETRY_AFTER = (  # a failed event waits this long before each further attempt
    timedelta(seconds=1),
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
)
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
BATCH = 100
KEEP_HANDLED = timedelta(days=3)  # long enough to recognise any platform's late retry
KEEP_FAILED = timedelta(days=14)  # time to look into an event set aside, then it goes
PURGE_EVERY = timedelta(minutes=10)  # also how long a message's words may linger in the file


def identity_of(event: InboundEvent) -> str | None:
    """Whose event it is, so that erasing a person reaches events not yet handled."""
    match event:
        case MessagePosted():
            user: UserRef | None = event.author
        case MessageEdited():
            user = event.editor
        case CommandReceived() | ButtonPressed() | FormSubmitted():
            user = event.origin.user
        case MemberJoined() | HomeOpened():
            user = event.user
        case _:
            user = None
    return user.identity if user is not None and not user.is_anonymous else None


def platform_of(event: InboundEvent) -> str:
    match event:
        case MessagePosted() | MessageEdited() | MessageDeleted():
            return event.message.channel.platform
        case CommandReceived() | ButtonPressed() | FormSubmitted():
            return event.origin.channel.platform
        case BotAddedToChannel() | BotRemovedFromChannel() | MemberJoined():
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
        case BotAddedToChannel() | BotRemovedFromChannel() | MemberJoined():
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
        check: Callable[[InboundEvent], Awaitable[None]] | None = None,
    ) -> None:
        self._repo = repository
        self._handler = handler
        self._clock = clock
        self._redact = redact
        self._check = check
        self._wake = asyncio.Event()
        self._waiting: list[tuple[str, InboundEvent, str | None, asyncio.Future[bool]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def accept(self, event: InboundEvent) -> bool:
        """Keep the event durably; True when it is new, False for a retry of one we have.

        Events arriving together share one commit (and one fsync): while a commit is under
        way, the next events wait for the one after it, so busy moments cost less per event.
        """
        event = self._redact(event)
        if self._check is not None:
            await self._check(event)  # FormInvalid reaches the adapter; nothing is kept
        key = f"{platform_of(event)}:{event.event_id}"
        kept: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, event, identity_of(event), kept))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit())
        new = await kept
        if new:
            self._wake.set()
        return new

    async def _commit(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            items = [(key, event, identity) for key, event, identity, _ in batch]
            try:
                results = await self._repo.accept(items, self._clock.now())
            except Exception as error:
                for *_, kept in batch:
                    if not kept.done():
                        kept.set_exception(error)
                continue
            for (*_, kept), new in zip(batch, results, strict=True):
                if not kept.done():
                    kept.set_result(new)

    async def drain(self) -> int:
        """Handle everything pending now; return how many events were handled."""
        handled = 0
        while items := await self._repo.pending(BATCH, self._clock.now()):
            lanes: dict[str, list[InboxItem]] = defaultdict(list)
            for item in items:
                lanes[conversation_of(item.event)].append(item)
            await asyncio.gather(*(self._run_lane(lane) for lane in lanes.values()))
            handled += len(items)
        return handled

    async def _run_lane(self, items: list[InboxItem]) -> None:
        handled: list[int] = []
        for item in items:
            if isinstance(item.event, CommandReceived | ButtonPressed | FormSubmitted):
                # A person's command, click or submission runs at most once: it is marked
                # done before it runs, so neither a failure nor a crash can run it again.
                # The router answers them itself and never raises.
                await self._repo.done([item.id])
                await self._interact(item)
                continue
            try:
                await self._handler(item.event)
            except Exception as e:
                await self._failed(item, e)
            else:
                # Safe to see again (the archive keeps a message once): marked in one write.
                handled.append(item.id)
        if handled:
            await self._repo.done(handled)

    async def _interact(self, item: InboxItem) -> None:
        try:
            await self._handler(item.event)
        except Exception as e:
            log.error(
                "an interaction (inbox item %s) failed and was not retried\n%s",
                item.id,
                stack_only(e),
            )

    async def _failed(self, item: InboxItem, e: Exception) -> None:
        # The type only: an exception's text may quote what someone wrote.
        error = type(e).__name__
        attempt = item.attempts + 1
        give_up = attempt >= MAX_ATTEMPTS
        log.error(
            "handling inbox item %s failed (%s), attempt %s%s\n%s",
            item.id,
            error,
            attempt,
            ", set aside" if give_up else "",
            stack_only(e),
        )
        retry_at = None if give_up else self._clock.now() + RETRY_AFTER[attempt - 1]
        await self._repo.failed(item.id, error, give_up, retry_at)

    async def run_forever(self) -> None:
        purge_due = self._clock.now()
        while True:
            self._wake.clear()
            try:
                await self.drain()
                if self._clock.now() >= purge_due:
                    now = self._clock.now()
                    await self._repo.purge(now - KEEP_HANDLED, now - KEEP_FAILED)
                    purge_due = self._clock.now() + PURGE_EVERY
            except Exception:
                log.error("the inbox loop hit an error; retrying shortly", exc_info=True)
                await asyncio.sleep(1)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the wait ends, and this loop would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._wake.wait()
