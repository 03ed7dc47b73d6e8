"""The fakes' rate limits: what the fan-out benchmark and the fakes' 429s rest on."""

from __future__ import annotations

from tests.support.rate_limits import Limits, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_over_its_limit_is_refused_with_whole_seconds_to_wait_and_not_counted() -> None:
    clock = Clock()
    limits = Limits(per_key=(Rate(2, 1.0),), clock=clock)
    assert limits.refuse("create", "19:north") is None
    clock.now += 0.3
    assert limits.refuse("create", "19:north") is None
    assert limits.refuse("create", "19:north") == 1  # 0.7 s to go: Retry-After says 1
    assert limits.refuse("create", "19:london") is None  # another conversation is free
    clock.now += 0.71
    assert limits.refuse("create", "19:north") is None
    assert limits.refused == 1 and len(limits.accepted["create"]) == 4


def test_the_overall_limit_covers_every_key_and_only_the_methods_named() -> None:
    clock = Clock()
    limits = Limits(overall=(Rate(3, 2.0),), methods=frozenset({"chat.postMessage"}), clock=clock)
    assert [limits.refuse("chat.postMessage", f"C{n}") for n in range(4)] == [None] * 3 + [2]
    assert limits.refuse("chat.update", "C9") is None
    clock.now += 2.0
    assert limits.refuse("chat.postMessage", "C5") is None
