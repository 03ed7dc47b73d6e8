"""Relevance computed in Python for searches SQLite can't rank cheaply (bot/ranking.py):
the same words, phrases and prefixes FTS5 matches, counted the same way."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.ranking import HIT_END, HIT_START, clip_snippet, fold, rank, snippet, words
from bot.search_query import Term, parse_terms

DOCUMENTS = 1_000


def order(candidates: list[tuple[int, str]], query: str, frequencies: list[int]) -> list[int]:
    return [s.rowid for s in rank(candidates, parse_terms(query), frequencies, DOCUMENTS, 10)]


def test_a_phrase_counts_where_its_words_are_together_in_order() -> None:
    candidates = [
        (1, "conversations about race with clients"),  # once, in order
        (2, "race about conversations with clients"),  # the words, not the phrase
        (3, "about race, and then about race again"),  # twice, across punctuation
    ]
    assert order(candidates, '"about race"', [50]) == [3, 1, 2]
    scores = {
        s.rowid: s.score for s in rank(candidates, parse_terms('"about race"'), [50], 1000, 3)
    }
    assert scores[2] == 0.0


def test_a_phrase_at_the_end_of_a_message_and_overlapping_itself_counts_each_time() -> None:
    once = (1, "we talked and it was very very")
    twice = (2, "we talked and it was very very very")  # "very very" starts at 5 and 6
    assert order([once, twice], '"very very"', [5]) == [2, 1]


def test_a_prefix_matches_words_that_start_with_it_and_accents_fold_as_fts5_folds_them() -> None:
    candidates = [
        (1, "Discussing it helped"),
        (2, "nothing to see here"),
        (3, "DISCUSSION, discussions, discussed"),
        (4, "Café culture"),
    ]
    assert order(candidates, "disc*", [20])[:2] == [3, 1]
    assert order(candidates, "cafe", [5])[0] == 4


def test_a_rarer_word_weighs_more_and_ties_go_to_the_newest() -> None:
    candidates = [(1, "equality training"), (2, "equality act"), (3, "training act")]
    # "act" is rare, "training" common: the message with "act" wins between equals.
    assert order(candidates, "training act", [900, 3])[0] == 3
    assert order([(1, "same words"), (2, "same words")], "same", [10]) == [2, 1]


def test_the_snippet_marks_every_word_of_a_phrase_found() -> None:
    shown = snippet("We spoke about race at length", [Term(("about", "race"))])
    assert f"{HIT_START}about{HIT_END} {HIT_START}race{HIT_END}" in shown
    assert f"{HIT_START}spoke" not in shown


def test_a_long_snippet_is_clipped_around_its_first_match_with_its_marks_paired() -> None:
    long = "a" * 500 + f" {HIT_START}{'b' * 400}{HIT_END} c"
    clipped = clip_snippet(long, 100)
    assert clipped.startswith("…a") and clipped.endswith(f"{HIT_END}…")
    assert clipped.count(HIT_START) == clipped.count(HIT_END) == 1
    assert len(clipped) == 1 + 100 + 2 + 1
    assert clip_snippet("short", 100) == "short"


@given(st.text(alphabet=st.characters(max_codepoint=0x24F)))
def test_words_are_what_the_word_pattern_finds_in_folded_text(text: str) -> None:
    """ASCII text is split by a translation table, the rest by the pattern: the same words."""
    assert words(text) == re.findall(r"[^\W_]+", fold(text))
