"""Regional events on Teams through the real botbuilder adapter and the fake connector: a
channel linked by an @mention command, the announcement a new conversation carrying its
card (with its "Add to calendar" link, which resolves), and a Going press updating that card
in place."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from bot.events import Plan
from bot.services.events import EventsFeature
from tests.teams.conftest import TeamsBot
from tests.teams.fake_connector import NORTH
from tests.teams.test_contract import command

LONDON = ZoneInfo("Europe/London")


async def test_an_event_is_announced_and_its_card_updated_in_place(teams: TeamsBot) -> None:
    await teams.install()
    assert (await teams.send(command(teams, "region link North", "1700000002000"))).status == 200
    await teams.until(lambda: teams.rows("select region from region_links"))
    events = teams.core.feature(EventsFeature)
    day = teams.core.clock.now().date() + timedelta(days=10)
    event = await events.create(
        Plan("Use of language", "north", f"{day:%Y-%m-%d} 10:00", "60"), "teams:aad-admin"
    )
    await teams.core.scheduler.tick()

    def announcements() -> list[object]:
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
    assert f"[Add to calendar]({address})" in json.dumps(created.body)
    async with teams.client.get(address.removeprefix("http://copbot.test")) as response:
        assert response.status == 200
        [vevent] = icalendar.Calendar.from_ical(await response.read()).events
    assert vevent.start == datetime.combine(day, time(10), LONDON)

    press = teams.activity(
        "card_button",
        value={"copbot": "action", "action": "event.rsvp", "value": f"{event.id}:going"},
    )
    assert (await teams.send(press)).status == 200
    [updated] = await teams.until(lambda: teams.fake.of("update"))
    assert updated.activity_id == created.activity_id
    assert "Going 1 · Maybe 0" in json.dumps(updated.body, ensure_ascii=False)
    assert len(announcements()) == 1
