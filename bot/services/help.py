from __future__ import annotations

import difflib
import logging
import re

from bot.chat import Chat
from bot.commands import Args, CommandBook, UsageError, clip
from bot.interaction import Interaction
from bot.model import Context, MessagePosted, Origin, OutgoingMessage, Role, Text
from bot.ports import Capability
from bot.registry import Registry

_ROLE_NOTE = {
    Role.STAFF: "You're using copbot as staff.",
    Role.FACILITATOR: "You're a facilitator, so you also see the commands for running sessions.",
    Role.ADMIN: "You're an admin, so you see every command.",
}


log = logging.getLogger(__name__)

PRIVATE_NOTE = (
    "Here, nobody else can see a message only for you, so my answers to your commands "
    "come to your 1:1 chat with me."
)


class HelpFeature:
    """``help``: every verb the caller may use, one line each; ``help VERB`` for more.
    And a private hint for a message that looks like a mistyped command (``/cops help``,
    ``cop help``), which would otherwise sit in the channel unanswered."""

    def __init__(self, commands: CommandBook, chat: Chat) -> None:
        self._commands = commands
        self._chat = chat

    def register(self, registry: Registry) -> None:
        registry.verb(
            "help",
            "Show what you can ask me to do",
            self.help,
            usage="[command]",
        )
        registry.listen(MessagePosted, self.hint)

    async def hint(self, event: MessagePosted) -> None:
        if event.from_bot or event.author.is_anonymous:
            return
        platform = event.message.channel.platform
        prefix = self._chat.command_prefix(platform)
        meant = self._meant(event.text, prefix)
        if meant is None:
            return
        origin = Origin(event.author, event.message.channel, event.thread)
        how = (
            f"Choose {self._chat.app_name(platform)} from the list Teams shows as you type "
            f"`{prefix}`, so that it becomes a mention; otherwise I take it as an ordinary message."
            if prefix.startswith("@")
            else f"Commands start with `{prefix}`; then only you see my answer."
        )
        try:
            await self._chat.respond(origin, OutgoingMessage.of(f"Did you mean `{meant}`? {how}"))
        except Exception as e:
            # A courtesy, given up: failing, it would keep the message from the archive
            # (retried, the hint could come twice). The type only: a message may quote.
            log.warning("could not send a hint for a mistyped command (%s)", type(e).__name__)

    def _meant(self, text: str, prefix: str) -> str | None:
        """The command a message seems meant to be, or None when it's just a message."""
        words = text.split(maxsplit=1)
        if not words:
            return None
        first = words[0].lower()
        if prefix.startswith("@"):
            # Teams: "@copbot help" typed without choosing copbot from Teams' list is plain
            # text, not a mention, so it comes as a message, not a command. The app's name
            # may be words of its own ("@IPS CoP").
            typed = re.match(rf"\s*{re.escape(prefix)}[:,]?(?=\s|$)", text, re.IGNORECASE)
            if typed is None:
                return None
            rest = clip(text[typed.end() :].strip())
            said = rest.split()[0].lower() if rest else ""
            if said and said not in {v.name.split()[0] for v in self._commands}:
                return None
            return f"{prefix} {rest}" if rest else f"{prefix} help"
        if not prefix.startswith("/"):
            return None
        named = ("cop", "copbot", prefix[1:] + "bot")
        if not first.startswith("/") and first not in named:
            return None  # most messages: checked before the verbs are gathered
        rest = clip(words[1].strip() if len(words) > 1 else "")
        verbs = {v.name.split()[0] for v in self._commands}
        said_verb = rest.split()[0].lower() if rest else ""
        if first.startswith("/") and first != prefix:
            # "/cops help", "/cpo": close to the command, and nothing else it could be.
            if difflib.SequenceMatcher(None, first, prefix).ratio() < 0.75:
                return None
            if said_verb and said_verb not in verbs:
                return None
        elif first not in named or said_verb not in verbs:
            return None
        return f"{prefix} {rest}" if rest else f"{prefix} help"

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
        known = [v for v in self._commands if v.name == name or v.name.split()[0] == name]
        if not known:
            names = sorted(
                {v.name for v in self._commands} | {v.name.split()[0] for v in self._commands}
            )
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hint = f" Did you mean `{ix.prefix} help {close[0]}`?" if close else ""
            raise UsageError(
                f"There's no command `{clip(name)}`.{hint} `{ix.prefix} help` lists them all."
            )
        verbs = [v for v in known if v.role <= ix.role]
        if not verbs:
            needed = min(v.role for v in known)
            who = "facilitators and admins" if needed is Role.FACILITATOR else "admins"
            return (
                f"`{ix.prefix} {clip(name)}` is for {who}; your role is {ix.role.label}. "
                f"If you need it, ask one of them, or ask an admin for the role: "
                f"`{ix.prefix} role list` shows who they are."
            )
        return "\n\n".join(
            f"`{v.synopsis(ix.prefix)}`\n{v.summary}." + (f"\n{v.details}" if v.details else "")
            for v in verbs
        )
