"""What a handler gets when someone acts: who, where, their role, and a way to answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.chat import Chat
from bot.model import Form, Origin, OutgoingMessage, Role, UserRef


@dataclass(frozen=True)
class Interaction:
    origin: Origin
    role: Role
    chat: Chat
    # When they acted, as the platform says: a command may wait its turn behind others.
    at: datetime | None = None

    @property
    def user(self) -> UserRef:
        return self.origin.user

    @property
    def prefix(self) -> str:
        return self.chat.command_prefix(self.origin.channel.platform)

    @property
    def how_to_add(self) -> str:
        return self.chat.how_to_add(self.origin.channel.platform)

    async def reply(self, message: OutgoingMessage | str) -> None:
        """Answer privately (ephemeral where the platform has it)."""
        if isinstance(message, str):
            message = OutgoingMessage.of(message)
        await self.chat.respond(self.origin, message)

    async def open_form(self, form: Form) -> None:
        await self.chat.open_form(self.origin, form)

    async def send_privately(self, message: OutgoingMessage, sent: str) -> None:
        """``message`` by direct message (a link only they may use), and, unless they
        asked there already, ``sent`` where they asked, to say where it went."""
        ref = await self.chat.send_direct(self.user, message)
        if ref.channel.id != self.origin.channel.id:
            await self.reply(sent)
