"""Erasing a person: what copbot kept of them, wherever it kept it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ports import ArchiveRepository, Clock, InboxRepository, PromptRepository


@dataclass(frozen=True)
class Erased:
    messages: int  # archived messages
    events: int  # events not handled yet, or set aside after failing
    suggestions: int  # prompts they suggested


class Erasure:
    def __init__(
        self,
        archive: ArchiveRepository,
        inbox: InboxRepository,
        prompts: PromptRepository,
        clock: Clock,
    ) -> None:
        self._archive = archive
        self._inbox = inbox
        self._prompts = prompts
        self._clock = clock

    async def erase(self, identity: str, *, suggestions: bool = True) -> Erased:
        """Keep nothing more of ``identity`` (an opt-out), and erase what was kept."""
        await self._archive.opt_out(identity, self._clock.now())
        events = await self._inbox.erase(identity)
        removed = await self._prompts.erase_suggestions(identity) if suggestions else 0
        messages = await self._archive.erase_author(identity)
        return Erased(messages, events, removed)
