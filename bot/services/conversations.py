from __future__ import annotations

from typing import Protocol

from bot.registry import PersonalData, Registry


class ConversationRepository(Protocol):
    async def forget_person(self, identity: str) -> int: ...


class ConversationsFeature:
    """Declares where platforms' conversation references live (Teams keeps one per person,
    for their 1:1 chat with copbot), so erasure reaches them."""

    def __init__(self, conversations: ConversationRepository) -> None:
        self._conversations = conversations

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "chat reference(s)",
                ("teams_conversations.person", "teams_conversations.reference"),
                erase=self._conversations.forget_person,
                # How copbot answers them privately (its answer to `optout` too): only
                # `copbot erase` forgets it.
                on_opt_out=False,
                notice=(
                    "On Teams, the way to your 1:1 chat with copbot, so that it can answer you "
                    "privately."
                ),
            )
        )
