"""The playground's small world: its channels, its people, and how they write commands."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.model import ChannelRef, Role, UserRef

PLATFORM = "local"
COMMAND = "/cop"
BOT = UserRef(PLATFORM, "copbot", "copbot")
CHANNELS = ("general", "north", "midlands", "london", "south")
# Private channels and their members (persona ids): only they see one, post in it, or find
# its messages in the archive.
PRIVATE_CHANNELS: Mapping[str, frozenset[str]] = {"leads": frozenset({"priya", "alex"})}


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    title: str
    role: Role

    @property
    def user(self) -> UserRef:
        return UserRef(PLATFORM, self.id, self.name)


PERSONAS = (
    Persona("sam", "Sam Okafor", "Employment specialist", Role.STAFF),
    Persona("priya", "Priya Shah", "Team leader and facilitator", Role.FACILITATOR),
    Persona("alex", "Alex Morgan", "IPS programme lead", Role.ADMIN),
)


def command_in(personas: Iterable[Persona], text: str, channel: ChannelRef) -> str | None:
    """The command in a message (its text after ``/cop`` or ``@copbot``, with persona
    mentions written as the core reads them), or None for a plain message.

    Forgiving, as people type: ``/COP HELP``, ``@copbot help``, and anything said in
    copbot's direct conversation, where there is nobody else to talk to. Only a message
    that starts with ``@copbot`` speaks to copbot, as on Slack and Teams: "Hey @copbot
    help" names it in passing, as part of the conversation."""
    first, *rest = text.split(maxsplit=1) or [""]
    if first.lower() in (COMMAND, f"@{BOT.id}"):
        return mentions(personas, "".join(rest))
    if channel.is_direct:
        return mentions(personas, text)
    return None


def names_copbot(text: str) -> bool:
    """Whether a message starts by mentioning copbot (``@copbot …``): in a channel, a
    message everyone there reads, as a mention is on Slack and Teams, not a slash command."""
    first = text.split(maxsplit=1)[0] if text.split() else ""
    return first.lower() == f"@{BOT.id}"


def mentions(personas: Iterable[Persona], text: str) -> str:
    """``@sam`` or ``@Sam Okafor`` (any case) -> ``<@local:sam>``, as Slack's adapter
    writes ``<@U123>``; an unknown ``@word`` is left for the core to refuse."""
    for persona in sorted(personas, key=lambda p: -len(p.name)):
        for said in (persona.name, persona.id):
            text = re.sub(
                rf"(?<![\w<])@{re.escape(said)}(?![\w-])",
                f"<@{persona.user.identity}>",
                text,
                flags=re.IGNORECASE,
            )
    return text
