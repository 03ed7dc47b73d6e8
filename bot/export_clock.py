"""Times in words for readable exports, a million at a time: ``Cover.when`` at a fraction
of the cost (bot/archive_export.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.timefmt import for_people

_HH_MM = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60))
_MINUTE_OF = {text: minute for minute, text in enumerate(_HH_MM)}
_SECOND_FIELDS = tuple(f":{s:02d}." for s in range(60))  # ":05.", looked up, not formatted
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_UTC = ZoneInfo("UTC")  # dates as they are: the offset is added to the minutes
_LAST_SECOND = timedelta(hours=23, minutes=59, seconds=59)
_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_EPOCH_DATE = _EPOCH.date()

Day = tuple[int, tuple[str, str, str]] | None  # minutes of offset, and its dates in words


class DayClock:
    """A time in words in ``tz``, for storage's own times: its text
    ("2026-03-03T14:05:59.123456Z", UTC) or microseconds since 1970, which spare SQLite
    from spelling out every row's time for an export that only shows it. Each UTC day's
    offset and the local dates it touches are worked out once, and a time within it is its
    minutes past midnight plus the offset. A day in which the offset changes, or is not
    whole minutes, takes the long way."""

    _KEEP = 1 << 14  # days remembered (45 years): a few MB at most, however long the archive

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._days: dict[str, Day] = {}
        self._dates: dict[int, str] = {}

    def __call__(self, moment: str | int) -> str:
        if isinstance(moment, int):
            days, rest = divmod(moment, _DAY_US)
            return self._micros_in_words(moment, self._date(days), rest // 60_000_000)
        text = moment
        if len(text) == 27 and text[26] == "Z" and text[13] == ":":
            minute = _MINUTE_OF.get(text[11:16])
            if minute is not None and (found := self._in_words(text[:10], minute)):
                return found
        return for_people(datetime.fromisoformat(text), self._tz)

    def stamp(self, moment: str | int) -> tuple[str, str]:
        """Storage's text for a time ("2026-03-03T14:05:59.123456Z") and its words, which
        HTML shows together: one reading of the moment for both."""
        if isinstance(moment, str):
            return moment, self(moment)
        days, rest = divmod(moment, _DAY_US)
        date = self._date(days)
        seconds, micro = divmod(rest, 1_000_000)
        minute = seconds // 60
        text = f"{date}T{_HH_MM[minute]}{_SECOND_FIELDS[seconds % 60]}{micro:06d}Z"
        return text, self._micros_in_words(moment, date, minute)

    def _micros_in_words(self, moment: int, date: str, minute: int) -> str:
        """``moment`` (microseconds), which is ``minute`` past midnight of ``date`` (UTC)."""
        return self._in_words(date, minute) or for_people(
            _EPOCH + timedelta(microseconds=moment), self._tz
        )

    def _in_words(self, key: str, minute: int) -> str:
        """``minute`` past midnight (UTC) of day ``key``, in words; "" on a day whose offset
        moves."""
        day = self._days[key] if key in self._days else self._learn(key)
        if day is None:
            return ""
        offset, dates = day
        local = minute + offset
        return dates[local // 1440 + 1] + _HH_MM[local % 1440]

    def _date(self, days: int) -> str:
        """The UTC date ``days`` after 1970-01-01, as text ("2026-03-03")."""
        if (found := self._dates.get(days)) is None:
            if len(self._dates) >= self._KEEP:
                self._dates.clear()
            found = self._dates[days] = (_EPOCH_DATE + timedelta(days=days)).isoformat()
        return found

    def _learn(self, key: str) -> Day:
        try:
            midnight = datetime.fromisoformat(key + "T00:00:00+00:00")
            moments = [midnight + n * _HOUR for n in range(24)] + [midnight + _LAST_SECOND]
            offsets = {moment.astimezone(self._tz).utcoffset() for moment in moments}
            dates = tuple(
                for_people(midnight + n * _DAY, _UTC, time=False) + ", " for n in (-1, 0, 1)
            )
        except (ValueError, OverflowError):  # not a date, or at the calendar's very ends
            offsets, dates = set(), ("", "", "")
        offset = offsets.pop() if len(offsets) == 1 else None
        steady = offset is not None and offset.total_seconds() % 60 == 0
        if len(self._days) >= self._KEEP:
            self._days.clear()
        self._days[key] = kept = (
            (int(offset.total_seconds()) // 60, (dates[0], dates[1], dates[2]))
            if steady and offset is not None
            else None
        )
        return kept
