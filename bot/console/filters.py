"""The archive's filters as the console's forms send them: the command line's filters
(channel, topic, region, author, since, until), checked, each problem in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.model import split_identity
from bot.records import ARCHIVED_YEARS, ArchiveFilter

LIMIT = 200  # characters kept of any one filter


@dataclass(frozen=True)
class ChosenFilters:
    """What the form said, to show it back, and the filter it means (None if it had a
    problem: then nothing is searched)."""

    values: Mapping[str, str]
    filter: ArchiveFilter | None
    problems: tuple[str, ...]


FIELDS = ("q", "channel", "topic", "region", "author", "since", "until")


def read_filters(
    given: Mapping[str, str], topics: Sequence[str], regions: Sequence[str], tz: ZoneInfo
) -> ChosenFilters:
    """``regions`` as configured (COPBOT_REGIONS); the archive keeps them in lower case."""
    values = {name: str(given.get(name, "")).strip()[:LIMIT] for name in FIELDS}
    problems: list[str] = []
    region = values["region"].lower()
    slugs = [r.lower() for r in regions]
    if region and region not in slugs:
        problems.append(f"There's no region called that; the regions are {', '.join(slugs)}.")
    if values["topic"] and values["topic"] not in topics:
        problems.append("There's no topic called that; pick one from the list.")
    author = values["author"]
    if author:
        try:
            platform, ident = split_identity(author)
            author = f"{platform}:{ident}"
        except ValueError:
            problems.append("Write the author as an identity, like slack:U123.")
    since = _day(values["since"], "From", tz, problems)
    until = _day(values["until"], "Up to", tz, problems)
    if since and until and since > until:
        problems.append("The 'from' date is after the 'up to' date, so nothing could match.")
    if problems:
        return ChosenFilters(values, None, tuple(problems))
    chosen = ArchiveFilter(
        channel=values["channel"],
        topic=values["topic"],
        region=region,
        author=author,
        since=since,
        until=until + timedelta(days=1) if until else None,  # up to the end of that day
    )
    return ChosenFilters(values, chosen, ())


def _day(text: str, name: str, tz: ZoneInfo, problems: list[str]) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append(f"'{name}' needs a date like 2026-03-31.")
        return None
    if day.year not in ARCHIVED_YEARS:
        return None  # narrows nothing, and 9999-12-31 has no day after it
    # A day is a day where copbot's people are (COPBOT_TIMEZONE), as exports show it.
    return datetime.combine(day, time.min, tz).astimezone(UTC)
