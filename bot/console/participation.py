"""Counting replies so that nobody can be picked out.

Hiding each small group on its own is not enough: a month's total minus the topics shown
would give away a hidden topic's count. So the counts come from one set of replies, the
ones whose topic, region, month and prompt groups all have at least ``least`` people;
groups are dropped until that holds. Every breakdown then adds up to the same total, and
no hidden group's count can be worked out from the others. Anonymous replies never count
as people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

DIMENSIONS = ("topic", "region", "month", "prompt")

# topic, region, month, prompt, author ("" when anonymous), replies
Row = tuple[str, str, str, str, str, int]


@dataclass(frozen=True)
class Counted:
    by: str
    shown: tuple[tuple[str, int], ...]  # (group, replies), each group with enough people
    hidden: tuple[str, ...]  # groups left out: named, never counted


def count(rows: Iterable[Row], least: int) -> dict[str, Counted]:
    kept = list(rows)
    every = {d: sorted({_group(r, i) for r in kept}) for i, d in enumerate(DIMENSIONS)}
    while True:
        small = {d: _small(kept, i, least) for i, d in enumerate(DIMENSIONS)}
        left = [
            r for r in kept if not any(_group(r, i) in small[d] for i, d in enumerate(DIMENSIONS))
        ]
        if len(left) == len(kept):
            break
        kept = left
    counted = {}
    for i, d in enumerate(DIMENSIONS):
        replies: dict[str, int] = defaultdict(int)
        for r in kept:
            replies[_group(r, i)] += r[5]
        counted[d] = Counted(
            d, tuple(sorted(replies.items())), tuple(g for g in every[d] if g not in replies)
        )
    return counted


def _small(rows: list[Row], i: int, least: int) -> set[str]:
    people: dict[str, set[str]] = {}
    for r in rows:
        # A group of anonymous replies alone has nobody in it: it is small.
        who = people.setdefault(_group(r, i), set())
        if r[4]:
            who.add(r[4])
    return {g for g, who in people.items() if len(who) < least}


def _group(row: Row, i: int) -> str:
    return (row[0], row[1], row[2], row[3])[i]
