"""What people type into search, read as terms that make a safe SQLite FTS5 query.

Any text is a valid search. Words are matched as words: FTS5's own syntax (AND, OR, NOT,
NEAR, column filters, parentheses, ^, +) is never interpreted, so nothing anyone types can
fail or reach into other columns. Two things people expect do work: "a phrase in quotes"
(when the quotes are balanced) and prefix* searches. A search has at most ``MAX_TERMS``
words and phrases, each phrase at most ``MAX_PHRASE_WORDS`` words: each costs a read of
the index, and a search longer than that narrows nothing more but keeps a reader busy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import WordedError

# A word is what FTS5's unicode61 tokenizer keeps: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+(\*?)")
_MIN_PREFIX = 3  # "ab*" would match much of the archive, slowly
MAX_TERMS = 16
MAX_PHRASE_WORDS = 16


class SearchTooLong(WordedError):
    """A search with more words than copbot reads; the message says how many it takes."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # more than one: a phrase
    prefix: bool = False

    def fts(self) -> str:
        # Words hold only letters and digits, so quoting them needs no escaping.
        quoted = '"' + " ".join(self.words) + '"'
        return quoted + ("*" if self.prefix else "")


def parse_terms(text: str) -> list[Term]:
    terms: list[Term] = []
    parts = text.split('"')
    for i, part in enumerate(parts):
        # Odd parts sit after an opening quote; the last one has no closing quote when
        # the quotes don't pair up, and is read as plain words.
        if i % 2 == 1 and i < len(parts) - 1:
            words = tuple(m.group(0).rstrip("*") for m in _WORD.finditer(part))
            if words:
                terms.append(Term(words))
            continue
        for m in _WORD.finditer(part):
            word = m.group(0).rstrip("*")
            terms.append(Term((word,), prefix=bool(m.group(1)) and len(word) >= _MIN_PREFIX))
    # A word (or phrase) given twice narrows nothing more; in ASCII, FTS5 ignores case (and
    # beyond it folds as Python may not, so those are compared as written).
    firsts: dict[tuple[tuple[str, ...], bool], Term] = {}
    for term in terms:
        key = tuple(w.lower() if w.isascii() else w for w in term.words)
        firsts.setdefault((key, term.prefix), term)
    unique = list(firsts.values())
    if len(unique) > MAX_TERMS:
        raise SearchTooLong(
            f"That search has {len(unique)} words and phrases; search for at most {MAX_TERMS}"
            " at once (the fewest that say what you mean find the most)."
        )
    longest = max(len(t.words) for t in unique) if unique else 0
    if longest > MAX_PHRASE_WORDS:
        raise SearchTooLong(
            f"A phrase in quotes can be at most {MAX_PHRASE_WORDS} words long; that one has"
            f" {longest}."
        )
    return unique
