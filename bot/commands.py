"""One command grammar for every platform: ``<verb> [args]`` after ``/cop`` or ``@copbot``.

Verbs may be one word (``help``) or two (``role grant``). Parsing finds the longest
registered verb at the start of the text; the rest are its arguments, split like a shell
would split them (quotes group words). Every failure is a ``CommandError`` whose message
is written for the person who typed the command.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import WordedError
from bot.model import Role, UserRef

if TYPE_CHECKING:
    from bot.interaction import Interaction

Handler = Callable[["Interaction", "Args"], Awaitable[None]]


class CommandError(WordedError):
    """A problem with what someone typed; the message is shown to them as it is."""


class UsageError(CommandError):
    """Bad arguments for a known verb; the verb's usage is shown after the message."""

    usage = ""  # filled in by the router, which knows the verb and the platform's prefix

    @property
    def words(self) -> str:
        return f"{self}\nUsage: `{self.usage}`" if self.usage else str(self)


@dataclass(frozen=True)
class Verb:
    name: str  # one or two words, lower case
    summary: str  # one line for help
    usage: str = ""  # arguments, e.g. "ROLE @person"
    role: Role = Role.STAFF
    handler: Handler | None = None
    details: str = ""  # longer help, shown by "help <verb>"
    raw: bool = False  # takes the rest of the text as typed (search), not shell-split words
    # Asks for an anonymous form (``feedback``): who asked is used to answer them and then
    # forgotten, never noted in the people directory, like a press of a private button.
    private: bool = False
    # Changes how its conversation's messages are kept (``archive on``): handled in turn
    # with the messages accepted before it, not ahead of them as other commands are.
    in_turn: bool = False

    def synopsis(self, prefix: str) -> str:
        return f"{prefix} {self.name}" + (f" {self.usage}" if self.usage else "")


@dataclass(frozen=True)
class Args:
    """The words after the verb."""

    words: tuple[str, ...]
    raw: str = ""  # the text after the verb, exactly as typed

    def __len__(self) -> int:
        return len(self.words)

    def __bool__(self) -> bool:
        return bool(self.words)

    def get(self, index: int, default: str = "") -> str:
        return self.words[index] if index < len(self.words) else default

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Parsed:
    verb: Verb
    args: Args


_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_NAMED_MENTION = re.compile(r"<@([a-z]+:[^|>\s]+)\|[^>]*>")
# How close a word said to copbot must be to a verb's to be taken for a mistyped command
# ("serach" 0.83, "hlep" 0.75), not someone talking ("hello" 0.67, "helpful" 0.73).
MISTYPED = 0.75


def _verb_word(word: str) -> str:
    # Written as people write: "@copbot optout, please" and "@copbot help!" name the verb.
    return word.lower().rstrip(",.!?;:")


def tokenize(text: str) -> list[str]:
    # A mention's display name may hold spaces or quotes; the identity is what matters.
    text = _NAMED_MENTION.sub(r"<@\1>", text.translate(_SMART_QUOTES))
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        raise CommandError(
            "There's a quote in your command that isn't closed. "
            'Put quotes around words that belong together, like "Tuesday drop-in".'
        ) from None


class CommandBook:
    """The verbs copbot understands, and the parser that finds them."""

    def __init__(self) -> None:
        self._verbs: dict[str, Verb] = {}

    def add(self, verb: Verb) -> None:
        if verb.name in self._verbs:
            raise ValueError(f"verb '{verb.name}' is registered twice")
        if not 1 <= len(verb.name.split()) <= 2:
            raise ValueError(f"verb '{verb.name}' must be one or two words")
        self._verbs[verb.name] = verb

    def __iter__(self) -> Iterator[Verb]:
        return iter(sorted(self._verbs.values(), key=lambda v: v.name))

    def get(self, name: str) -> Verb | None:
        return self._verbs.get(name)

    def available_to(self, role: Role) -> list[Verb]:
        return [v for v in self if v.role <= role]

    def verb_of(self, text: str) -> tuple[Verb, int] | None:
        """The verb ``text`` starts with, and how many words it takes; None if none."""
        said = text.split(maxsplit=2)[:2]
        head = [_verb_word(w) for w in said]
        # Punctuation after the first word ends the verb: "archive, on balance ..." is
        # someone talking, never `archive on`.
        sizes = (1,) if said and head[0] != said[0].lower() else (2, 1)
        for size in sizes:
            if len(head) >= size and (verb := self._verbs.get(" ".join(head[:size]))):
                return verb, size
        return None

    def is_command(self, text: str) -> bool:
        """Whether ``text`` is meant for copbot: it starts with a verb's first word, or is
        empty (``@copbot`` alone asks for help). Said after a mention, anything else is a
        person talking to the room ("@copbot thanks, that helped")."""
        head = text.split(maxsplit=1)
        return not head or any(n.split()[0] == _verb_word(head[0]) for n in self._verbs)

    def conversation_note(self, text: str, prefix: str) -> str:
        """The private answer to a mention that is no command: kind, since most are people
        naming copbot as they talk; with a hint for one that was a command mistyped."""
        head = text.split(maxsplit=1)
        close = self._close(head[0], prefix) if head else ""
        meant = (
            f"Did you mean `{close}`? `{prefix} help` shows what I can do."
            if close
            else f"If you meant to ask me something, `{prefix} help` shows what I can do."
        )
        # "Your message", not "that": on Teams the note arrives in another chat.
        return f"I took your message as part of the conversation, not as a command. {meant}"

    def looks_mistyped(self, text: str) -> bool:
        """Whether ``text``, no command, starts with a word very close to a verb's
        (``serach``, ``hlep``): closer than a suggestion needs, since it decides whether
        someone talking ("@copbot hello everyone") is sent a message at all."""
        head = text.split(maxsplit=1)
        return bool(head) and bool(self._close(head[0], "", cutoff=MISTYPED))

    def _close(self, word: str, prefix: str, cutoff: float = 0.6) -> str:
        first_words = sorted({n.split()[0] for n in self._verbs})
        close = difflib.get_close_matches(word.lower(), first_words, n=1, cutoff=cutoff)
        return f"{prefix} {close[0]}" if close else ""

    def parse(self, text: str, prefix: str = "/cop") -> Parsed:
        # Verbs are plain words, so they are found before any quoting is read.
        head_words = text.split(maxsplit=2)
        if not head_words:
            help_verb = self._verbs.get("help")
            if help_verb is None:
                raise CommandError("Nothing to do: type a verb after the command.")
            return Parsed(help_verb, Args(()))
        head = [_verb_word(w) for w in head_words[:2]]
        found = self.verb_of(text)
        if found is not None:
            verb, size = found
            rest = text.split(maxsplit=size)[size] if len(text.split()) > size else ""
            if verb.raw:
                return Parsed(verb, Args(tuple(rest.split()), rest.strip()))
            try:
                words = tokenize(rest)
            except CommandError:
                if verb.usage:
                    raise
                # A verb that takes nothing reads no quotes: "optout, don't keep this"
                # leaves none open.
                words = rest.split()
            return Parsed(verb, Args(tuple(words), rest.strip()))
        try:
            words = tokenize(text.strip())
        except CommandError:
            # No verb to read quotes for: only the first words are named back.
            words = text.split()
        subverbs = sorted(n.split()[1] for n in self._verbs if n.split()[0] == head[0])
        if subverbs:
            said = (
                f"`{head[0]} {_clip(words[1])}` isn't something I know."
                if len(words) > 1
                else f"`{prefix} {head[0]}` needs one more word."
            )
            raise CommandError(
                f"{said} Try one of: "
                + ", ".join(f"`{prefix} {head[0]} {s}`" for s in subverbs)
                + "."
            )
        raise CommandError(self._unknown(words[0], prefix))

    def _unknown(self, word: str, prefix: str) -> str:
        close = self._close(word, prefix)
        hint = f" Did you mean `{close}`?" if close else ""
        return (
            f"I don't know the command `{_clip(word)}`.{hint} "
            f"Type `{prefix} help` to see what I can do."
        )


def did_you_mean(word: str, choices: Iterable[str], shown: str = "`{}`") -> str:
    """A hint, like ' Did you mean `x`?', naming the closest of ``choices``; or ""."""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {shown.format(close[0])}?" if close else ""


_MENTION = re.compile(r"^<@([a-z]+:[^|>\s]+)(?:\|([^>]*))?>$")


MAX_IDENTITY = 200  # Slack ids are ~11 characters, Teams' longest ~150
MAX_NUMBER_DIGITS = 18  # below SQLite's largest integer, and int()'s limit on digits


def parse_person(word: str) -> UserRef:
    """A person named in a command: a mention (``<@slack:U1>``) or an identity (``slack:U1``)."""
    if len(word) > MAX_IDENTITY:
        raise UsageError(
            f"`{_clip(word)}` is {len(word):,} characters long, longer than anyone's identity. "
            "Mention the person (@name) or write their identity, like slack:U123 or local:sam."
        )
    m = _MENTION.match(word)
    try:
        if m:
            return UserRef.parse(m.group(1), m.group(2) or "")
        return UserRef.parse(word)
    except ValueError:
        raise UsageError(
            f"I couldn't tell who `{_clip(word)}` is. Mention the person (@name) "
            "or write their identity, like slack:U123 or local:sam."
        ) from None


def parse_number(word: str, what: str, listing: str) -> int:
    """A number someone typed (``12`` or ``#12``), in ASCII digits: ``isdigit`` also
    accepts "²", which ``int`` refuses."""
    digits = word.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_NUMBER_DIGITS:
        raise UsageError(f"`{_clip(word)}` isn't {what}; `{listing}` shows them.")
    return int(digits)


def parse_role(word: str) -> Role:
    try:
        role = Role.parse(word)
    except ValueError:
        raise UsageError(
            f"`{_clip(word)}` isn't a role. Roles are facilitator and admin."
        ) from None
    if role is Role.STAFF:
        raise UsageError(
            "Everyone is staff already. Roles you can grant are facilitator and admin."
        )
    return role


def clip(word: str, limit: int = 40) -> str:
    """What someone typed, short enough to quote back to them."""
    word = word.replace("`", "'")
    return word if len(word) <= limit else word[: limit - 1] + "…"


_clip = clip
