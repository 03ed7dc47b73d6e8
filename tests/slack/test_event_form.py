"""Planning and changing an event in Slack's modal: its date and time picker sends the moment
a person chose, in their own Slack time zone, and copbot keeps that moment, whatever the
season in London."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.services.event_forms import EDIT_FORM, NEW_FORM, NO_TOPIC
from storage import sqlite
from tests.slack.conftest import ADMIN, SlackBot
from tests.slack.test_feedback_custom import picked, submission, typed, view_opened

LONDON = ZoneInfo("Europe/London")


def events(bot: SlackBot) -> list[tuple[int, str, str, int]]:
    conn = sqlite.connect(bot.db_path)
    try:
        return [
            (int(r[0]), str(r[1]), str(r[2]), int(r[3]))
            for r in conn.execute("select id, title, starts_at, duration_minutes from events")
        ]
    finally:
        conn.close()


def picker(moment: datetime) -> dict[str, Any]:
    return {"type": "datetimepicker", "selected_date_time": int(moment.timestamp())}


def next_july() -> datetime:
    """10:00 in London on a July day to come: summer time, an hour ahead of UTC."""
    year = datetime.now(UTC).year + 1
    return datetime(year, 7, 8, 10, 0, tzinfo=LONDON)


async def test_an_event_planned_in_the_modal_keeps_the_moment_picked(slack: SlackBot) -> None:
    assert (await slack.command("event new", user=ADMIN, trigger="t-new")).status == 200
    form = await view_opened(slack, "t-new")
    assert form["callback_id"] == NEW_FORM
    [start] = [b for b in form["blocks"] if b.get("block_id") == "start"]
    assert start["element"]["type"] == "datetimepicker"
    # Slack shows the picker in each person's zone, so the label names none.
    assert "Europe/London" not in start["label"]["text"]
    assert "your own time zone" in start["hint"]["text"]

    summer = next_july()
    state = {
        "title": typed("Race equity reflection"),
        "region": picked("static_select", "North"),
        "start": picker(summer),
        "duration": typed("90"),
        "location": typed(""),
        "capacity": typed(""),
        "description": typed(""),
    }
    response = await slack.interact(submission(ADMIN, form, state))
    assert response.status == 200
    assert await response.text() == "" or "errors" not in await response.json()
    [(_, title, starts_at, minutes)] = await slack.until(lambda: events(slack))
    assert title == "Race equity reflection" and minutes == 90
    assert datetime.fromisoformat(starts_at) == summer.astimezone(UTC)  # 09:00 UTC, not 10:00


async def test_a_moment_in_the_past_is_refused_beside_the_field(slack: SlackBot) -> None:
    assert (await slack.command("event new", user=ADMIN, trigger="t-old")).status == 200
    form = await view_opened(slack, "t-old")
    state = {
        "title": typed("Too late"),
        "region": picked("static_select", "North"),
        "start": picker(datetime.now(UTC) - timedelta(hours=2)),
        "duration": typed("60"),
    }
    refused = await slack.interact(submission(ADMIN, form, state))
    errors = (await refused.json())["errors"]
    assert list(errors) == ["start"] and "already passed" in errors["start"]
    assert events(slack) == []


async def test_an_event_changed_in_the_modal_moves_to_the_moment_picked(slack: SlackBot) -> None:
    assert (await slack.command("event new", user=ADMIN, trigger="t-plan")).status == 200
    form = await view_opened(slack, "t-plan")
    first = next_july()
    state = {
        "title": typed("Workshop"),
        "region": picked("static_select", "North"),
        "start": picker(first),
        "duration": typed("60"),
    }
    assert (await slack.interact(submission(ADMIN, form, state))).status == 200
    [(event_id, *_)] = await slack.until(lambda: events(slack))

    edit = f"event edit {event_id}"
    assert (await slack.command(edit, user=ADMIN, trigger="t-edit")).status == 200
    form = await view_opened(slack, "t-edit")
    assert form["callback_id"] == EDIT_FORM
    [start] = [b for b in form["blocks"] if b.get("block_id") == "start"]
    assert start["element"]["initial_date_time"] == int(first.timestamp())

    later = first + timedelta(days=1, hours=3)
    changed = state | {"start": picker(later)}
    response = await slack.interact(submission(ADMIN, form, changed))
    assert response.status == 200

    def moved() -> bool:
        [(_, _, starts_at, _)] = events(slack)
        return datetime.fromisoformat(starts_at) == later.astimezone(UTC)

    await slack.until(moved)


async def test_an_events_prompt_topic_can_be_taken_away_in_the_modal(slack: SlackBot) -> None:
    """Slack's select can't be emptied once picked, so "No prompt" is one of its options."""
    assert (await slack.command("event new", user=ADMIN, trigger="t-topic")).status == 200
    form = await view_opened(slack, "t-topic")
    [select] = [b for b in form["blocks"] if b.get("block_id") == "topic"]
    assert select["element"]["options"][0]["value"] == NO_TOPIC
    state = {
        "title": typed("Workshop"),
        "region": picked("static_select", "North"),
        "start": picker(next_july()),
        "duration": typed("60"),
        "topic": picked("static_select", "language"),
    }
    assert (await slack.interact(submission(ADMIN, form, state))).status == 200
    [(event_id, *_)] = await slack.until(lambda: events(slack))
    assert topic_of(slack, event_id) == "language"

    assert (
        await slack.command(f"event edit {event_id}", user=ADMIN, trigger="t-untopic")
    ).status == 200
    form = await view_opened(slack, "t-untopic")
    [select] = [b for b in form["blocks"] if b.get("block_id") == "topic"]
    assert select["element"]["initial_option"]["value"] == "language"
    changed = state | {"topic": picked("static_select", NO_TOPIC)}
    assert (await slack.interact(submission(ADMIN, form, changed))).status == 200
    await slack.until(lambda: topic_of(slack, event_id) == "")


def topic_of(bot: SlackBot, event_id: int) -> str:
    conn = sqlite.connect(bot.db_path)
    try:
        return str(conn.execute("select topic from events where id = ?", [event_id]).fetchone()[0])
    finally:
        conn.close()
