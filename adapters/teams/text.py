"""Teams message text (HTML, with ``<at>`` mentions) as plain text, and as command text.

Teams sends what people typed as a small HTML document (``<p>``, ``<div>``, ``<br>``,
``<a>``, entities), with each mention written ``<at>Name</at>`` and described, in order, by
the activity's ``mention`` entities. Two readings, like Slack's ``text.py``:

- ``plain_text``: what people read; mentions become ``@Name``, links show their address.
- ``command_text``: the command grammar of ``bot/commands.py``: people named become
  ``<@teams:<aad-object-id>>``; the mention of copbot itself is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser

from adapters.payload import OBJECT
from bot.markup import TEAMS_NAME

PLATFORM = "teams"

# Block elements end a line; everything else is inline.
_BLOCKS = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})
_SKIPPED = frozenset({"script", "style", "head", "title"})
# A quoted reply starts with Teams' own copy of the message quoted, in a blockquote of this
# type: someone else's words (since deleted, perhaps, or their author's opted out), not the
# person's, and never what they ask copbot.
_QUOTED = "http://schema.skype.com/Reply"
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_LINES = re.compile(r"\n{2,}")
# What may start a command before its verb: /cop (as in Slack), and copbot's name written
# out, as its answers say ("@copbot help"), which in the 1:1 chat arrives as plain text.
DEFAULT_NAME = "copbot"  # as bot.command_words writes it
_COMMAND_PREFIX = re.compile(r"^\s*(?:/cop|@?copbot:?|cop)(?=\s|$)", re.I)
# Text with no entity, no mention and no tag but paragraphs and line breaks.
_SIMPLE_TAGS = re.compile(r"</?(?:p|div)>|<br ?/?>")
# Written as runs of plain characters between tags: one alternative a character was
# several times slower.
_SIMPLE = re.compile(rf"[^<&]*(?:(?:{_SIMPLE_TAGS.pattern})[^<&]*)*")


class _Reader(HTMLParser):
    """Collects text; each ``<at>`` is replaced by what ``mention(n, name)`` gives."""

    def __init__(self, mention: MentionWriter) -> None:
        super().__init__(convert_charrefs=True)
        self._mention = mention
        self.parts: list[str] = []
        self._at: list[str] | None = None
        self._mentions = 0
        self._skipping = 0
        self._quotes = 0  # blockquotes open within a quoted reply's copy
        self._href: str | None = None
        self._link_start = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._quotes:
            self._quotes += tag == "blockquote"  # nested in the quote: skipped with it
        elif tag == "blockquote" and dict(attrs).get("itemtype") == _QUOTED:
            self._quotes = 1
        elif tag in _SKIPPED:
            self._skipping += 1
        elif tag == "at":
            self._at = []
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href") or None
            self._link_start = len(self.parts)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._quotes:
            self._quotes -= tag == "blockquote"
        elif tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "at" and self._at is not None:
            name = "".join(self._at).strip()
            self.parts.append(self._mention(self._mentions, name))
            self._mentions += 1
            self._at = None
        elif tag == "a" and self._href:
            label = "".join(self.parts[self._link_start :]).strip()
            if self._href.startswith(("http://", "https://")) and label != self._href:
                self.parts.append(f" ({self._href})")
            self._href = None
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping or self._quotes:
            return
        if self._at is not None:
            self._at.append(data)
        else:
            self.parts.append(data)


class MentionWriter:
    """Writes the n-th mention; the default writes ``@Name``."""

    def __call__(self, n: int, name: str) -> str:
        return f"@{name}"


def _read(html: str, mention: MentionWriter) -> str:
    if _SIMPLE.fullmatch(html):
        # Most messages: paragraphs of plain words, read as the parser would, much faster.
        text = _SIMPLE_TAGS.sub("\n", html)
    else:
        reader = _Reader(mention)
        reader.feed(html)
        reader.close()
        text = "".join(reader.parts)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    # Teams wraps every line in its own <p>: a paragraph is a line.
    return _LINES.sub("\n", "\n".join(lines)).strip()


def plain_text(html: str) -> str:
    """What people read: tags gone, entities decoded, ``<at>Sam</at>`` as ``@Sam``."""
    return _read(html, MentionWriter())


class _CommandMentions(MentionWriter):
    def __init__(self, mentioned: Sequence[str | None], me: str) -> None:
        self._mentioned = mentioned
        self._me = me

    def __call__(self, n: int, name: str) -> str:
        who = self._mentioned[n] if n < len(self._mentioned) else None
        if who == self._me:
            return " "  # copbot itself: the command is what follows
        if who:
            return f" <@{PLATFORM}:{who}> "
        return f"@{name}"  # someone copbot can't name: the core says it couldn't tell who


def command_text(
    html: str,
    mentions: Sequence[str | None],
    me: str = "",
    name: str = DEFAULT_NAME,
) -> str:
    """The command in a message: copbot's mention dropped, others as ``<@teams:aad>``.

    ``mentions`` holds, for each ``<at>`` in order, the aad object id of the person
    mentioned, ``me`` for copbot itself, or None when unknown. ``name``: the app's name
    in this organisation's Teams, which its answers write before commands ("@IPS CoP help").
    """
    text = _read(html, _CommandMentions(mentions, me))
    text = _SPACES.sub(" ", text.replace("\n", " ")).strip()
    if name != DEFAULT_NAME:
        text = re.sub(rf"^@{re.escape(name)}:?(?=\s|$)", "", text, count=1, flags=re.I).strip()
    return _COMMAND_PREFIX.sub("", text, count=1).strip()


class _Leading(MentionWriter):
    """Marks copbot's mentions, so that one starting the message can be told."""

    MARK = "\x00"  # nothing Teams sends as text

    def __init__(self, mentioned: Sequence[str | None], me: str) -> None:
        self._mentioned = mentioned
        self._me = me

    def __call__(self, n: int, name: str) -> str:
        who = self._mentioned[n] if n < len(self._mentioned) else None
        return self.MARK if who == self._me else f"@{name}"


def addressed(html: str, mentions: Sequence[str | None], me: str) -> bool:
    """Whether the message starts with a mention of copbot (``@copbot help``, ``@copbot
    thanks``): only then does it speak to copbot. One naming copbot later ("Hey @copbot
    help") is part of the conversation, as on Slack and the playground."""
    return bool(me) and _read(html, _Leading(mentions, me)).startswith(_Leading.MARK)


def own_name(entities: object, me: str, called: object) -> str | None:
    """copbot's name as Teams shows it in this organisation (the app package's, which an
    admin may have changed), from a mention of copbot; None without one it can use.

    ``called``: the name the activity gives its recipient, copbot. Teams fills that in; a
    mention's entity comes with the message, as its sender's client (or Graph) wrote it.
    copbot's name is one for everyone, in every answer: a mention is taken only when it
    names copbot as Teams does, never one person's word for what copbot is called."""
    if not me or not isinstance(entities, list) or not isinstance(called, str):
        return None
    for entity in entities:
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        mentioned = entity.get("mentioned")
        if isinstance(mentioned, dict) and mentioned.get("id") == me:
            # The name Teams knows, not the mention's text: a person may shorten that.
            name = mentioned.get("name")
            if (
                isinstance(name, str)
                and name.strip() == called.strip()
                and TEAMS_NAME.fullmatch(name.strip())
            ):
                return name.strip()
    return None


def mention_ids(entities: Sequence[Mapping[str, object]] | None) -> list[str]:
    """The Teams ids (``29:…``, ``28:…``) of the mention entities, in order."""
    ids: list[str] = []
    for entity in entities or ():
        if not isinstance(entity, OBJECT) or entity.get("type") != "mention":
            continue
        mentioned = entity.get("mentioned")
        ids.append(str(mentioned.get("id") or "") if isinstance(mentioned, OBJECT) else "")
    return ids
