"""What people type into search, read as terms that make a safe SQLite FTS5 query.

Any text is a valid search. Words are matched as words: FTS5's own syntax (AND, OR, NOT,
NEAR, column filters, parentheses, ^, +) is never interpreted, so nothing anyone types can
fail or reach into other columns. Two things people expect do work: "a phrase in quotes"
(when the quotes are balanced) and prefix* searches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A word is what FTS5's unicode61 tokenizer keeps: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+(\*?)")
_MIN_PREFIX = 3  # "ab*" would match much of the archive, slowly


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
    return terms
