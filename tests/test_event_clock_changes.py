"""Events around the UK clock changes: reminders whole days ahead keep the local time, a
start the clocks skip is refused in the form and on the command line, and a start the
clocks go through twice is the first and says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.localtime import days_before, exists, repeated, skipped
from bot.model import Role
from bot.ports import FormInvalid
from bot.records import JobState
from tests.support.harness import NORTH, PRIYA, SAM, Harness
from tests.test_events import announced, feature, first_announcement, link
from tests.test_events_cli import invoke

LONDON = ZoneInfo("Europe/London")
GAP = (
    "01:30 on Sun 28 Mar 2027 doesn't exist in London: the clocks go forward an hour at "
    "01:00. Choose another time."
)


def local(moment: datetime) -> datetime:
    return moment.astimezone(LONDON)


async def reminders_due(bot: Harness) -> list[datetime]:
    jobs = await bot.core.scheduler._jobs.jobs(states=[JobState.PENDING])
    return sorted(j.due_at for j in jobs if j.kind == "event.remind")


def reminders_sent(bot: Harness) -> int:
    return len([s for s in bot.adapter.of_kind("reply") if "A reminder" in s.text])


@pytest.mark.parametrize(
    ("created", "start", "week_before", "moved_to", "moved_week_before"),
    [
        # Winter time a week before a session after the clocks go forward (28 Mar 2027).
        (
            datetime(2027, 3, 1, 9, tzinfo=UTC),
            "2027-04-01 10:00",
            datetime(2027, 3, 25, 10, 0, tzinfo=UTC),  # 10:00 GMT
            "2027-04-02 10:00",
            datetime(2027, 3, 26, 10, 0, tzinfo=UTC),
        ),
        # Summer time a week before a session after they go back (31 Oct 2027).
        (
            datetime(2027, 10, 1, 9, tzinfo=UTC),
            "2027-11-03 10:00",
            datetime(2027, 10, 27, 9, 0, tzinfo=UTC),  # 10:00 BST
            "2027-11-04 10:00",
            datetime(2027, 10, 28, 9, 0, tzinfo=UTC),
        ),
    ],
)
async def test_a_reminder_days_ahead_keeps_the_local_time_across_a_clock_change(
    bot: Harness,
    created: datetime,
    start: str,
    week_before: datetime,
    moved_to: str,
    moved_week_before: datetime,
) -> None:
    bot.clock.set(created)
    await link(bot, NORTH, "North")
    event_id = await announced(bot, start=start)
    await bot.press("event.rsvp", f"{event_id}:going", SAM, first_announcement(bot).ref)
    event = await feature(bot).repository.event(event_id)
    assert event is not None
    assert week_before in await reminders_due(bot)
    assert local(week_before).hour == 10 and local(event.starts_at).hour == 10
    bot.clock.set(week_before - timedelta(minutes=1))
    await bot.tick()
    assert reminders_sent(bot) == 0
    bot.clock.set(week_before)
    await bot.tick()
    assert reminders_sent(bot) == 1
    [direct] = [s for s in bot.adapter.of_kind("direct") if "A reminder" in s.text]
    assert "starts in 7 days" in direct.text and ", 10:00 to 11:30" in direct.text
    # How to give the place up, in time for someone else to have it.
    assert "If you can't come after all, press **Can't go** on its announcement" in direct.text
    await bot.tick(timedelta(hours=2))  # never twice
    assert reminders_sent(bot) == 1
    # An edit a day later moves it: 10:00 local a week before the new day, and only then.
    await feature(bot).edit(event_id, {"start": moved_to}, PRIYA.identity, Role.FACILITATOR)
    assert moved_week_before in await reminders_due(bot)
    bot.clock.set(moved_week_before - timedelta(minutes=1))
    await bot.tick()
    assert reminders_sent(bot) == 1
    bot.clock.set(moved_week_before)
    await bot.tick()
    await bot.tick()
    assert reminders_sent(bot) == 2


async def test_hour_reminders_stay_exact_lengths_of_time(bot: Harness) -> None:
    bot.clock.set(datetime(2027, 3, 27, 9, tzinfo=UTC))
    await link(bot, NORTH, "North")
    # Sunday 28 March 2027, 03:30 BST: the hour before is 01:30 UTC, across the change.
    event_id = await announced(bot, start="2027-03-28 03:30")
    event = await feature(bot).repository.event(event_id)
    assert event is not None
    assert event.starts_at - timedelta(hours=1) in await reminders_due(bot)


def test_days_before_keeps_the_wall_clock_and_lands_an_hour_on_in_a_gap() -> None:
    start = datetime(2027, 11, 3, 10, tzinfo=UTC)
    assert days_before(start, 7, LONDON) == datetime(2027, 10, 27, 9, tzinfo=UTC)
    # 01:30 the Sunday the clocks skip it is taken as 02:30 BST, as the scheduler does.
    skipped_day = days_before(datetime(2027, 4, 4, 0, 30, tzinfo=UTC), 7, LONDON)
    assert skipped_day == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_which_local_times_are_skipped_or_repeated() -> None:
    assert not exists(datetime(2027, 3, 28, 1, 30), LONDON)
    assert exists(datetime(2027, 3, 28, 0, 59), LONDON)
    assert exists(datetime(2027, 3, 28, 2, 0), LONDON)
    assert repeated(datetime(2027, 10, 31, 1, 30), LONDON)
    assert not repeated(datetime(2027, 10, 31, 2, 0), LONDON)
    assert not repeated(datetime(2027, 3, 28, 1, 30), LONDON)
    assert skipped(datetime(2027, 3, 28, 1, 30), LONDON) == GAP
    assert skipped(datetime(2027, 3, 28, 1, 0), LONDON) == GAP.replace("01:30", "01:00", 1)
    assert skipped(datetime(2027, 3, 28, 2, 0), LONDON) is None


async def test_a_start_the_clocks_skip_is_refused_in_the_form_and_nothing_kept(
    bot: Harness,
) -> None:
    bot.clock.set(datetime(2027, 3, 1, 9, tzinfo=UTC))
    await link(bot, NORTH, "North")
    values = {"title": "Workshop", "region": "North", "start": "2027-03-28T01:30"}
    with pytest.raises(FormInvalid) as invalid:
        await bot.submit("event-new", values, PRIYA)
    assert invalid.value.errors == {"start": GAP}
    assert await feature(bot).repository.upcoming_and_recent(None) == []
    assert await bot.tick() == 0


async def test_an_edit_to_a_skipped_time_is_refused_and_changes_nothing(bot: Harness) -> None:
    bot.clock.set(datetime(2027, 3, 1, 9, tzinfo=UTC))
    await link(bot, NORTH, "North")
    event_id = await announced(bot, start="2027-03-29 10:00")
    before = await feature(bot).repository.event(event_id)
    with pytest.raises(Exception, match="doesn't exist in London") as refused:
        await feature(bot).edit(
            event_id, {"start": "2027-03-28 01:30"}, PRIYA.identity, Role.FACILITATOR
        )
    assert getattr(refused.value, "problems", None) == {"start": GAP}
    assert await feature(bot).repository.event(event_id) == before


def test_the_command_line_refuses_a_skipped_start_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "copbot.db"
    assert invoke(db, "db", "migrate").exit_code == 0
    result = invoke(
        db, "events", "add", "--title", "T", "--region", "North", "--start", "2027-03-28 01:30"
    )
    assert result.exit_code == 1
    assert GAP in result.output and result.output.count("\n") == 1
    assert json.loads(invoke(db, "events", "list", "--format", "json").output) == []


async def test_a_start_the_clocks_go_through_twice_is_the_first_and_says_so(
    bot: Harness,
) -> None:
    bot.clock.set(datetime(2027, 10, 1, 9, tzinfo=UTC))
    await link(bot, NORTH, "North")
    event_id = await announced(bot, start="2027-10-31 01:30", duration="30")
    event = await feature(bot).repository.event(event_id)
    assert event is not None
    assert event.starts_at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 01:30 BST
    text = first_announcement(bot).text
    assert "Sun 31 Oct 2027, 01:30 BST to 01:00 GMT" in text


@pytest.mark.parametrize(
    ("before", "says"),
    [
        (timedelta(days=7), "starts in 7 days"),
        (timedelta(days=1), "starts tomorrow"),
        (timedelta(hours=3), "starts in 3 hours"),
        (timedelta(minutes=90), "starts in 90 minutes"),  # not "in 2 hours"
        (timedelta(hours=1), "starts in an hour"),
        (timedelta(minutes=59, seconds=40), "starts in an hour"),  # a tick late
        (timedelta(minutes=15), "starts in 15 minutes"),
        (timedelta(seconds=20), "starts in a minute"),
    ],
)
async def test_a_reminder_says_how_soon_as_people_would(
    bot: Harness, before: timedelta, says: str
) -> None:
    from bot.event_messages import reminder

    await link(bot, NORTH, "North")
    event = await feature(bot).repository.event(await announced(bot))
    assert event is not None
    said = reminder(event, LONDON, event.starts_at - before).text
    assert says + "," in said


def test_a_reminder_says_a_place_given_up_goes_to_someone_waiting_where_places_are_few() -> None:
    from bot.event_messages import reminder
    from tests.test_calendar_feed import event

    limited, open_to_all = event(capacity=12), event(capacity=None)
    soon = limited.starts_at - timedelta(days=1)
    assert "so someone waiting can have your place" in reminder(limited, LONDON, soon).text
    assert "so the organiser knows" in reminder(open_to_all, LONDON, soon).text
