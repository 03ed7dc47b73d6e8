"""Prompts on a schedule: the grammar, the chat verbs, and the jobs through restarts,
outages and clock changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.commands import UsageError
from bot.model import Role
from bot.records import JobState
from bot.schedule_grammar import parse_schedule
from bot.services.schedules import SchedulesFeature
from storage.jobs import SqliteJobRepository
from tests.support.harness import ALEX, GENERAL, NORTH, PRIYA, SAM, Harness

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("text", "rule", "when", "channel"),
    [
        (
            "any every tuesday at 10:00",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10;BYMINUTE=0;BYSECOND=0",
            "every Tuesday at 10:00",
            None,
        ),
        (
            "language every Mon and thurs at 9.30 in #north",
            "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30;BYSECOND=0",
            "every Monday and Thursday at 09:30",
            "#north",
        ),
        (
            "any every weekday at 2pm",
            "BYDAY=MO,TU,WE,TH,FR;BYHOUR=14",
            "every weekday at 14:00",
            None,
        ),
        (
            "any every fridays, mondays at 12am",
            "BYDAY=MO,FR;BYHOUR=0",
            "every Monday and Friday",
            None,
        ),
        ("any every day at 7", "BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=7", "every day at 07:00", None),
        (
            "any every other Tuesday at 10:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=10",
            "every other week on Tuesday at 10:00",
            None,
        ),
        (
            "any every second tuesday at noon",
            "INTERVAL=2;BYDAY=TU;BYHOUR=12;BYMINUTE=0",
            "every other week on Tuesday at 12:00",
            None,
        ),
        (
            "any every 2 weeks on mon and thu at 9:30 in #north",
            "INTERVAL=2;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30",
            "every other week on Monday and Thursday at 09:30",
            "#north",
        ),
        (
            "any fortnightly on friday at 2pm.",
            "INTERVAL=2;BYDAY=FR;BYHOUR=14",
            "every other week on Friday at 14:00",
            None,
        ),
        (
            "any every other week on weekdays at midday",
            "INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYHOUR=12",
            "every other week on weekdays at 12:00",
            None,
        ),
        (
            "any fortnightly friday at 9",
            "INTERVAL=2;BYDAY=FR;BYHOUR=9",
            "every other week on Friday at 09:00",
            None,
        ),
        (
            "any every tuesday at 10:00 in #north.",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#north",
        ),
        (
            "any every tuesday at 10:00 in #IPS North Leads",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#IPS North Leads",
        ),
        (
            "any in IPS North every tuesday at 10:00",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "IPS North",
        ),
        (
            "language in #north every week on tuesday at 10:00.",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#north",
        ),
        # Teams channel names have spaces, and may hold "in" or "every" too.
        (
            "any every tuesday at 10:00 in #IPS North East",
            "BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#IPS North East",
        ),
        (
            "any every tuesday at 10:00 in Working in partnership",
            "BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "Working in partnership",
        ),
        # ... named first, too: the name ends where the rest reads as a schedule.
        (
            "any in #Meet at lunch every monday at 10:00",
            "BYDAY=MO;BYHOUR=10",
            "every Monday at 10:00",
            "#Meet at lunch",
        ),
        (
            "any in Every Voice Counts fortnightly on friday at 14:30",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;BYHOUR=14",
            "every other week on Friday at 14:30",
            "Every Voice Counts",
        ),
        (
            "any in Working in partnership every wed at 9:00",
            "BYDAY=WE;BYHOUR=9",
            "every Wednesday at 09:00",
            "Working in partnership",
        ),
        # "2nd" as "second": a week apart, not a day of the month.
        (
            "any every 2nd week on tuesday at 10:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=10",
            "every other week on Tuesday at 10:00",
            None,
        ),
        (
            "any every 2nd thursday at 10:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=10",
            "every other week on Thursday at 10:00",
            None,
        ),
        # Commas are the sentence's, never part of a channel's name or a time.
        (
            "any in #north, every tuesday at 10:00",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#north",
        ),
        (
            "any every tuesday at 10am, in #IPS North,",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#IPS North",
        ),
        (
            "any every tuesday in #north, at 10:00",
            "FREQ=WEEKLY;BYDAY=TU;BYHOUR=10",
            "every Tuesday at 10:00",
            "#north",
        ),
        (
            "any in IPS North East fortnightly on friday at 2pm",
            "INTERVAL=2;BYDAY=FR;BYHOUR=14",
            "every other week on Friday at 14:00",
            "IPS North East",
        ),
    ],
)
def test_schedule_grammar(text: str, rule: str, when: str, channel: str | None) -> None:
    request = parse_schedule(text.split())
    assert rule in request.rule
    assert request.when.startswith(when)
    assert request.channel == channel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Start with the topic (or `any`)"),
        ("any at 10:00", "After the topic, say how often"),
        ("any every tuesday", "Say what time"),
        ("any every fortnight at 10:00", "Say which days"),
        ("any every other day at 10:00", "but not every other day"),
        ("any every other weekday at 10:00", "but not every other day"),
        ("any every 3 weeks on tuesday at 10:00", "every other tuesday), but not every 3 weeks."),
        ("any every month on the 30th at 10:00", "but not once a month or on a date."),
        ("any every 31st at 10:00", "I can post every week or every other week, on the days"),
        ("any monthly on monday at 10:00", "but not once a month or on a date."),
        ("any every first monday at 9am in #north", "but not once a month or on a date."),
        ("any every last friday at 10:00", "but not once a month or on a date."),
        ("any every 2nd tuesday of the month at 10:00", "but not once a month or on a date."),
        ("any every 2nd and 4th friday at 10:00", "but not once a month or on a date."),
        ("any every 3rd week on tuesday at 10:00", "every other tuesday), but not every 3rd week."),
        ("any every 4th weeks on friday at 10:00", "but not every 4th week."),
        ("any every at 10:00", "Say which days"),
        ("any every tuesday at 25:00", "`25:00` isn't a time of day"),
        ("any every tuesday at 10:75", "`10:75` isn't a time of day"),
        ("any every tuesday at 13pm", "`13pm` isn't a time of day"),
        ("any every tuesday at noonish", "I couldn't read `noonish` as a time"),
        ("any every tuesday at 10:00 in", "After `in`, name one channel"),
        ("any in every tuesday at 10:00", "After `in`, name one channel"),
        ("any every tuesday at 10:00 GMT", "`10:00 GMT` as a time: leave out the time zone"),
        ("any every tuesday at 2pm UK time in #north", "leave out the time zone"),
        ("any every tuesday at noon BST", "`noon BST` as a time: leave out the time zone"),
        ("any every tuesday at soon GMT", "I couldn't read `soon GMT` as a time. Use the 24-hour"),
    ],
)
def test_schedule_grammar_errors_say_how_to_fix_them(text: str, message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_schedule(text.split())
    assert message in str(e.value)


@pytest.fixture
async def sched(bot: Harness) -> Harness:
    await bot.join(GENERAL)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    bot.adapter.sent.clear()
    return bot


async def test_a_facilitator_schedules_lists_and_cancels(sched: Harness) -> None:
    text = await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    assert text == (
        "Scheduled #1: a prompt from any topic, every Tuesday at 10:00, in #general "
        "(Europe/London time). The first will be on Tue 1 Dec 2026, 10:00."
    )
    text = await sched.reply_text("schedule prompt language every mon and thu at 9:30", PRIYA)
    assert "Scheduled #2: a prompt from Use of language, every Monday and Thursday at 09:30" in text
    listing = await sched.reply_text("schedule list", PRIYA)
    assert (
        "#1: a prompt from any topic, every Tuesday at 10:00, in #general; next on Tue 1 Dec 2026, 10:00 (set up by Priya)"
        in listing
    )
    assert "#2:" in listing
    assert await sched.reply_text("schedule cancel 1", PRIYA) == (
        "Cancelled schedule #1: a prompt from any topic, every Tuesday at 10:00, in #general."
    )
    assert "#1:" not in await sched.reply_text("schedule list", PRIYA)
    assert "no active schedule #1" in await sched.reply_text("schedule cancel 1", PRIYA)
    assert "isn't a schedule number" in await sched.reply_text("schedule cancel one", PRIYA)


async def test_the_same_schedule_twice_is_refused_with_a_pointer_to_the_first(
    sched: Harness,
) -> None:
    await sched.reply_text("schedule prompt language every tuesday at 10:00", PRIYA)
    again = await sched.reply_text("schedule prompt LANGUAGE every tue at 10:00", PRIYA)
    assert again.startswith("That schedule is set up already: #1, a prompt from Use of language")
    assert "`/cop schedule list`" in again
    assert len(await sched.core.scheduler.recurrences("prompt.post")) == 1
    # Another time or topic is another schedule.
    assert "Scheduled #2" in await sched.reply_text(
        "schedule prompt language every tuesday at 11:00", PRIYA
    )


@pytest.mark.parametrize(
    ("back", "next_on"),
    [
        (datetime(2026, 11, 25, 10, 5, tzinfo=UTC), "Thu 26 Nov 2026, 10:00"),  # in the grace
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "Sat 28 Nov 2026, 10:00"),  # long after
    ],
)
async def test_resumed_while_copbot_was_stopped_the_prompt_skipped_is_not_posted_late(
    sched: Harness, db_path: Path, back: datetime, next_on: str
) -> None:
    # Paused, then copbot stopped before the post came due, and resumed (as the command
    # line and the console do, with copbot stopped): nothing late, nobody told it missed.
    await sched.reply_text("schedule prompt any every day at 10:00", PRIYA)
    await sched.reply_text("schedule pause 1", PRIYA)
    sched.close()
    again = Harness.open(db_path)
    again.clock.set(back)
    schedules = again.core.feature(SchedulesFeature)
    resumed = await schedules.resume("1", prefix="copbot")
    assert f"The next prompt will be on {next_on};" in resumed
    [line] = await schedules.listing()
    assert f"next on {next_on}" in line
    await again.tick()
    assert again.adapter.of_kind("post") == [] and again.adapter.of_kind("direct") == []
    assert await _states(again) == [JobState.SKIPPED, JobState.PENDING]
    await again.tick(back.replace(hour=10, minute=0) + timedelta(days=1) - back)
    assert len(again.adapter.of_kind("post")) == 1
    again.close()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("schedule prompt racism every tuesday at 10:00", "There's no topic `racism`"),
        ("schedule prompt any every tuesday at 25:00", "`25:00` isn't a time of day"),
        ("schedule prompt any every blue moon at 10:00", "couldn't read `blue` as a day"),
        ("schedule prompt any every tuesday at 10:00 in #north", "I can't post in #north"),
    ],
)
async def test_bad_schedules_explain_and_schedule_nothing(
    sched: Harness, command: str, message: str
) -> None:
    text = await sched.reply_text(command, PRIYA)
    assert message in text
    assert "Usage: `/cop schedule prompt TOPIC|any every DAYS at HH:MM [in #channel]`" in text
    assert await sched.core.scheduler.recurrences("prompt.post") == []
    assert "is for facilitators" in await sched.reply_text(command, SAM)


async def test_every_other_week_starts_on_the_next_of_its_days_then_skips_a_week(
    sched: Harness,
) -> None:
    # Wednesday 25 November: the first Tuesday is the 1st, not the 8th.
    text = await sched.reply_text("schedule prompt any every other tuesday at 10:00", PRIYA)
    assert text == (
        "Scheduled #1: a prompt from any topic, every other week on Tuesday at 10:00, in "
        "#general (Europe/London time). The first will be on Tue 1 Dec 2026, 10:00."
    )
    while sched.clock.now() < datetime(2027, 1, 1, tzinfo=UTC):
        await sched.tick(timedelta(minutes=20))
    history = await sched.core.prompts._repo.history(GENERAL)  # type: ignore[attr-defined]
    assert [h.posted_at.astimezone(LONDON).strftime("%a %d %b %H:%M") for h in history] == [
        "Tue 01 Dec 10:00",
        "Tue 15 Dec 10:00",
        "Tue 29 Dec 10:00",
    ]
    assert "every other week on Tuesday at 10:00, in #general; next on Tue 12 Jan 2027" in (
        await sched.reply_text("schedule list", PRIYA)
    )


async def test_weekly_prompt_posts_at_local_time_across_both_clock_changes_once(
    sched: Harness,
) -> None:
    sched.clock.set(datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    while sched.clock.now() < datetime(2026, 11, 15, tzinfo=UTC):
        await sched.tick(timedelta(minutes=20))
    posts = sched.adapter.of_kind("post")
    history = await sched.core.prompts._repo.history(GENERAL)  # type: ignore[attr-defined]
    assert len(posts) == len(history) == 35  # each Tuesday, 17 March to 10 November, once
    times = [h.posted_at for h in history]
    assert all(t.astimezone(LONDON).strftime("%a %H:%M") == "Tue 10:00" for t in times)
    assert {t.hour for t in times} == {9, 10}  # 10:00 London is 09:00 UTC in summer
    assert len({h.prompt_id for h in history}) == 35  # and no prompt twice
    assert all(h.schedule_id == 1 and h.posted_by == "" for h in history)


async def test_a_restart_while_posting_never_doubles_and_tells_the_owner(
    sched: Harness, db_path: Path
) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    due = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    sched.clock.set(due)
    sched.adapter.hang_after_post = asyncio.Event()  # the post goes out...
    tick = asyncio.create_task(sched.core.scheduler.tick())
    while not sched.adapter.of_kind("post"):
        await asyncio.sleep(0.01)
    tick.cancel()  # ...and the process dies before recording it
    with pytest.raises(asyncio.CancelledError):
        await tick
    sched.close()

    again = Harness.open(db_path)
    again.clock.set(due + timedelta(minutes=11))
    await again.tick()
    assert again.adapter.of_kind("post") == []  # not posted a second time
    [told] = again.adapter.of_kind("direct")
    assert told.user is not None and told.user.identity == PRIYA.identity
    assert "may or may not have gone out" in told.text and "(schedule #1)" in told.text
    # the schedule carries on next week, once
    await again.tick(timedelta(days=7))
    await again.tick()
    assert len(again.adapter.of_kind("post")) == 1
    again.close()


async def test_a_post_due_while_copbot_was_briefly_down_goes_out_once(
    sched: Harness, db_path: Path
) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    sched.close()
    again = Harness.open(db_path)
    again.clock.set(datetime(2026, 12, 1, 10, 10, tzinfo=UTC))  # ten minutes late
    await again.tick()
    await again.tick()
    assert len(again.adapter.of_kind("post")) == 1
    again.close()


async def test_a_post_missed_during_a_long_outage_is_not_posted_stale(
    sched: Harness, db_path: Path
) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    sched.close()
    again = Harness.open(db_path)
    again.clock.set(datetime(2026, 12, 1, 13, 0, tzinfo=UTC))
    await again.tick()
    assert again.adapter.of_kind("post") == []
    [told] = again.adapter.of_kind("direct")
    assert "copbot wasn't running on Tue 1 Dec 2026, 10:00" in told.text
    jobs = await SqliteJobRepository(again.core.db, again.clock).jobs()
    assert [j.state for j in jobs] == [JobState.MISSED, JobState.PENDING]
    again.close()


async def test_platform_errors_are_retried_with_backoff_and_posted_once(sched: Harness) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    sched.adapter.fail_next = 2
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await sched.tick()
    await sched.tick(timedelta(seconds=30))
    await sched.tick(timedelta(minutes=2))
    assert len(sched.adapter.of_kind("post")) == 1
    assert len(await sched.core.prompts._repo.history(GENERAL)) == 1  # type: ignore[attr-defined]
    # The owner hears only what was posted, with its note: nothing of the retries.
    [note] = sched.adapter.of_kind("direct")
    assert note.text.startswith("I've posted your scheduled prompt")


async def test_the_owner_of_a_schedule_gets_each_posts_facilitator_note_privately(
    sched: Harness,
) -> None:
    await sched.reply_text("schedule prompt language every tuesday at 10:00", PRIYA)
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await sched.tick()
    [post] = sched.adapter.of_kind("post")
    [note] = sched.adapter.of_kind("direct")
    assert note.user is not None and note.user.identity == PRIYA.identity
    assert note.text == (
        "I've posted your scheduled prompt **BAME, ethnic minority, global majority** "
        "(`language-group-terms`) in #general (schedule #1).\n"
        "**Facilitator note:** There is no single right answer here, and people in the room "
        "may hold strong and different views, including about how they describe themselves. "
        "Let those views sit side by side rather than trying to agree one preferred term."
    )
    assert "Facilitator note" not in post.text  # the channel never sees it
    # Next week's post brings next week's note, once.
    await sched.tick(timedelta(days=7))
    await sched.tick()
    assert len(sched.adapter.of_kind("post")) == len(sched.adapter.of_kind("direct")) == 2


async def test_an_owner_who_is_no_longer_a_facilitator_gets_no_more_notes(
    sched: Harness,
) -> None:
    await sched.reply_text("schedule prompt language every tuesday at 10:00", PRIYA)
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await sched.tick()
    assert len(sched.adapter.of_kind("direct")) == 1
    await sched.core.roles.revoke(PRIYA.identity, Role.FACILITATOR, by="test")
    await sched.tick(timedelta(days=7))
    await sched.tick()
    # The schedule posts on; its facilitator note goes to no one.
    assert len(sched.adapter.of_kind("post")) == 2
    assert len(sched.adapter.of_kind("direct")) == 1


async def test_an_owner_who_is_no_longer_a_facilitator_is_told_whom_to_ask_to_resume(
    sched: Harness,
) -> None:
    await sched.reply_text("schedule prompt language every tuesday at 10:00", PRIYA)
    await sched.core.roles.revoke(PRIYA.identity, Role.FACILITATOR, by="test")
    sched.adapter.refuse_posts = "#general has been archived, so I can't post there."
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await sched.tick()
    [told] = sched.adapter.of_kind("direct")
    # Not a command she would be refused, but who can run it.
    assert told.text.endswith(
        "So I've paused the schedule rather than have it fail each time it comes due. "
        "Once that's put right, a facilitator can start it again with "
        "`/cop schedule resume 1` (`/cop role list` shows who they are). (schedule #1)"
    )
    assert "is for facilitators" in await sched.reply_text("schedule resume 1", PRIYA)


async def test_a_note_that_cannot_be_sent_never_posts_the_prompt_again(
    sched: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def closed(*_: object) -> None:
        raise ConnectionError("the platform is unavailable")

    monkeypatch.setattr(sched.adapter, "send_direct", closed)
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    for _ in range(5):
        await sched.tick(timedelta(minutes=10))
    assert len(sched.adapter.of_kind("post")) == 1
    assert len(await sched.core.prompts._repo.history(GENERAL)) == 1  # type: ignore[attr-defined]
    jobs = await SqliteJobRepository(sched.core.db, sched.clock).jobs()
    assert sorted(j.state for j in jobs) == sorted([JobState.DONE, JobState.PENDING])


async def test_the_owner_hears_when_a_post_fails_after_the_last_attempt(sched: Harness) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    sched.adapter.fail_next = 99
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    for _ in range(6):
        await sched.tick()
        await sched.tick(timedelta(minutes=10))
    assert sched.adapter.of_kind("post") == []
    [told] = sched.adapter.of_kind("direct")
    assert told.text == (
        "I couldn't post the scheduled prompt in #general due on Tue 1 Dec 2026, 10:00. "
        "Something kept going wrong, even after I tried again; whoever runs copbot can see "
        "what in its log. The schedule carries on; if this keeps happening, check that "
        "copbot is still in the channel. (schedule #1)"
    )  # the platform's own error, which may quote anything, is for the logs


@pytest.mark.parametrize(
    "refusal",
    [
        "#general has been archived, so I can't post there. Unarchive it or pick another channel.",
        "Teams refused: copbot may have been removed from that team or chat, or isn't allowed "
        "to post there. Ask a Teams admin to check the app is installed.",
    ],
)
async def test_a_schedule_the_platform_refuses_is_paused_and_its_owner_told_once(
    sched: Harness, refusal: str
) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    sched.adapter.refuse_posts = refusal  # archived, or copbot removed unseen
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    for _ in range(3):
        await sched.tick(timedelta(minutes=10))
        await sched.tick(timedelta(days=7))
    [told] = sched.adapter.of_kind("direct")
    assert told.text == (
        f"I couldn't post the scheduled prompt in #general due on Tue 1 Dec 2026, 10:00. "
        f"{refusal} So I've paused the schedule rather than have it fail each time it comes "
        "due. Once that's put right, `/cop schedule resume 1` starts it again. (schedule #1)"
    )
    jobs = await SqliteJobRepository(sched.core.db, sched.clock).jobs()
    assert [j.attempts for j in jobs if j.state is JobState.FAILED] == [1]  # never retried
    assert "paused since Tue 1 Dec 2026" in await sched.reply_text("schedule list", PRIYA)
    sched.adapter.refuse_posts = ""
    assert "Resumed schedule #1" in await sched.reply_text("schedule resume 1", PRIYA)
    sched.clock.set(datetime(2026, 12, 29, 10, 0, tzinfo=UTC))
    await sched.tick()
    assert len(sched.adapter.of_kind("post")) == 1


async def test_a_schedule_for_a_channel_copbot_left_fails_clearly(sched: Harness) -> None:
    from bot.model import Channel

    await sched.join(NORTH)
    await sched.reply_text("schedule prompt any every tuesday at 10:00 in #north", PRIYA)
    await sched.core.channels.save(Channel(NORTH, "north", bot_member=False))
    sched.adapter.sent.clear()
    await sched.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - sched.clock.now())
    assert sched.adapter.of_kind("post") == []
    [told] = sched.adapter.of_kind("direct")
    assert "due on Tue 1 Dec 2026, 10:00. I'm no longer in #north, so I can't post" in told.text
    assert "So I've paused the schedule" in told.text and "`/cop schedule resume 1`" in told.text
    # Paused: the weeks after bring neither a post nor another message.
    for _ in range(2):
        await sched.tick(timedelta(days=7))
    assert sched.adapter.of_kind("post") == [] and len(sched.adapter.of_kind("direct")) == 1
    # Back in the channel and resumed, it posts again.
    await sched.core.channels.save(Channel(NORTH, "north", bot_member=True))
    assert "Resumed schedule #1" in await sched.reply_text("schedule resume 1", PRIYA)
    await sched.tick(timedelta(days=7))
    assert len(sched.adapter.of_kind("post")) == 1


async def test_resuming_a_schedule_in_a_channel_copbot_is_still_out_of_is_refused(
    sched: Harness,
) -> None:
    from bot.model import Channel

    await sched.join(NORTH)
    await sched.reply_text("schedule prompt any every tuesday at 10:00 in #north", PRIYA)
    await sched.core.channels.save(Channel(NORTH, "north", bot_member=False))
    sched.adapter.sent.clear()
    await sched.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - sched.clock.now())
    assert len(sched.adapter.of_kind("direct")) == 1  # paused, and Priya told
    refused = await sched.reply_text("schedule resume 1", PRIYA)
    assert refused == (
        "I'm still not in #north, so schedule #1 would only fail again. Add me to it first "
        "(in Slack: `/invite @copbot`; in Teams: add copbot to the team), then resume it."
    )
    assert "paused since" in await sched.reply_text("schedule list", PRIYA)
    # Nothing changed: the weeks after bring neither a post nor another message.
    await sched.tick(timedelta(days=7))
    assert sched.adapter.of_kind("post") == [] and len(sched.adapter.of_kind("direct")) == 1


def test_the_command_line_schedules_lists_and_cancels(db_path: Path) -> None:
    async def seed() -> None:
        h = Harness.open(db_path)
        await h.join(NORTH)
        h.close()

    asyncio.run(seed())
    runner = CliRunner()
    db = ["--db", str(db_path)]
    result = runner.invoke(
        cli, ["schedule", "prompt", "any", "every", "wed", "at", "16:00", "in", "#north", *db]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Scheduled #1: a prompt from any topic, every Wednesday at 16:00, in #north"
    )
    assert "#1: a prompt from any topic" in runner.invoke(cli, ["schedule", "list", *db]).output
    bad = runner.invoke(cli, ["schedule", "prompt", "any", "every", "wed", "at", "16:00", *db])
    assert bad.exit_code == 1 and "Say which channel" in bad.output
    assert "Cancelled schedule #1" in runner.invoke(cli, ["schedule", "cancel", "1", *db]).output
    assert "No prompts are scheduled." in runner.invoke(cli, ["schedule", "list", *db]).output


async def test_staff_are_told_schedules_are_for_facilitators(sched: Harness) -> None:
    assert "is for facilitators" in await sched.reply_text("schedule list", SAM)
    assert ALEX  # admins may, as facilitators
    assert "No prompts are scheduled" in await sched.reply_text("schedule list", ALEX)


async def test_back_after_a_long_stop_the_owner_hears_once_and_the_schedule_goes_on(
    sched: Harness, db_path: Path
) -> None:
    await sched.reply_text("schedule prompt any every day at 10:00", PRIYA)
    sched.close()
    again = Harness.open(db_path)
    again.clock.set(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))  # two weeks later
    await again.tick()
    assert len(again.adapter.of_kind("direct")) == 1
    assert again.adapter.of_kind("post") == []
    await again.tick(timedelta(hours=22))  # 10:00 the next day
    assert len(again.adapter.of_kind("post")) == 1
    again.close()


async def test_a_post_whose_outcome_is_unknown_is_not_tried_again(sched: Harness) -> None:
    from bot.ports import OutcomeUnknown

    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    original = sched.adapter.post
    calls = 0

    async def times_out(channel, message):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        await original(channel, message)
        raise OutcomeUnknown("Slack didn't answer whether the message was posted")

    sched.adapter.post = times_out  # type: ignore[method-assign]
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    for _ in range(4):
        await sched.tick(timedelta(minutes=5))
    assert calls == 1
    [told] = sched.adapter.of_kind("direct")
    assert told.text.startswith(
        "The chat platform didn't answer when I posted the scheduled prompt in #general due on "
        "Tue 1 Dec 2026, 10:00. It may or may not have gone out"
    )  # not a restart: copbot ran on throughout


async def test_a_channel_copbot_was_removed_from_is_refused(sched: Harness) -> None:
    from bot.model import BotRemovedFromChannel

    await sched.join(NORTH)
    await sched.deliver(BotRemovedFromChannel("left-north", NORTH, sched.clock.now()))
    text = await sched.reply_text("schedule prompt any every tuesday at 10:00 in #north", PRIYA)
    assert "I can't post in #north" in text


async def test_a_schedule_here_in_a_channel_copbot_has_left_is_refused(sched: Harness) -> None:
    # A slash command works in any channel, copbot's or not: a schedule in one copbot has
    # left would only fail when it came due.
    from bot.model import Channel

    await sched.core.channels.save(Channel(NORTH, "north", bot_member=False))
    text = await sched.reply_text(
        "schedule prompt any every tuesday at 10:00", PRIYA, channel=NORTH
    )
    assert text.startswith("I'm not in this channel, so I couldn't post prompts here.")
    assert await sched.core.scheduler.recurrences("prompt.post") == []
    await sched.join(NORTH)
    assert "Scheduled #1" in await sched.reply_text(
        "schedule prompt any every tuesday at 10:00", PRIYA, channel=NORTH
    )


async def test_a_schedule_here_in_a_channel_copbot_never_heard_of_posts_when_due(
    sched: Harness,
) -> None:
    # Taken as one copbot is in, its arrival missed (nothing says it left): its prompts are
    # posted, not the schedule paused as if copbot had left.
    assert await sched.core.channels.get(NORTH) is None
    text = await sched.reply_text(
        "schedule prompt any every tuesday at 10:00", PRIYA, channel=NORTH
    )
    assert "Scheduled #1" in text
    sched.adapter.sent.clear()
    await sched.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - sched.clock.now())
    [posted] = sched.adapter.of_kind("post")
    assert posted.channel == NORTH
    [note] = sched.adapter.of_kind("direct")  # its note; no trouble
    assert note.text.startswith("I've posted your scheduled prompt")
    [schedule] = await sched.core.scheduler.recurrences("prompt.post")
    assert not schedule.paused


async def test_a_schedule_in_a_channel_copbot_never_heard_of_pauses_once_it_is_removed(
    sched: Harness,
) -> None:
    from bot.model import BotRemovedFromChannel

    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA, channel=NORTH)
    await sched.deliver(BotRemovedFromChannel("left-north", NORTH, sched.clock.now()))
    sched.adapter.sent.clear()
    await sched.tick(datetime(2026, 12, 1, 10, 0, tzinfo=UTC) - sched.clock.now())
    assert sched.adapter.of_kind("post") == []
    [schedule] = await sched.core.scheduler.recurrences("prompt.post")
    assert schedule.paused


TUESDAY_1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 10:00 in London too, in winter


async def _states(h: Harness) -> list[JobState]:
    return [j.state for j in await SqliteJobRepository(h.core.db, h.clock).jobs()]


async def test_a_paused_schedule_posts_nothing_and_resumes_without_a_backlog(
    sched: Harness,
) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    assert await sched.reply_text("schedule pause 1", PRIYA) == (
        "Paused schedule #1: a prompt from any topic, every Tuesday at 10:00, in #general. "
        "Nothing will be posted until it's resumed with `/cop schedule resume 1`."
    )
    listing = await sched.reply_text("schedule list", PRIYA)
    assert "#1: a prompt from any topic, every Tuesday at 10:00, in #general; paused since " in (
        listing
    )
    assert "next on" not in listing and "schedule resume ID" in listing
    sched.clock.set(TUESDAY_1)
    await sched.tick()
    await sched.tick(timedelta(days=7))  # and the Tuesday after
    assert sched.adapter.of_kind("post") == []
    assert sched.adapter.of_kind("direct") == []  # a pause asked for is no trouble to report
    assert await _states(sched) == [JobState.SKIPPED, JobState.SKIPPED, JobState.PENDING]

    sched.clock.set(datetime(2026, 12, 9, 12, 0, tzinfo=UTC))
    assert await sched.reply_text("schedule resume 1", PRIYA) == (
        "Resumed schedule #1: a prompt from any topic, every Tuesday at 10:00, in #general. "
        "The next prompt will be on Tue 15 Dec 2026, 10:00; the ones skipped while it was "
        "paused won't be posted."
    )
    await sched.tick()
    assert sched.adapter.of_kind("post") == []  # no backlog of the two Tuesdays skipped
    assert "next on Tue 15 Dec 2026, 10:00" in await sched.reply_text("schedule list", PRIYA)
    await sched.tick(datetime(2026, 12, 15, 10, 0, tzinfo=UTC) - sched.clock.now())
    await sched.tick()
    assert len(sched.adapter.of_kind("post")) == 1


async def test_a_pause_holds_through_a_restart_and_a_long_stop(
    sched: Harness, db_path: Path
) -> None:
    await sched.reply_text("schedule prompt any every day at 10:00", PRIYA)
    await sched.reply_text("schedule pause 1", PRIYA)
    sched.close()
    again = Harness.open(db_path)
    again.clock.set(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))  # two weeks later
    await again.tick()
    assert again.adapter.of_kind("post") == [] and again.adapter.of_kind("direct") == []
    # One occurrence skipped, then straight on from now: not one job per day stopped.
    assert await _states(again) == [JobState.SKIPPED, JobState.PENDING]
    await again.tick(timedelta(days=1))
    assert again.adapter.of_kind("post") == []
    # (The feature itself: a new process's command ids would look like repeats.)
    schedules = again.core.feature(SchedulesFeature)
    [line] = await schedules.listing()
    assert "paused since" in line
    resumed = await schedules.resume("1", viewer=PRIYA, prefix="/cop")
    assert "The next prompt will be on Sat 12 Dec 2026, 10:00" in resumed
    await again.tick(timedelta(hours=22))  # Saturday 10:00
    assert len(again.adapter.of_kind("post")) == 1
    again.close()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("schedule pause", "Give the number of the schedule to pause."),
        ("schedule resume 1 2", "Give the number of the schedule to resume."),
        ("schedule pause one", "isn't a schedule number"),
        ("schedule pause 9", "There's no active schedule #9. `/cop schedule list` shows them."),
        ("schedule resume 9", "There's no active schedule #9."),
        ("schedule resume 1", "Schedule #1 isn't paused, so there's nothing to resume."),
    ],
)
async def test_pausing_and_resuming_the_wrong_schedule_explain_and_change_nothing(
    sched: Harness, command: str, message: str
) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    assert message in await sched.reply_text(command, PRIYA)
    [recurrence] = await sched.core.scheduler.recurrences("prompt.post")
    assert not recurrence.paused


async def test_who_may_pause_and_resume(sched: Harness) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    refused = await sched.reply_text("schedule pause 1", SAM)
    assert "is for facilitators" in refused
    [recurrence] = await sched.core.scheduler.recurrences("prompt.post")
    assert not recurrence.paused
    # Not only its owner: any facilitator or admin, as with cancelling.
    assert "Paused schedule #1" in await sched.reply_text("schedule pause 1", ALEX)
    assert "Schedule #1 is paused already. `/cop schedule resume 1`" in await sched.reply_text(
        "schedule pause 1", PRIYA
    )
    assert "is for facilitators" in await sched.reply_text("schedule resume 1", SAM)
    assert "Resumed schedule #1" in await sched.reply_text("schedule resume 1", PRIYA)
    await sched.reply_text("schedule pause 1", PRIYA)
    await sched.reply_text("schedule cancel 1", PRIYA)
    assert "no active schedule #1" in await sched.reply_text("schedule resume 1", PRIYA)


async def test_the_same_schedule_again_while_paused_says_how_to_resume(sched: Harness) -> None:
    await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    await sched.reply_text("schedule pause 1", PRIYA)
    again = await sched.reply_text("schedule prompt any every tuesday at 10:00", PRIYA)
    assert "set up already: #1" in again and "`/cop schedule resume 1` starts it again" in again


def test_the_command_line_pauses_and_resumes(db_path: Path) -> None:
    async def seed() -> None:
        h = Harness.open(db_path)
        await h.join(NORTH)
        h.close()

    asyncio.run(seed())
    runner = CliRunner()
    db = ["--db", str(db_path)]
    runner.invoke(
        cli, ["schedule", "prompt", "any", "every", "wed", "at", "16:00", "in", "#north", *db]
    )
    paused = runner.invoke(cli, ["schedule", "pause", "1", *db])
    assert paused.exit_code == 0 and paused.output.startswith("Paused schedule #1")
    assert "paused since" in runner.invoke(cli, ["schedule", "list", *db]).output
    again = runner.invoke(cli, ["schedule", "pause", "1", *db])
    assert again.exit_code == 1 and "paused already" in again.output
    resumed = runner.invoke(cli, ["schedule", "resume", "1", *db])
    assert resumed.exit_code == 0 and "The next prompt will be on Wed " in resumed.output
    assert "next on Wed " in runner.invoke(cli, ["schedule", "list", *db]).output
    bad = runner.invoke(cli, ["schedule", "resume", "7", *db])
    assert bad.exit_code == 1 and "no active schedule #7" in bad.output


async def test_erasing_a_schedules_owner_counts_the_schedule_once_however_often_it_posted(
    sched: Harness,
) -> None:
    # The erasure's report (and the audit trail's count) names schedules, not each post.
    await sched.reply_text("schedule prompt any every day at 10:00", PRIYA)
    sched.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    for _ in range(3):
        await sched.tick(timedelta(days=1))
    assert len(sched.adapter.of_kind("post")) >= 2
    erased = await sched.core.erasure.erase(PRIYA.identity)
    assert erased.of("schedule(s) they set up (kept, without their name)") == 1


@pytest.mark.parametrize(
    "said",
    [
        "any " + "in x every " * 270 + "at 10:00",  # each "in" a channel named first, again
        "any in " + "every " * 490 + "at 10:00",
        "any in " + "at lunch " * 330 + "every monday at 10:00",
    ],
    ids=["nested", "every every", "at at"],
)
def test_a_channel_named_first_is_found_in_a_few_readings_however_the_words_are_laid(
    said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each place the channel's name might end costs one reading of the rest, and no name
    is longer than a channel's can be: a command of the longest length copbot takes
    (3,000 characters) is answered at once, not after minutes of readings within readings."""
    import bot.schedule_grammar as grammar

    assert len(said) <= 3000
    readings = []
    reading = grammar._channel_last

    def counted(words: list[str]) -> grammar.ScheduleRequest:
        readings.append(len(words))
        return reading(words)

    monkeypatch.setattr(grammar, "_channel_last", counted)
    with pytest.raises(UsageError):
        parse_schedule(said.split())
    assert 1 <= len(readings) <= 60
