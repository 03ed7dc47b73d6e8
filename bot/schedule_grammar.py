"""Reading "any every tuesday and thursday at 10:00 in #north" into a schedule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.commands import UsageError, clip

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAYS = {
    **{name.lower(): (code,) for name, code in zip(DAY_NAMES, DAY_CODES, strict=True)},
    **{name.lower()[:3]: (code,) for name, code in zip(DAY_NAMES, DAY_CODES, strict=True)},
    "tues": ("TU",),
    "thur": ("TH",),
    "thurs": ("TH",),
    "weekday": DAY_CODES[:5],
    "day": DAY_CODES,
    "daily": DAY_CODES,
}
_TIME = re.compile(r"^([0-9]{1,2})(?:[:.]([0-9]{2}))?\s*(am|pm)?$", re.ASCII)
# A time zone written after the time ("10:00 GMT", "10am UK time"): schedules keep copbot's.
_ZONE = re.compile(r"\s*\b(?:gmt|bst|utc|uk|london|uk time|london time|local time)\s*$", re.I)
_NAMED_TIMES = {"noon": (12, 0), "midday": (12, 0), "midnight": (0, 0)}
# "every other tuesday", "every second (or 2nd) tuesday", "every 2 weeks on tuesday":
# fortnightly.
_OTHER = ("other", "second", "2nd", "alternate")
_TWO = ("2", "two")
# Monthly ("every month on the 30th", "every first monday", "monthly"): not a weekly rule.
_MONTHLY = re.compile(
    r"^(?:months?|monthly|first|third|fourth|fifth|last|[0-9]{1,2}(?:st|nd|rd|th))$", re.ASCII
)
_NOT_WEEKLY = (
    "I can post every week or every other week, on the days you name (like every tuesday, "
    "or every other tuesday), but not {what}."
)
_AFTER_CHANNEL = ("every", "fortnightly", "at")
MAX_CHANNEL = 100  # characters; Slack's channel names stop at 80
MAX_DAY_WORDS = 13  # seven days and six "and"s: any more is no week
EXAMPLE = "every tuesday at 10:00"


@dataclass(frozen=True)
class ScheduleRequest:
    topic: str  # a topic's slug, or "any"
    days: tuple[str, ...]  # RFC 5545 BYDAY codes, Monday first
    hour: int
    minute: int
    channel: str | None = None  # as written after "in", if it was
    weeks: int = 1  # 2: every other week

    @property
    def rule(self) -> str:
        interval = f"INTERVAL={self.weeks};" if self.weeks > 1 else ""
        return (
            f"FREQ=WEEKLY;{interval}BYDAY={','.join(self.days)};"
            f"BYHOUR={self.hour};BYMINUTE={self.minute};BYSECOND=0"
        )

    @property
    def weekly(self) -> ScheduleRequest:
        """The same days and time every week: where a fortnightly one starts counting."""
        return replace(self, weeks=1)

    @property
    def when(self) -> str:
        """ "every Tuesday and Thursday at 10:00" """
        if self.days == DAY_CODES:
            days = "day"
        elif self.days == DAY_CODES[:5]:
            days = "weekday"
        else:
            names = [DAY_NAMES[DAY_CODES.index(d)] for d in self.days]
            days = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        if self.weeks > 1:
            days = f"other week on {'weekdays' if days == 'weekday' else days}"
        return f"every {days} at {self.hour:02d}:{self.minute:02d}"


def parse_schedule(words: Sequence[str]) -> ScheduleRequest:
    """``TOPIC every DAYS at TIME [in CHANNEL]``, as split into words."""
    words = [w for w in words if w]
    lowered = [w.lower().rstrip(",") for w in words]
    if not words or lowered[0] in ("every", "at", "in"):
        raise UsageError(
            "Start with the topic (or `any`), then when: like `any every tuesday at 10:00`."
        )
    if "in" in lowered[1:] and "at" in lowered and lowered.index("in", 1) < lowered.index("at"):
        # The channel named first: "any in #north every tuesday at 10:00".
        return _named_first(words, lowered.index("in", 1))
    return _channel_last(words)


def _channel_last(words: list[str]) -> ScheduleRequest:
    """``TOPIC every DAYS at TIME [in CHANNEL]``: a channel, if any, named last."""
    lowered = [w.lower().rstrip(",") for w in words]
    topic = lowered[0]
    channel = None
    when_words = lowered[1 : lowered.index("at")] if "at" in lowered else lowered[1:]
    for i, w in enumerate(when_words):
        if _MONTHLY.match(w) and w not in _OTHER:
            # "every 3rd week" asks for every 3 weeks, not a monthly date: said back as asked.
            per_week = when_words[i + 1 : i + 2] in (["week"], ["weeks"])
            what = f"every {clip(w)} week" if per_week else "once a month or on a date"
            raise UsageError(_NOT_WEEKLY.format(what=what))
    if lowered[1:2] == ["fortnightly"]:
        lowered[1:2] = ["every", "other", "week"]
        words[1:2] = lowered[1:4]
    if len(words) < 2 or lowered[1] != "every":
        raise UsageError(f"After the topic, say how often, like `{clip(topic)} {EXAMPLE}`.")
    try:
        at = lowered.index("at")
    except ValueError:
        raise UsageError(f"Say what time, like `{clip(topic)} {EXAMPLE}`.") from None
    weeks, when = _weeks(lowered[2:at])
    days = _days(when)
    rest = words[at + 1 :]
    if "in" in (w.lower() for w in rest):
        split = [w.lower() for w in rest].index("in")
        rest, where = rest[:split], rest[split + 1 :]
        channel = _channel_name(where)
    hour, minute = _time(" ".join(rest))
    return ScheduleRequest(topic, days, hour, minute, channel, weeks)


def _named_first(words: list[str], split: int) -> ScheduleRequest:
    """A schedule whose channel comes first, after ``in`` at ``split``. A Teams channel's
    name may hold spaces, and words of the sentence ("in #Meet at lunch every monday at
    10:00"): it ends where the rest reads as a schedule, else where the next of those
    words begins, to say what is wrong with the rest."""
    lowered = [w.lower().rstrip(",") for w in words]
    ends = []
    for i in range(split + 1, len(words)):
        if len(" ".join(words[split + 1 : i])) > MAX_CHANNEL:
            break  # no channel's name is longer: so, at most a few dozen readings
        if lowered[i] in _AFTER_CHANNEL:
            ends.append(i)
    if not ends:  # a name too long, or no word after it: said as such
        after = range(split + 1, len(words))
        ends = [next((i for i in after if lowered[i] in _AFTER_CHANNEL), split + 2)]
    first: UsageError | None = None
    for end in ends:
        try:
            # Read as if named last: once, never again as named first, so that each
            # possible end costs one reading of the rest.
            found = _channel_last(_without(words, split, end))
        except UsageError as problem:
            first = first or problem
            continue
        # A second channel, after the time, is the one meant (as it always was).
        return replace(found, channel=found.channel or _channel_name(words[split + 1 : end]))
    assert first is not None
    raise first


def _without(words: Sequence[str], split: int, end: int) -> list[str]:
    """``words`` without ``in #channel`` from ``split`` to ``end``."""
    return [*words[:split], *words[end:]]


def _channel_name(words: Sequence[str]) -> str:
    """The channel named after ``in``: one word, or several (a Teams channel's name may
    hold spaces, "IPS North"), without the full stop or comma of the sentence around it
    (neither Slack nor Teams allows a comma in a channel's name)."""
    name = " ".join(words).rstrip(".!,").strip()
    if not name or len(name) > MAX_CHANNEL:
        raise UsageError("After `in`, name one channel, like `in #north`.")
    return name


def _weeks(words: Sequence[str]) -> tuple[int, list[str]]:
    """How many weeks apart, and the words that name the days: "other tuesday" is 2 and
    ["tuesday"]; "2 weeks on mon and thu" is 2 and ["mon", "and", "thu"]."""
    words = list(words)
    weeks = 1
    if words[:1] and words[0] in _OTHER:
        weeks, words = 2, words[1:]
        if words[:1] and _DAYS.get(words[0].removesuffix("s"), ()) in (DAY_CODES, DAY_CODES[:5]):
            # "every other day" or "weekday" is every other day, not every other week.
            raise UsageError(
                "I can post every day or every weekday, or every other week on the days you "
                "name (like every other tuesday), but not every other day."
            )
    elif words[:1] == ["fortnight"]:
        weeks, words = 2, words[1:]
    elif words[:2] and words[0] in _TWO and words[1] in ("weeks", "week"):
        weeks, words = 2, words[2:]
    elif words[1:2] in (["weeks"], ["week"]):
        raise UsageError(_NOT_WEEKLY.format(what=f"every {clip(words[0])} weeks"))
    if words[:1] == ["week"]:
        words = words[1:]  # "every week on tuesday", "every other week tuesday"
    return weeks, [w for w in words if w != "on"]


def _days(words: Sequence[str]) -> tuple[str, ...]:
    found: set[str] = set()
    parts = [part for word in words for part in re.split(r"[,/]", word) if part]
    if len(parts) > MAX_DAY_WORDS:
        raise UsageError(
            f"That's {len(parts):,} days, more than a week has. Name each day once, like "
            "every mon and thu, every weekday, every day."
        )
    for part in parts:
        if part in ("and", "&"):
            continue
        codes = _DAYS.get(part) or (_DAYS.get(part[:-1]) if part.endswith("s") else None)
        if codes is None:
            raise UsageError(
                f"I couldn't read `{clip(part)}` as a day. Write the days like: every tuesday, "
                "every mon and thu, every weekday, every day."
            )
        found.update(codes)
    if not found:
        raise UsageError(f"Say which days, like `{EXAMPLE}`.")
    return tuple(code for code in DAY_CODES if code in found)


def _time(text: str) -> tuple[int, int]:
    text = text.strip().rstrip(".!,")  # the sentence's punctuation, not the time's
    if text.lower() in _NAMED_TIMES:
        return _NAMED_TIMES[text.lower()]
    m = _TIME.match(text.lower())
    if not m:
        shown = clip(text.strip()) or "nothing"
        bare = _ZONE.sub("", text).strip().lower()
        if _ZONE.search(text) and (bare in _NAMED_TIMES or _TIME.match(bare)):
            raise UsageError(
                f"I couldn't read `{shown}` as a time: leave out the time zone. Schedules "
                "keep copbot's own, summer time included, so write just the time, like 10:00."
            )
        raise UsageError(
            f"I couldn't read `{shown}` as a time. Use the 24-hour clock, like 10:00 or 14:30."
        )
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if m.group(3):
        if not 1 <= hour <= 12:
            raise UsageError(f"`{clip(text.strip())}` isn't a time of day; try 10am or 2:30pm.")
        hour = hour % 12 + (12 if m.group(3) == "pm" else 0)
    if hour > 23 or minute > 59:
        raise UsageError(
            f"`{clip(text.strip())}` isn't a time of day. "
            "Use the 24-hour clock, like 10:00 or 14:30."
        )
    return hour, minute
