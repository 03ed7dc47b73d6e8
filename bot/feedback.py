"""Anonymous feedback rounds: questions, answers, results, and the keyed hash that lets
copbot say "you have already answered" without knowing who answered what.

Pure and platform-neutral; the chat side is bot/services/feedback.py, storage is
storage/feedback.py (see docs/anonymity.md for why each piece is shaped as it is).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import random
import secrets
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from bot.model import ChannelRef, Choice, FormField, LongText, Rating, ShortText, too_long
from bot.ports import WriteOp

DEFAULT_THRESHOLD = 5
MIN_THRESHOLD = 3
MAX_THRESHOLD = 1000
MAX_ANSWER = 3000  # characters, for any text answer
MAX_TITLE = 150


class QuestionKind(enum.StrEnum):
    RATING = "rating"
    CHOICE = "choice"
    SHORT = "short"
    LONG = "long"


@dataclass(frozen=True)
class Question:
    id: str
    kind: QuestionKind
    label: str
    required: bool = True
    scale: int = 5  # ratings: 1..scale
    options: tuple[str, ...] = ()  # choices

    def field(self) -> FormField:
        match self.kind:
            case QuestionKind.RATING:
                return Rating(self.id, self.label, self.scale, self.required)
            case QuestionKind.CHOICE:
                return Choice(
                    self.id, self.label, tuple((o, o) for o in self.options), self.required
                )
            case QuestionKind.SHORT:
                return ShortText(self.id, self.label, self.required, max_length=150)
            case QuestionKind.LONG:
                return LongText(self.id, self.label, self.required, max_length=MAX_ANSWER)

    def problem(self, value: str) -> str:
        """What is wrong with an answer to this question, worded for the person; "" if fine."""
        if not value:
            return "Please answer this one; it's needed." if self.required else ""
        match self.kind:
            case QuestionKind.RATING:
                if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= self.scale:
                    return f"Pick a number from 1 to {self.scale}."
            case QuestionKind.CHOICE:
                if value not in self.options:
                    return "Pick one of the options."
            case QuestionKind.SHORT | QuestionKind.LONG:
                limit = 150 if self.kind is QuestionKind.SHORT else MAX_ANSWER
                if len(value) > limit:
                    return too_long(value, limit)
        return ""


DEFAULT_QUESTIONS = (
    Question("useful", QuestionKind.RATING, "How useful was this session for your practice?"),
    Question("impactful", QuestionKind.LONG, "What was most impactful?"),
    Question("change", QuestionKind.LONG, "What would you change?"),
    Question("else", QuestionKind.LONG, "Anything else?", required=False),
)


class RoundState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Round:
    id: int
    title: str
    questions: tuple[Question, ...]
    threshold: int
    state: RoundState
    opened_at: datetime
    closes_on: date | None = None
    channel: ChannelRef | None = None  # where it was announced
    opened_by: str = ""  # identity of the facilitator who opened it
    answers: int = 0

    @property
    def is_open(self) -> bool:
        return self.state is RoundState.OPEN


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    answered: int
    distribution: tuple[tuple[str, int], ...] = ()  # ratings and choices: value -> count
    mean: float | None = None  # ratings
    texts: tuple[str, ...] = ()  # free text, in random order


@dataclass(frozen=True)
class Results:
    round: Round
    count: int
    shown: bool  # False while open, or below the round's threshold: only the count is told
    questions: tuple[QuestionResult, ...] = ()

    @property
    def hidden_because(self) -> str:
        if self.shown:
            return ""
        k, n = self.round.threshold, self.count
        if self.round.is_open:
            return (
                f"Results show once the round closes, if at least {k} people have answered "
                f"({n} so far). Until then only the count is shown: results read before and "
                "after one more answer would show what that person said."
            )
        return (
            f"This round closed with {n} {'answer' if n == 1 else 'answers'}, fewer than the "
            f"{k} needed, so its results stay hidden: with so few, an answer could be traced "
            "to the person who gave it."
        )


def summarise(
    round_: Round, answers: Sequence[Mapping[str, str]], rng: random.Random | None = None
) -> Results:
    """Counts, rating distributions and means, and free text shuffled; nothing while the
    round is open (two readings a new answer apart would show that answer), nor below k."""
    count = len(answers)
    if round_.is_open or count < round_.threshold:
        return Results(round_, count, shown=False)
    shuffle = (rng or random.SystemRandom()).shuffle
    results = []
    for q in round_.questions:
        given = [a[q.id] for a in answers if a.get(q.id)]
        if q.kind is QuestionKind.RATING:
            scores = [int(v) for v in given]
            dist = tuple((str(n), scores.count(n)) for n in range(1, q.scale + 1))
            mean = round(statistics.fmean(scores), 2) if scores else None
            results.append(QuestionResult(q, len(given), dist, mean))
        elif q.kind is QuestionKind.CHOICE:
            dist = tuple((o, given.count(o)) for o in q.options)
            results.append(QuestionResult(q, len(given), dist))
        else:
            texts = list(given)
            shuffle(texts)
            results.append(QuestionResult(q, len(given), texts=tuple(texts)))
    return Results(round_, count, shown=True, questions=tuple(results))


# -- one answer per person, without knowing who answered what ----------------------------

HASH_BYTES = 32
TAG_BYTES = 16


def new_key() -> bytes:
    return secrets.token_bytes(32)


def person_hash(key: bytes, identity: str) -> bytes:
    """HMAC-SHA256 of the identity under the round's random key: without the key (destroyed
    when the round closes) nobody can tell whose hash it is, not even by trying everyone."""
    return hmac.new(key, b"person\0" + identity.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Ticket:
    """What an answer form carries from opening (when copbot knows who) to submission (when
    it no longer does): the round, the person's hash, and a tag proving copbot issued it."""

    round_id: int
    hash: bytes
    tag: bytes = field(repr=False)

    @classmethod
    def issue(cls, key: bytes, round_id: int, identity: str) -> Ticket:
        h = person_hash(key, identity)
        return cls(round_id, h, _tag(key, round_id, h))

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.tag, _tag(key, self.round_id, self.hash))

    def encode(self) -> str:
        return f"{self.round_id}.{self.hash.hex()}.{self.tag.hex()}"

    @classmethod
    def decode(cls, text: str) -> Ticket | None:
        parts = text.split(".")
        if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()):
            return None
        if len(parts[0]) > 18:
            return None
        try:
            h, tag = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            return None
        if len(h) != HASH_BYTES or len(tag) != TAG_BYTES:
            return None
        return cls(int(parts[0]), h, tag)


def _tag(key: bytes, round_id: int, h: bytes) -> bytes:
    message = b"ticket\0" + str(round_id).encode() + b"\0" + h
    return hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES]


class AlreadyAnswered(Exception):
    """The person's hash is recorded for this round already; nothing was stored."""


class RoundClosed(Exception):
    """The round closed (or never existed) before the answer could be stored."""


class FeedbackRepository(Protocol):
    async def open(
        self, round_: Round, key: bytes, linked: Callable[[int], WriteOp] | None = None
    ) -> Round:
        """Store a new round with its key; the returned copy carries its id. ``linked``:
        what the round's id is written into as well, in the same transaction."""
        ...

    async def get(self, round_id: int) -> Round | None: ...

    async def rounds(self, *, open_only: bool = False) -> list[Round]: ...

    async def key(self, round_id: int) -> bytes | None:
        """The round's key while it is open; None once closed (the key is gone)."""
        ...

    async def has_answered(self, round_id: int, person: bytes) -> bool: ...

    async def answer(
        self, round_id: int, person: bytes, answers: Mapping[str, str], on: date
    ) -> None:
        """Keep an answer and the person's hash in one transaction, neither naming the other.

        Raises AlreadyAnswered or RoundClosed, storing nothing."""
        ...

    async def close(self, round_id: int, at: datetime) -> bool:
        """Close a round, destroying its key and hashes; False if it was not open."""
        ...

    async def set_threshold(self, round_id: int, threshold: int) -> bool:
        """Change k while the round is open and nobody has answered yet; False once someone
        has. Raises RoundClosed once it has closed: its results are settled."""
        ...

    async def answers(self, round_id: int) -> list[dict[str, str]]:
        """Every answer to a round, in random order."""
        ...

    async def forget_opener(self, identity: str) -> int: ...

    async def forget_traces(self) -> None:
        """Fold the write-ahead log into the file and truncate it: inbox rows already
        emptied (a press naming its person, a submission holding a ticket) leave the disk."""
        ...


class Invitations(Protocol):
    """Rounds meant for some people only (an event's round, sent to those going)."""

    async def invited(self, round_id: int, identity: str) -> bool | None:
        """Whether the person was asked to answer; None for a round that asks nobody in
        particular (it follows its channel, or is open to all)."""
        ...
