"""The readable exports' clock gives exactly what ``Cover.when`` gives, however the
zone's offset moves: summer time, half-hour shifts, offsets of odd minutes and the local
mean time of the 1800s (offsets with seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.archive_export import Cover
from bot.clock import to_text

ZONES = ("Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns", "UTC")


@settings(max_examples=400)
@given(
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(1840, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_the_clock_agrees_with_the_long_way(zone: str, moment: datetime) -> None:
    cover = Cover(timezone=ZoneInfo(zone))
    text = to_text(moment.replace(tzinfo=UTC))
    assert cover.clock()(text) == cover.when(text)


def test_every_minute_around_the_changes_of_the_clocks() -> None:
    # London's clocks went forward at 01:00 UTC on 29 March 2026 and back at 01:00 UTC on
    # 25 October; Lord Howe's move by half an hour, at 15:00 UTC.
    for zone, start in (
        ("Europe/London", datetime(2026, 3, 28, 22, tzinfo=UTC)),
        ("Europe/London", datetime(2026, 10, 24, 22, tzinfo=UTC)),
        ("Australia/Lord_Howe", datetime(2026, 4, 4, 13, tzinfo=UTC)),
    ):
        cover = Cover(timezone=ZoneInfo(zone))
        clock = cover.clock()  # one clock throughout, as an export uses it
        for minute in range(6 * 60):
            text = to_text(start + timedelta(minutes=minute, seconds=59.5))
            assert clock(text) == cover.when(text), text


def test_times_not_in_storage_form_are_still_right() -> None:
    cover = Cover()
    clock = cover.clock()
    for text in ("2026-07-01T12:30:00+00:00", "2026-07-01T12:30:00Z", "2026-07-01T23:59:59.5Z"):
        assert clock(text) == cover.when(text)
    assert clock("2026-07-01T12:30:00.000000Z") == "Wed 1 Jul 2026, 13:30"


@settings(max_examples=400)
@given(
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(1840, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_the_clock_reads_microseconds_as_it_reads_storage_text(zone: str, moment: datetime) -> None:
    """Readable exports give the clock the stored integer, not text: the same words, and
    the same text for HTML's ``datetime`` attribute."""
    at = moment.replace(tzinfo=UTC)
    us = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    cover = Cover(timezone=ZoneInfo(zone))
    clock = cover.clock()
    assert clock(us) == cover.when(to_text(at))
    assert clock.stamp(us) == (to_text(at), cover.when(to_text(at)))
    assert clock.stamp(to_text(at)) == (to_text(at), cover.when(to_text(at)))


def test_microseconds_around_the_changes_of_the_clocks() -> None:
    cover = Cover(timezone=ZoneInfo("Europe/London"))
    clock = cover.clock()
    start = datetime(2026, 3, 29, 0, tzinfo=UTC)
    for minute in range(3 * 60):
        at = start + timedelta(minutes=minute, seconds=59.5)
        us = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        assert clock(us) == cover.when(to_text(at)), at
        assert clock.stamp(us) == (to_text(at), cover.when(to_text(at))), at
