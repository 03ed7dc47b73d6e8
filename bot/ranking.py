"""Relevance for searches SQLite can't rank cheaply: BM25 over a window of candidates, and
the snippet shown for each.

SQLite's FTS5 ranks with ORDER BY rank, but its bm25() first counts every row holding each
phrase of the query (filter words included) to weigh it: a word found in half the archive
costs ~30 ms at a million messages before ranking starts. For such searches the storage
layer fetches the newest matches and ranks them here with the same BM25 (k1 1.2, b 0.75),
weighing each term by a document frequency it estimated cheaply.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.search_query import Term

K1 = 1.2
B = 0.75
HIT_START, HIT_END = "\x02", "\x03"  # matched words in a snippet, for the caller to style
SNIPPET_WORDS = 24
# However long its words, or what lies between them: a 40 KB message's snippet is a glimpse,
# not the message (five of them would pass what Slack and Teams take in one answer).
SNIPPET_CHARACTERS = 300

_WORD = re.compile(r"[^\W_]+")
# What separates _WORD's words in ASCII: everything but letters and digits.
_ASCII_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


def fold(text: str) -> str:
    """Text as FTS5's unicode61 tokenizer (remove_diacritics 2) sees it: lower case, no accents."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    folded = fold(text)
    if folded.isascii():  # most messages: split in C, twice as fast as the pattern
        return folded.translate(_ASCII_SEPARATORS).split()
    return _WORD.findall(folded)


def _count(tokens: list[str], term: Term) -> int:
    if len(term.words) > 1:
        return len(_occurrences(tokens, term))
    word = fold(term.words[0])
    if term.prefix:
        # Words that start with it: each follows a space once the words are joined by
        # spaces, so counting " " + prefix counts them (in C, not a loop here).
        return (" " + " ".join(tokens)).count(" " + word)
    return tokens.count(word)  # the common case, counted in C


def _occurrences(tokens: list[str], term: Term) -> list[int]:
    """Where in ``tokens`` a term starts (a word, a prefix*, or a phrase)."""
    first = fold(term.words[0])
    if len(term.words) == 1:
        if term.prefix:
            return [i for i, t in enumerate(tokens) if t.startswith(first)]
        return _positions(tokens, first)
    rest = [fold(w) for w in term.words[1:]]
    n = len(rest)
    return [i for i in _positions(tokens, first) if tokens[i + 1 : i + 1 + n] == rest]


def _positions(tokens: list[str], word: str) -> list[int]:
    """Where ``word`` is in ``tokens``, found by list.index (in C) rather than a loop here:
    a phrase's first word is often a common one, in every candidate."""
    found: list[int] = []
    at = -1
    try:
        while True:
            at = tokens.index(word, at + 1)
            found.append(at)
    except ValueError:
        return found


@dataclass(frozen=True)
class Scored:
    score: float
    rowid: int


def idf(documents: int, containing: int) -> float:
    # The "+ 1" keeps every weight positive, however common the word (as Lucene does).
    return math.log((documents - containing + 0.5) / (containing + 0.5) + 1)


def rank(
    candidates: Sequence[tuple[int, str]],
    terms: Sequence[Term],
    frequencies: Sequence[int],
    documents: int,
    limit: int,
) -> list[Scored]:
    """The ``limit`` best of ``candidates`` (rowid, text) by BM25; ties go to the newest."""
    weights = [idf(documents, f) for f in frequencies]
    tokenised = [(rowid, words(text)) for rowid, text in candidates]
    average = sum(len(t) for _, t in tokenised) / max(1, len(tokenised)) or 1.0
    scored = []
    for rowid, tokens in tokenised:
        norm = K1 * (1 - B + B * len(tokens) / average)
        score = 0.0
        for term, weight in zip(terms, weights, strict=True):
            tf = _count(tokens, term)
            if tf:
                score += weight * tf * (K1 + 1) / (tf + norm)
        scored.append(Scored(score, rowid))
    scored.sort(key=lambda s: (-s.score, -s.rowid))
    return scored[:limit]


def snippet(text: str, terms: Sequence[Term], size: int = SNIPPET_WORDS) -> str:
    """Up to ``size`` words of ``text`` around the first match, matches marked."""
    spans = [m.span() for m in _WORD.finditer(text)]
    tokens = [fold(text[a:b]) for a, b in spans]
    hits: set[int] = set()
    for term in terms:
        for start in _occurrences(tokens, term):
            hits.update(range(start, start + len(term.words)))
    if not spans:
        return text[:200]
    first = min(hits) if hits else 0
    lo = max(0, min(first - size // 3, len(spans) - size))
    hi = min(len(spans), lo + size)
    out = ["…"] if lo > 0 else []
    cursor = spans[lo][0]
    for i in range(lo, hi):
        a, b = spans[i]
        out.append(text[cursor:a])
        out.append(f"{HIT_START}{text[a:b]}{HIT_END}" if i in hits else text[a:b])
        cursor = b
    out.append(text[cursor:] if hi == len(spans) else "…")
    return clip_snippet("".join(out).strip())


def clip_snippet(snippet: str, limit: int = SNIPPET_CHARACTERS) -> str:
    """A snippet cut to ``limit`` characters shown, from a little before its first match,
    with its marks kept in pairs."""
    marks = snippet.count(HIT_START) + snippet.count(HIT_END)
    if len(snippet) - marks <= limit:
        return snippet
    first = max(0, snippet.find(HIT_START))
    start = max(0, first - limit // 3)
    out = ["…"] if start > 0 and not snippet.startswith("…", start) else []
    shown, inside = 0, False
    for char in snippet[start:]:
        if char in (HIT_START, HIT_END):
            inside = char == HIT_START
        elif shown == limit:
            out.append(f"{HIT_END}…" if inside else "…")
            return "".join(out)
        else:
            shown += 1
        out.append(char)
    return "".join(out)
