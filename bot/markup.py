"""The neutral markup every adapter renders: **bold**, _italic_, `code`, [label](https://url).

A backslash makes the next markup character literal, so text people wrote can be shown
inside a bot message without becoming bold, a link or code by accident.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\*_`\[\]()])")
ESCAPED = re.compile(r"\\([\\*_`\[\]()])")  # a backslash and the character it makes literal


def escape(text: str) -> str:
    """Text people wrote, made literal for the markup."""
    return _SPECIAL.sub(r"\\\1", text)


# C0 and C1 control characters but tab and newline: nobody means them, and in an export a
# NUL, an escape or a NEL can cut a CSV row short, break a line or drive a terminal.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Those that end a line, as some systems write it: a newline, so words stay apart.
_TEXT_BREAK = re.compile(r"\r\n?|[\x0b\x0c\x85]")
# In a name, every one of them: a name is one line.
_NAME_BREAK = re.compile(r"[\t\n\x0b\x0c\r\x85]+")
_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# A Teams app's short name (at most 30 characters) as copbot will write it before a command:
# nothing that would read as markup or break out of a code span.
TEAMS_NAME = re.compile(r"[^\s<>`*_~@\\|\[\]][^<>`*_~@\\|\[\]\n\r\t]{0,29}")


def kept_text(text: str) -> str:
    """A message's text as copbot keeps and shows it: without control characters, a line
    ended in any of the ways systems end one ended by a newline."""
    if not CONTROL.search(text):  # nearly every message
        return text
    return CONTROL.sub("", _TEXT_BREAK.sub("\n", text))


def kept_name(name: str) -> str:
    """A person's or a channel's name as copbot keeps and shows it, whichever platform
    sent it: one line, without control characters."""
    if name.isprintable() or not _NAME_CONTROL.search(name):  # nearly every name
        return name
    return _NAME_CONTROL.sub("", _NAME_BREAK.sub(" ", name)).strip()


# Right-to-left letters (Hebrew, Arabic, Syriac, Thaana, N'Ko…) and the controls that
# embed, override or isolate a direction: either can reorder the words around them.
_BIDI = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u200f\u061c\u202a-\u202e\u2066-\u2069"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
FSI, PDI = "\u2068", "\u2069"


def isolated(text: str) -> str:
    """People's words set in copbot's own, kept from reordering them: a name in Arabic,
    or a right-to-left override someone typed, would otherwise run on into what follows
    (the date after a name, the rest of a line). Unchanged when it holds neither."""
    # ASCII holds neither, and is checked in a tenth of the search's time: an export
    # asks this of every message.
    if text.isascii() or not _BIDI.search(text):
        return text
    if PDI in text:  # one without its opening would close ours early: left out
        text = _paired_isolates(text)
    return f"{FSI}{text}{PDI}"


def _paired_isolates(text: str) -> str:
    kept, depth = [], 0
    for char in text:
        if char in "\u2066\u2067\u2068":
            depth += 1
        elif char == PDI:
            if not depth:
                continue
            depth -= 1
        kept.append(char)
    return "".join(kept)
