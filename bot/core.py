"""The running bot's parts, as the composition root (bot/app.py) wired them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from bot.archive_ports import ArchiveRepository
from bot.chat import Chat
from bot.console.audit import Audit
from bot.inbox import Inbox
from bot.ports import ChannelRepository, ChatAdapter, Clock
from bot.registry import Feature, Registry
from bot.roles import Roles
from bot.scheduler import Scheduler
from bot.services.erasure import Erasure
from bot.services.prompts import PromptCatalogue
from bot.settings import Settings
from bot.signing import Signing
from storage.database import Database

F = TypeVar("F")


@dataclass(frozen=True, kw_only=True)
class Core:
    """Everything the running bot is made of, wired."""

    settings: Settings
    db: Database
    clock: Clock
    adapters: tuple[ChatAdapter, ...]
    chat: Chat
    registry: Registry
    roles: Roles
    channels: ChannelRepository
    inbox: Inbox
    scheduler: Scheduler
    prompts: PromptCatalogue
    archive: ArchiveRepository
    erasure: Erasure
    signing: Signing
    audit: Audit  # who signed in, exported, changed roles or erased, and when
    features: tuple[Feature, ...]

    def feature(self, kind: type[F]) -> F:
        """The one feature of this class, for the command line and tests."""
        [found] = [f for f in self.features if isinstance(f, kind)]
        return found
