"""Times shown to people: copbot's time zone, 24-hour, the date in UK order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.timefmt import for_people

LONDON = ZoneInfo("Europe/London")


def test_winter_time_is_gmt_and_afternoons_are_24_hour() -> None:
    assert for_people(datetime(2026, 3, 3, 14, 5, tzinfo=UTC), LONDON) == "Tue 3 Mar 2026, 14:05"


def test_summer_time_is_an_hour_ahead_of_utc() -> None:
    assert for_people(datetime(2026, 7, 1, 9, 0, tzinfo=UTC), LONDON) == "Wed 1 Jul 2026, 10:00"


def test_late_evening_utc_can_be_the_next_day_elsewhere() -> None:
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert for_people(moment, ZoneInfo("Europe/Paris")) == "Fri 1 Jan 2027, 00:30"
    assert for_people(moment, LONDON, time=False) == "Thu 31 Dec 2026"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        for_people(datetime(2026, 3, 3, 14, 5), LONDON)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_words_name_the_same_minute(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC)
    text = for_people(moment, LONDON)
    read = datetime.strptime(text, "%a %d %b %Y, %H:%M").replace(tzinfo=LONDON)
    local = moment.astimezone(LONDON).replace(second=0, microsecond=0)
    # the same wall-clock minute (the hour the clocks go back is read either way)
    assert read.replace(tzinfo=None) == local.replace(tzinfo=None)
    assert abs(read - local) <= timedelta(hours=1)
