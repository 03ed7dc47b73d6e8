"""Which prompt a channel gets next: nothing twice until it has seen them all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.records import Prompt, PromptPost


def next_prompt(candidates: Sequence[Prompt], history: Sequence[PromptPost]) -> Prompt | None:
    """The next prompt for a channel, given what it was posted before (oldest first).

    Only prompts posted the fewest times are eligible, so no prompt repeats until every
    candidate has had its turn. Among those, the topic the channel heard from longest
    ago (or never) goes first, and within a topic the library's own order is kept.
    """
    if not candidates:
        return None
    counts = Counter(post.prompt_id for post in history)
    fewest = min(counts[p.id] for p in candidates)
    eligible = [p for p in candidates if counts[p.id] == fewest]
    last_heard = {post.topic: i for i, post in enumerate(history)}
    topic_order = {p.topic: i for i, p in reversed(list(enumerate(candidates)))}
    topic = min({p.topic for p in eligible}, key=lambda t: (last_heard.get(t, -1), topic_order[t]))
    return next(p for p in eligible if p.topic == topic)
