"""The durable inbox: accept an event (committed before the platform hears back), then
handle it. Events left pending by a crash are handled on the next start; a platform's
retry of an event already accepted is recognised by its key and dropped."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from bot.lanes import Lanes
from bot.logs import stack_only
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    ChannelRenamed,
    ChannelVisibilityChanged,
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
BATCH = 100  # people's interactions taken at once
# Captured messages taken at once. Each lane of a batch is one write on the one writer
# thread, where a person's command also writes: a small batch keeps that write short.
CAPTURE_BATCH = 25
YIELD_FOR = timedelta(milliseconds=50)  # a capture waits for people's interactions this long
# Woken by a message, capture waits this long for a batch's worth to gather (unless one
# has): one message at a time, its read, write and commit would each cost as much as a
# batch's, and slow down the acknowledgement of the next one, arriving meanwhile.
LINGER = timedelta(milliseconds=20)
KEEP_HANDLED = timedelta(days=3)  # long enough to recognise any platform's late retry
KEEP_FAILED = timedelta(days=14)  # time to look into an event set aside, then it goes
PURGE_EVERY = timedelta(minutes=10)  # also how long a message's words may linger in the file


# What a person waits on: handled ahead of captured messages, never behind them.
INTERACTIVE = (CommandReceived, ButtonPressed, FormSubmitted, HomeOpened)
# Run at most once (a home tab is only shown, so it may be shown again after a failure).
ONCE = (CommandReceived, ButtonPressed, FormSubmitted)


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
        case (
            BotAddedToChannel()
            | ChannelRenamed()
            | BotRemovedFromChannel()
            | MemberJoined()
            | ChannelVisibilityChanged()
        ):
            return event.channel.platform
        case HomeOpened():
            return event.user.platform


def conversation_of(event: InboundEvent) -> str:
    """Events of one conversation are handled in order; different conversations in parallel."""
    match event:
        case MessagePosted() | MessageEdited() | MessageDeleted():
            return event.message.channel.key
        case FormSubmitted() if event.origin.user.is_anonymous:
            # Nobody's, so in order with nothing: begun (its row, the ticket beside the
            # answers, emptied) as soon as it is taken, never left in the file behind
            # someone's slow command in the channel it was sent from.
            return f"anonymous:{event.event_id}"
        case CommandReceived() | ButtonPressed() | FormSubmitted():
            return event.origin.channel.key
        case (
            BotAddedToChannel()
            | ChannelRenamed()
            | BotRemovedFromChannel()
            | MemberJoined()
            | ChannelVisibilityChanged()
        ):
            return event.channel.key
        case HomeOpened():
            return event.user.identity


def veil_of(secret_key: str) -> bytes | None:
    """The inbox's key for naming deliveries that lead to anonymous forms (Inbox._key), from
    COPBOT_SECRET_KEY, which is never in the database file, so that a retry after a restart
    is still recognised; None without it (a key of the process's own)."""
    if not secret_key:
        return None
    return hmac.new(
        secret_key.encode(), b"copbot inbox: unnoted deliveries", hashlib.sha256
    ).digest()


class _Wakes:
    """accept() rings for every new event: a message wakes the capture loop only, anything
    else both loops; and a batch's worth of messages (or anything else) ends the capture
    loop's wait for more."""

    def __init__(self) -> None:
        self.interactions = asyncio.Event()
        self.capture = asyncio.Event()
        self.batch_ready = asyncio.Event()
        self._messages = 0  # accepted since the capture loop last looked

    def set(self) -> None:
        self.interactions.set()
        self.capture.set()
        self.batch_ready.set()

    def message(self) -> None:
        self.capture.set()
        self._messages += 1
        if self._messages >= CAPTURE_BATCH:
            self.batch_ready.set()

    def looking(self) -> None:
        """The capture loop reads what waits: what comes after counts towards the next."""
        self._messages = 0
        self.batch_ready.clear()

    async def gathered(self, within: float) -> None:
        """Wait until a batch's worth waits, or ``within`` seconds at most."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.batch_ready.wait()


class Inbox:
    """Two loops drain the inbox. People's interactions are taken as soon as they are
    accepted and run at once, each conversation's in order, while captured messages are
    handled in small batches, oldest first, each conversation's in order.

    Why an interaction may overtake the captures accepted before it: none of them reads a
    message still waiting. Search and export see the archive as it is, as if asked a moment
    earlier; `optout` erases what was kept and capture() refuses what comes after, so
    messages overtaken are left out either way; buttons and forms refer to copbot's own
    posts (prompts, events, anonymous replies), which exist before anyone can press or
    answer them. The interactions that change how a conversation's messages are kept
    (`archive on`, `archive off`, `optin`: declared ``in_turn`` by their verbs) would
    change the fate of messages written before them, so they stay in the capture loop and
    take their turn there, in order with the conversation's messages, as every event once
    did.
    """

    def __init__(
        self,
        repository: InboxRepository,
        handler: Callable[[InboundEvent], Awaitable[None]],
        clock: Clock,
        redact: Callable[[InboundEvent], InboundEvent] = lambda e: e,
        check: Callable[[InboundEvent], Awaitable[None]] | None = None,
        in_turn: Callable[[InboundEvent], bool] = lambda e: False,
        unnoted: Callable[[InboundEvent], bool] = lambda e: False,
        veil: bytes | None = None,
        conversation: Callable[
            [InboundEvent], tuple[MessagePosted | None, InboundEvent]
        ] = lambda e: (None, e),
    ) -> None:
        self._repo = repository
        self._handler = handler
        self._clock = clock
        self._redact = redact
        self._check = check
        self._in_turn = in_turn
        self._unnoted = unnoted
        self._conversation = conversation
        # Keys the inbox's names for unnoted events (see _key): derived from
        # COPBOT_SECRET_KEY, or this process's alone; never in the database file, so the
        # file can't be used to undo them.
        self._veil = veil or secrets.token_bytes(32)
        self._wake = _Wakes()
        self._claimed: set[int] = set()  # interactions taken and not yet ended
        self._taking = asyncio.Lock()
        self._people = Lanes()
        self._stopping = False  # set as copbot stops: no interaction begins after it
        # In-turn interactions running in the capture loop, which a stop waits for too.
        self._turns = 0
        self._turns_ended = asyncio.Event()
        self._turns_ended.set()
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
        said, event = self._conversation(event)
        # A mention of copbot that is no command ("@copbot thanks, that helped"): its
        # message is a reply like any other, captured in turn with its conversation's
        # messages (and retried as they are), and the mention is answered on its own. Both
        # are queued at once, so they share a commit: kept together or refused together,
        # never the reply kept with the mention refused (and the reply kept again when the
        # mention is sent again).
        events = [e for e in (said, event) if e is not None]
        kept = [self._enqueue(e) for e in events]
        new = await asyncio.gather(*kept)
        for e, fresh in zip(events, new, strict=True):
            if fresh:
                # The loop that takes people's interactions reads only those: a message
                # would cost it a read for nothing. A channel's news (copbot added, someone
                # joining) is handled at once, as before, without waiting for messages.
                if isinstance(e, MessagePosted | MessageEdited | MessageDeleted):
                    self._wake.message()
                else:
                    self._wake.set()  # rare, and not to wait for messages to gather
        return new[-1]

    def _enqueue(self, event: InboundEvent) -> asyncio.Future[bool]:
        key = self._key(event)
        kept: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, event, identity_of(event), kept))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit())
        return kept

    def _key(self, event: InboundEvent) -> str:
        """The name a platform's retry of ``event`` is recognised by. A platform's own id
        may name the conversation (on Teams, a press in someone's 1:1 chat is named by that
        chat), so an unnoted press or command (one that opens an anonymous form) is named
        by a keyed hash of it instead: the handled row, kept three days
        to recognise retries, then says only that something came at that time, not from
        whom. Without COPBOT_SECRET_KEY, the key is this process's, so a retry that reaches
        a restarted copbot is handled again: the form opens again."""
        key = f"{platform_of(event)}:{event.event_id}"
        if isinstance(event, FormSubmitted) or not self._unnoted(event):
            # An anonymous form's submission is named by nothing of the person's already
            # (the adapters see to it), and a retry of it must never be kept twice.
            return key
        digest = hmac.new(self._veil, key.encode(), hashlib.sha256).hexdigest()
        return f"{platform_of(event)}:unnoted:{digest}"

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
        """Handle everything pending now, people's interactions first; return how many
        events were handled."""
        handled = 0
        while True:
            if started := await self._take_interactions():
                await asyncio.gather(*started)
                handled += len(started)
            elif taken := (await self._capture_batch())[0]:
                handled += taken
            else:
                return handled

    async def _take_interactions(self) -> list[asyncio.Task[None]]:
        """Start every waiting interaction of a person's, ahead of whatever captures are
        waiting or running: each conversation's in the order they came, conversations side
        by side. Returns the tasks started."""
        async with self._taking:  # one taker at a time: none can take what another ran
            started: list[asyncio.Task[None]] = []
            while not self._stopping:  # once stopping, what waits stays for the restart
                page = await self._repo.pending(
                    BATCH, self._clock.now(), interactive=True, besides=self._claimed
                )
                items = [
                    item
                    for item in page
                    if item.id not in self._claimed and not self._in_turn(item.event)
                ]
                started += await self._start(items)
                if len(page) < BATCH or not items:
                    break
            return started

    async def _start(self, items: list[InboxItem]) -> list[asyncio.Task[None]]:
        self._claimed.update(item.id for item in items)
        return [self._people.start(conversation_of(i.event), self._interaction(i)) for i in items]

    async def _interaction(self, item: InboxItem) -> None:
        if self._stopping:
            return  # still waiting in the file: run after the restart
        try:
            if isinstance(item.event, ONCE):
                # A person's command, click or submission runs at most once: marked done
                # as it begins, so neither a failure nor a crash can run it again (one
                # another process took first is its to run). Not sooner: one still waiting
                # behind another of its conversation when copbot stops is kept for the
                # restart.
                if await self._repo.done([item.id]):
                    await self._interact(item)
            else:
                await self._run_lane([item])  # a home tab: seen again if it fails
        except Exception:
            # Storage failing to note the outcome: the item is still pending, seen again.
            log.error("handling inbox item %s hit an error", item.id, exc_info=True)
        finally:
            self._claimed.discard(item.id)
            self._wake.set()  # a page may have held it, skipped: look again

    async def _capture_batch(self) -> tuple[int, bool]:
        """Handle one batch of captured messages (and of the interactions that must wait
        their turn behind them), oldest first; return how many were handled, and whether
        more may be waiting (the batch was full)."""
        if self._stopping:
            return 0, False  # what waits stays in the file for the restart
        page = await self._repo.pending(CAPTURE_BATCH, self._clock.now(), besides=self._claimed)
        items = [
            item
            for item in page
            if self._in_turn(item.event) or not isinstance(item.event, INTERACTIVE)
        ]
        lanes: dict[str, list[InboxItem]] = defaultdict(list)
        for item in items:
            lanes[conversation_of(item.event)].append(item)
        if len(lanes) == 1:
            await self._run_lane(items, yielding=True)  # no task to start for one lane
        else:
            await asyncio.gather(*(self._run_lane(lane, yielding=True) for lane in lanes.values()))
        return len(items), len(page) == CAPTURE_BATCH and bool(items)

    async def _run_lane(self, items: list[InboxItem], yielding: bool = False) -> None:
        # The lane's messages are kept together: their archive writes are held and
        # committed in one transaction with the marking of them done (one trip to the
        # writer thread and one commit a lane, not two a message).
        async with self._repo.batch() as batch:
            handled: list[InboxItem] = []
            for item in items:
                if yielding:
                    # A person's interaction under way goes first: its reads, its writes
                    # and its share of the event loop. Bounded, so that one waiting on a
                    # slow platform only slows capture down.
                    await self._people.quiet(YIELD_FOR.total_seconds())
                if isinstance(item.event, CommandReceived | ButtonPressed | FormSubmitted):
                    if self._stopping:
                        break  # it, and what came after it, wait in the file for the restart
                    # A person's command, click or submission runs at most once: it is
                    # marked done before it runs, so neither a failure nor a crash can run
                    # it again (that write first commits what the batch holds: the
                    # messages before it go in before it). The router never raises.
                    if await self._repo.done([item.id]):
                        async with self._in_turn_running():
                            await self._interact(item)
                    continue
                try:
                    with batch.item(item.id):
                        await self._handler(item.event)
                except Exception as e:
                    await self._failed(item, e)
                else:
                    handled.append(item)
            if handled:
                # Safe to see again (the archive keeps a message once), so a crash before
                # this commit only means the lane is handled again.
                failed = await batch.done([item.id for item in handled])
                for item in handled:
                    if (error := failed.get(item.id)) is not None:
                        await self._failed(item, error)

    @contextlib.asynccontextmanager
    async def _in_turn_running(self) -> AsyncIterator[None]:
        self._turns += 1
        self._turns_ended.clear()
        try:
            yield
        finally:
            self._turns -= 1
            if not self._turns:
                self._turns_ended.set()

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

    async def finish_running(self, within: float) -> None:
        """As copbot stops: begin no more interactions (those waiting stay in the file for
        the restart), and give those running up to ``within`` seconds to end, so that a
        click or command under way isn't cut off half done."""
        self._stopping = True
        end = asyncio.get_running_loop().time() + within
        await self._people.quiet(within)
        # And one taking its turn among the messages (`archive on`), in the same time.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(end):
                await self._turns_ended.wait()

    async def run_forever(self) -> None:
        try:
            await asyncio.gather(self._serve_people(), self._capture_forever())
        finally:
            self._people.cancel()

    async def _serve_people(self) -> None:
        while True:
            self._wake.interactions.clear()
            try:
                await self._take_interactions()
            except Exception:
                log.error("the inbox hit an error taking interactions; retrying", exc_info=True)
                await asyncio.sleep(1)
            await _rung(self._wake.interactions)

    async def _capture_forever(self) -> None:
        purge_due = self._clock.now()
        while True:
            self._wake.capture.clear()
            try:
                # Until a batch comes short: what is accepted meanwhile rings the bell.
                self._wake.looking()
                while (await self._capture_batch())[1]:
                    self._wake.looking()
                if self._clock.now() >= purge_due:
                    now = self._clock.now()
                    await self._repo.purge(now - KEEP_HANDLED, now - KEEP_FAILED)
                    purge_due = self._clock.now() + PURGE_EVERY
            except Exception:
                log.error("the inbox loop hit an error; retrying shortly", exc_info=True)
                await asyncio.sleep(1)
            await _rung(self._wake.capture)
            await self._wake.gathered(LINGER.total_seconds())


async def _rung(bell: asyncio.Event) -> None:
    """Wait until ``bell`` rings, or 5 s (events waiting to retry come due meanwhile)."""
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
    # that arrives as the wait ends, and the loop would never stop.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await bell.wait()
