"""Regional events on Teams through the real botbuilder adapter and the fake connector: a
channel linked by an @mention command, the announcement a new conversation carrying its
card (with its "Add to calendar" link, which resolves), and a Going press updating that card
in place: by an ``Action.Execute`` whose answer is the refreshed card, and (for cards sent
before) by an ``Action.Submit``."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from bot.events import Plan
from bot.model import Role
from bot.records import Event
from bot.services.events import EventsFeature
from tests.teams.conftest import TeamsBot
from tests.teams.fake_connector import NORTH, TENANT, Call
from tests.teams.test_contract import command

LONDON = ZoneInfo("Europe/London")
CARD = "application/vnd.microsoft.card.adaptive"
# Someone copbot has never talked with: no chat to answer in, only the press itself.
JO = {"id": "29:1jo-teams-id", "name": "Jo Newcomer", "aadObjectId": "aad-jo-0042"}


async def announced(teams: TeamsBot) -> tuple[Event, Call]:
    await teams.install()
    assert (await teams.send(command(teams, "region link North", "1700000002000"))).status == 200
    await teams.until(lambda: teams.rows("select region from region_links"))
    events = teams.core.feature(EventsFeature)
    day = teams.core.clock.now().date() + timedelta(days=10)
    event = await events.create(
        Plan("Use of language", "north", f"{day:%Y-%m-%d} 10:00", "60"), "teams:aad-admin"
    )
    await teams.core.scheduler.tick()

    def announcements() -> list[Call]:
        return [
            c
            for c in teams.fake.of("create")
            if "Use of language" in json.dumps(c.body)
            and c.body["channelData"]["channel"]["id"] == NORTH
        ]

    [created] = await teams.until(announcements)
    assert "10:00 to 11:00" in json.dumps(created.body)
    # Its "Add to calendar" link is served by the same copbot, at 10:00 London.
    address = f"http://copbot.test/calendar/event/{event.id}.ics"
    assert f"[Add '{event.title}' to your calendar]({address})" in json.dumps(created.body)
    async with teams.client.get(address.removeprefix("http://copbot.test")) as response:
        assert response.status == 200
        [vevent] = icalendar.Calendar.from_ical(await response.read()).events
    assert vevent.start == datetime.combine(day, time(10), LONDON)
    return event, created


def execute(
    teams: TeamsBot, card: Call, data: dict[str, Any], ident: str, who: dict[str, str] = JO
) -> dict[str, Any]:
    """A press of one of the card's Action.Execute buttons, as Teams sends it."""
    return teams.activity(
        "adaptive_card_action",
        id=ident,
        replyToId=card.activity_id,
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={card.activity_id}",
        },
        value={"action": {"type": "Action.Execute", "verb": "x", "data": data}},
        **{"from": who},
    )


def rsvp_buttons(card: Call) -> list[dict[str, Any]]:
    content = card.body["activity"]["attachments"][0]["content"]
    return [a for b in content["body"] if b["type"] == "ActionSet" for a in b["actions"]]


async def test_going_by_action_execute_answers_with_the_card_and_updates_it_for_all(
    teams: TeamsBot,
) -> None:
    _, created = await announced(teams)
    going = next(b for b in rsvp_buttons(created) if b["title"] == "Going")
    assert going["type"] == "Action.Execute"

    response = await teams.send(execute(teams, created, going["data"], "1700000007001"))
    assert response.status == 200
    answer = await response.json()
    # Whoever pressed sees the new counts at once, in the invoke's answer...
    assert answer["statusCode"] == 200 and answer["type"] == CARD
    assert "Going 1 · Maybe 0" in json.dumps(answer["value"], ensure_ascii=False)
    # ...and everyone else by the update of the posted card.
    [updated] = teams.fake.of("update")
    assert updated.activity_id == created.activity_id
    assert "Going 1 · Maybe 0" in json.dumps(updated.body, ensure_ascii=False)
    assert teams.rows("select person, answer from event_rsvps") == [("teams:aad-jo-0042", "going")]


async def test_a_redelivered_press_changes_nothing_twice(teams: TeamsBot) -> None:
    _, created = await announced(teams)
    going = next(b for b in rsvp_buttons(created) if b["title"] == "Going")
    press = execute(teams, created, going["data"], "1700000007002")
    first = await (await teams.send(press)).json()
    assert first["type"] == CARD
    updates, sends, inbox = (
        len(teams.fake.of("update")),
        len(teams.fake.of("send")),
        (teams.inbox_count()),
    )

    again = await (await teams.send(press)).json()
    assert again == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "That's done already.",
    }
    assert len(teams.fake.of("update")) == updates
    assert len(teams.fake.of("send")) == sends
    assert teams.inbox_count() == inbox
    assert teams.rows("select count(*) from event_rsvps") == [(1,)]


async def test_an_event_card_sent_before_still_updates_in_place_by_action_submit(
    teams: TeamsBot,
) -> None:
    event, created = await announced(teams)
    press = teams.activity(
        "card_button",
        value={"copbot": "action", "action": "event.rsvp", "value": f"{event.id}:going"},
    )
    assert (await teams.send(press)).status == 200
    [updated] = await teams.until(lambda: teams.fake.of("update"))
    assert updated.activity_id == created.activity_id
    assert "Going 1 · Maybe 0" in json.dumps(updated.body, ensure_ascii=False)


async def test_someone_who_has_only_pressed_going_is_told_in_a_chat_when_a_place_frees(
    teams: TeamsBot,
) -> None:
    """Jo has never written to copbot: their press is all it knows of them, and enough to
    open a 1:1 chat when they move up from the waiting list."""
    event, created = await announced(teams)
    events = teams.core.feature(EventsFeature)
    await events.edit(event.id, {"capacity": "1"}, "teams:aad-admin-0009", Role.ADMIN)
    going = next(b for b in rsvp_buttons(created) if b["title"] == "Going")
    admin = {"id": "29:1admin-teams-id", "name": "Alex Morgan", "aadObjectId": "aad-admin-0009"}
    await teams.send(execute(teams, created, going["data"], "1700000007101", who=admin))
    await teams.send(execute(teams, created, going["data"], "1700000007102"))
    assert teams.rows("select person, answer from event_rsvps order by person") == [
        ("teams:aad-admin-0009", "going"),
        ("teams:aad-jo-0042", "going"),
    ]
    jo_chat = f"a:1dm-{JO['id']}"

    def to_jo() -> list[str]:
        return [
            json.dumps(c.body, ensure_ascii=False)
            for c in teams.fake.of("send")
            if c.conversation == jo_chat
        ]

    cant = next(b for b in rsvp_buttons(created) if b["title"] == "Can't go")
    await teams.send(execute(teams, created, cant["data"], "1700000007103", who=admin))
    await teams.core.scheduler.tick()
    told = await teams.until(lambda: [s for s in to_jo() if "place" in s])
    assert "Use of language" in told[-1]
