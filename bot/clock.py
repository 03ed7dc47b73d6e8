"""Time: a clock the core is given (never reads the system time itself), and one
fixed-width UTC text form for storage, which sorts the way time does."""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: times in copbot are timezone-aware")
    return moment.astimezone(UTC).strftime(_FORMAT)


def from_text(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
