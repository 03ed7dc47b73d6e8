from __future__ import annotations

from bot.commands import Args, CommandBook, UsageError
from bot.interaction import Interaction
from bot.model import Context, OutgoingMessage, Role, Text
from bot.ports import Capability
from bot.registry import Registry

_ROLE_NOTE = {
    Role.STAFF: "You're using copbot as staff.",
    Role.FACILITATOR: "You're a facilitator, so you also see the commands for running sessions.",
    Role.ADMIN: "You're an admin, so you see every command.",
}


PRIVATE_NOTE = (
    "Here, nobody else can see a message only for you, so my answers to your commands "
    "come to your 1:1 chat with me."
)


class HelpFeature:
    """``help``: every verb the caller may use, one line each; ``help VERB`` for more."""

    def __init__(self, commands: CommandBook) -> None:
        self._commands = commands

    def register(self, registry: Registry) -> None:
        registry.verb(
            "help",
            "Show what you can ask me to do",
            self.help,
            usage="[command]",
        )

    async def help(self, ix: Interaction, args: Args) -> None:
        if args:
            await ix.reply(self._about(ix, args.text.lower()))
            return
        lines = [
            f"`{verb.synopsis(ix.prefix)}`: {verb.summary}"
            for verb in self._commands.available_to(ix.role)
        ]
        notes = [Context(f"{_ROLE_NOTE[ix.role]} Type `{ix.prefix} help COMMAND` for more.")]
        platform = ix.origin.channel.platform
        if platform in ix.chat.platforms and (
            Capability.PRIVATE_REPLIES not in ix.chat.adapter(platform).capabilities
        ):
            # Teams: nothing only one person sees, so answers go somewhere else.
            notes.append(Context(PRIVATE_NOTE))
        await ix.reply(
            OutgoingMessage(
                (Text("**Here's what you can ask me to do**"), Text("\n".join(lines)), *notes)
            )
        )

    def _about(self, ix: Interaction, name: str) -> str:
        verbs = [
            v
            for v in self._commands.available_to(ix.role)
            if v.name == name or v.name.split()[0] == name
        ]
        if not verbs:
            raise UsageError(f"There's no command `{name}` that you can use.")
        return "\n\n".join(
            f"`{v.synopsis(ix.prefix)}`\n{v.summary}." + (f"\n{v.details}" if v.details else "")
            for v in verbs
        )
