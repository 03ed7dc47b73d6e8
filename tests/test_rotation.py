from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.model import ChannelRef, MessageRef
from bot.records import Prompt, PromptPost
from bot.rotation import next_prompt

CHANNEL = ChannelRef("test", "C1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def prompt(topic: str, n: int) -> Prompt:
    return Prompt(f"{topic}-{n}", topic, "t", "x", ("f?",), "note")


def run(candidates: list[Prompt], times: int, history: list[PromptPost] | None = None) -> list[str]:
    history = list(history or [])
    picked = []
    for i in range(times):
        p = next_prompt(candidates, history)
        assert p is not None
        picked.append(p.id)
        history.append(
            PromptPost(p.id, p.topic, MessageRef(CHANNEL, str(i)), T0 + timedelta(minutes=i))
        )
    return picked


library = st.lists(
    st.tuples(st.sampled_from("abcdefg"), st.integers(1, 4)), min_size=1, max_size=25, unique=True
).map(lambda pairs: [prompt(t, n) for t, n in pairs])


@given(library, st.integers(1, 3))
def test_no_prompt_repeats_until_every_prompt_has_had_its_turn(candidates, rounds) -> None:
    picked = run(candidates, len(candidates) * rounds)
    n = len(candidates)
    for r in range(rounds):
        assert sorted(picked[r * n : (r + 1) * n]) == sorted(p.id for p in candidates)


def test_topics_take_turns_before_any_topic_repeats() -> None:
    candidates = [prompt(t, n) for t in "abc" for n in (1, 2)]
    assert run(candidates, 6) == ["a-1", "b-1", "c-1", "a-2", "b-2", "c-2"]


def test_a_prompt_posted_by_hand_counts_for_the_rotation() -> None:
    candidates = [prompt(t, n) for t in "ab" for n in (1, 2)]
    by_hand = [PromptPost("b-2", "b", MessageRef(CHANNEL, "x"), T0)]
    assert run(candidates, 3, by_hand) == ["a-1", "b-1", "a-2"]


def test_nothing_to_choose_from() -> None:
    assert next_prompt([], []) is None
