"""The whole core on a fresh SQLite file and a fake platform, driven like a conversation."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.app import build_core
from bot.core import Core
from bot.model import (
    BotAddedToChannel,
    ButtonPressed,
    ChannelRef,
    CommandReceived,
    FormSubmitted,
    InboundEvent,
    MessageRef,
    Origin,
    ThreadRef,
    UserRef,
)
from bot.settings import Settings
from storage import sqlite as sqlite3
from storage.database import Database
from tests.support.fakes import FakeAdapter, ManualClock, Sent

GENERAL = ChannelRef("test", "C-general", "T1", "general")
NORTH = ChannelRef("test", "C-north", "T1", "north")
SAM = UserRef("test", "sam", "Sam")
PRIYA = UserRef("test", "priya", "Priya")
ALEX = UserRef("test", "alex", "Alex")


@dataclass
class Harness:
    core: Core
    adapter: FakeAdapter
    clock: ManualClock
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def open(cls, path: Path, settings: Settings | None = None) -> Harness:
        settings = settings or Settings(db_path=path, admins=frozenset({ALEX.identity}))
        clock = ManualClock()
        adapter = FakeAdapter()
        db = Database.open(path)
        return cls(build_core(settings, db, clock, [adapter]), adapter, clock)

    def close(self) -> None:
        self.core.db.close()

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        """What the database file holds, read as another process would."""
        conn = sqlite3.connect(self.core.db.path)
        try:
            return list(conn.execute(sql).fetchall())
        finally:
            conn.close()

    def event_id(self) -> str:
        return f"e{next(self._ids)}"

    async def deliver(self, event: InboundEvent) -> bool:
        """What an adapter does: hand the event to the inbox; then let the core handle it."""
        new = await self.core.inbox.accept(event)
        await self.core.inbox.drain()
        return new

    async def command(
        self,
        text: str,
        user: UserRef = SAM,
        channel: ChannelRef = GENERAL,
        thread: ThreadRef | None = None,
    ) -> list[Sent]:
        """Run ``/cop <text>``; return what the bot sent because of it."""
        before = len(self.adapter.sent)
        await self.deliver(
            CommandReceived(self.event_id(), Origin(user, channel, thread), text, self.clock.now())
        )
        return self.adapter.sent[before:]

    async def reply_text(self, text: str, user: UserRef = SAM, **kw: object) -> str:
        """The text of the single private answer to a command."""
        sent = await self.command(text, user, **kw)  # type: ignore[arg-type]
        answers = [s for s in sent if s.kind == "respond"]
        assert len(answers) == 1, f"expected one private answer, got {sent}"
        return answers[0].text

    async def press(
        self,
        action_id: str,
        value: str = "",
        user: UserRef = SAM,
        message: MessageRef | None = None,
    ) -> list[Sent]:
        before = len(self.adapter.sent)
        channel = message.channel if message else GENERAL
        await self.deliver(
            ButtonPressed(
                self.event_id(),
                Origin(user, channel, message.as_thread if message else None),
                action_id,
                value,
                self.clock.now(),
                message,
            )
        )
        return self.adapter.sent[before:]

    async def submit(
        self, form_id: str, values: dict[str, str], user: UserRef = SAM, context: str = ""
    ) -> list[Sent]:
        before = len(self.adapter.sent)
        await self.deliver(
            FormSubmitted(
                self.event_id(),
                Origin(user, GENERAL),
                form_id,
                tuple(values.items()),
                self.clock.now(),
                context,
            )
        )
        return self.adapter.sent[before:]

    async def join(self, channel: ChannelRef) -> None:
        await self.deliver(BotAddedToChannel(f"join-{channel.id}", channel, self.clock.now()))

    async def tick(self, advance: timedelta = timedelta(0)) -> int:
        self.clock.advance(advance)
        return await self.core.scheduler.tick()
