"""A realistic synthetic archive: Zipf-distributed words, threads, channels, people, time.

Words follow a Zipf law (the n-th commonest word is about 1/n as frequent as the first),
as words in real conversation do: a uniform vocabulary would make every word rare and
every search look fast. Threads have a root and a long tail of replies; some channels and
people are much busier than others.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prompts import load_library

FUNCTION_WORDS = (
    "the and to of a i in that it is you we for with this was on be have they but not are "
    "so what at about my our think as all can just if do or there people how when more "
    "one work would like been some them an who really feel their from because very by "
    "know had out time me"
).split()
REGIONS = ("north", "midlands", "london", "south", "national")
START = datetime(2023, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Corpus:
    words: list[str]
    cum_weights: list[float]
    channels: list[tuple[str, str]]  # (id, name)
    users: list[tuple[str, str]]  # (id, display name)


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(FUNCTION_WORDS)
    for prompt in load_library().prompts:
        for word in re.findall(
            r"[a-z]+", (prompt.text + " " + " ".join(prompt.follow_ups)).lower()
        ):
            seen.setdefault(word)
    syllables = [
        "ka",
        "lo",
        "mi",
        "ren",
        "tas",
        "vel",
        "on",
        "dri",
        "su",
        "pa",
        "el",
        "gor",
        "ni",
        "ta",
    ]
    while len(seen) < size:
        seen.setdefault("".join(rng.choices(syllables, k=rng.randint(2, 4))))
    return list(seen)[:size]


def make_corpus(seed: int = 7, vocabulary: int = 30_000) -> Corpus:
    rng = random.Random(seed)
    words = _vocabulary(vocabulary, rng)
    weights = [1 / (rank + 1) ** 1.07 for rank in range(len(words))]
    channels = [(f"C{n:06d}", f"ips-{REGIONS[n % len(REGIONS)]}-{n}") for n in range(60)]
    users = [(f"U{n:06d}", f"Person {n}") for n in range(800)]
    return Corpus(words, list(itertools.accumulate(weights)), channels, users)


def slack_messages(corpus: Corpus, n: int, seed: int = 11) -> Iterator[tuple[str, dict]]:
    """(channel id, Slack export message) in time order, about a quarter thread roots."""
    rng = random.Random(seed)
    channel_weights = [1 / (i + 1) for i in range(len(corpus.channels))]
    user_weights = [1 / (i + 1) ** 0.8 for i in range(len(corpus.users))]
    open_threads: dict[str, list[str]] = {c: [] for c, _ in corpus.channels}
    lengths = [max(1, int(rng.lognormvariate(2.7, 0.8))) for _ in range(4096)]
    spread = timedelta(days=3 * 365) / n
    words = rng.choices(corpus.words, cum_weights=corpus.cum_weights, k=n * 20)
    cursor = 0
    for i in range(n):
        channel = rng.choices(corpus.channels, weights=channel_weights)[0][0]
        user = rng.choices(corpus.users, weights=user_weights)[0]
        length = lengths[i % len(lengths)]
        if cursor + length > len(words):
            cursor = 0
        text = " ".join(words[cursor : cursor + length])
        cursor += length
        moment = START + spread * i
        ts = f"{moment.timestamp():.6f}"
        message = {"type": "message", "user": user[0], "text": text, "ts": ts}
        threads = open_threads[channel]
        if threads and rng.random() < 0.75:
            message["thread_ts"] = rng.choice(threads[-20:])
        else:
            message["thread_ts"] = ts
            threads.append(ts)
        yield channel, message


def write_slack_export(folder: Path, corpus: Corpus, n: int) -> None:
    """A folder in Slack's standard export layout: channels.json, users.json,
    <channel>/<date>.json."""
    folder.mkdir(parents=True, exist_ok=True)
    names = dict(corpus.channels)
    (folder / "channels.json").write_text(
        json.dumps([{"id": c, "name": name} for c, name in corpus.channels])
    )
    (folder / "users.json").write_text(
        json.dumps(
            [
                {
                    "id": u,
                    "name": name.lower().replace(" ", "."),
                    "real_name": name,
                    "profile": {"display_name": name, "real_name": name},
                }
                for u, name in corpus.users
            ]
        )
    )
    days: dict[tuple[str, str], list[dict]] = {}
    current_day = None
    for channel, message in slack_messages(corpus, n):
        day = datetime.fromtimestamp(float(message["ts"]), UTC).date().isoformat()
        if day != current_day:
            _flush(folder, names, days)
            current_day = day
        days.setdefault((channel, day), []).append(message)
    _flush(folder, names, days)


def _flush(folder: Path, names: dict[str, str], days: dict[tuple[str, str], list[dict]]) -> None:
    for (channel, day), messages in days.items():
        path = folder / names[channel] / f"{day}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(messages))
    days.clear()
