"""Wall-clock times around the clock changes: which local times don't exist (the hour the
clocks skip in spring), which happen twice (the hour repeated in autumn), and moving a
moment by whole days on the local calendar rather than by 24-hour lumps. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.timefmt import for_people

_MINUTE = timedelta(minutes=1)
_UTC = ZoneInfo("UTC")


def exists(local: datetime, tz: ZoneInfo) -> bool:
    """Whether the naive local time ``local`` happens in ``tz`` (not skipped by a change)."""
    there_and_back = local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
    return there_and_back.replace(tzinfo=None) == local


def repeated(local: datetime, tz: ZoneInfo) -> bool:
    """Whether the naive local time ``local`` happens twice in ``tz`` (clocks going back)."""
    first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    return exists(local, tz) and first.utcoffset() != second.utcoffset()


def days_before(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``moment`` (aware) moved ``days`` back on ``tz``'s calendar, keeping its wall-clock
    time: 10:00 stays 10:00 across a clock change. In UTC. A wall-clock time the clocks
    skip on that day is taken as the moment an hour on, as the scheduler does."""
    local = moment.astimezone(tz).replace(tzinfo=None) - timedelta(days=days)
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def place_name(tz: ZoneInfo) -> str:
    """ "Europe/London" -> "London": the words people know the zone by."""
    return tz.key.rsplit("/", 1)[-1].replace("_", " ")


def skipped(local: datetime, tz: ZoneInfo) -> str | None:
    """For a local time the clocks skip, what to tell the person who chose it; else None."""
    if exists(local, tz):
        return None
    jump = local.replace(tzinfo=tz, fold=1).utcoffset() or timedelta()
    jump -= local.replace(tzinfo=tz, fold=0).utcoffset() or timedelta()
    gap_from = local
    while not exists(gap_from - _MINUTE, tz):  # back to the first minute that is skipped
        gap_from -= _MINUTE
    minutes = int(jump.total_seconds() // 60)
    amount = "an hour" if minutes == 60 else f"{minutes} minutes"
    day = for_people(local.replace(tzinfo=_UTC), _UTC, time=False)  # the naive date, as words
    return (
        f"{local:%H:%M} on {day} doesn't exist in {place_name(tz)}: the clocks go forward "
        f"{amount} at {gap_from:%H:%M}. Choose another time."
    )
