"""Times as people in the UK read them: "Tue 3 Mar 2026, 14:05", in copbot's time zone.

The one place a moment becomes words for a person (chat, exports people read, the
playground, the command line). Machine formats (JSON Lines, JSON, CSV, storage) keep
ISO 8601 UTC and never come through here.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")  # the default COPBOT_TIMEZONE

# Spelled out rather than strftime's %a/%b, which follow the process locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def for_people(moment: datetime, tz: ZoneInfo, *, time: bool = True) -> str:
    """``moment`` in ``tz``: day, date in UK order and (unless ``time=False``) 24-hour time."""
    if moment.tzinfo is None:
        raise ValueError("refusing a naive datetime: times in copbot are timezone-aware")
    local = moment.astimezone(tz)
    day = f"{_DAYS[local.weekday()]} {date_for_people(local)}"
    # Fields rather than strftime: exports people read format one time a message.
    return f"{day}, {local.hour:02d}:{local.minute:02d}" if time else day


def date_for_people(day: date) -> str:
    """A calendar day as ``for_people`` writes one: "3 Mar 2026"."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
