"""Planning and cancelling events in the console: checked like chat's form, announced
like chat's events, each change audited."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.model import BotAddedToChannel, CommandReceived, Origin, Role
from bot.records import EventStatus
from bot.services.events import EventsFeature
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, NORTH, PRIYA


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        await c.core.inbox.accept(BotAddedToChannel("join", NORTH, c.clock.now()))
        await c.core.inbox.accept(
            CommandReceived("link", Origin(PRIYA, NORTH), "region link North", c.clock.now())
        )
        await c.core.inbox.drain()
        yield c


def _start(c: Console, days: int = 7) -> str:
    return f"{(c.clock.now() + timedelta(days=days)):%Y-%m-%dT10:00}"


async def _plan(c: Console, cookie: str, **fields: str) -> tuple[int, str]:
    response = await c.post("/console/events/new", cookie, {"csrf": await c.csrf(cookie), **fields})
    return response.status, await response.text()


async def test_a_facilitator_plans_an_event_and_it_is_announced(console: Console) -> None:
    priya = await console.sign_in(PRIYA)
    status, page = await _plan(
        console, priya, title="Race equity in IPS: North", region="North",
        start=_start(console), duration="", location="Leeds", capacity="20",
        description="Bring a story", topic="",
    )  # fmt: skip
    assert status == 200 and "Planned: Race equity in IPS: North" in page
    [event] = await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)
    assert (event.title, event.region, event.capacity, event.organiser) == (
        "Race equity in IPS: North", "north", 20, PRIYA.identity,
    )  # fmt: skip
    # The running app's own scheduler may have claimed the announcement first: wait for it.
    for _ in range(200):
        await console.core.scheduler.tick()
        posts = [
            s for s in console.adapter.of_kind("post") if "Race equity in IPS: North" in s.text
        ]
        if posts:
            break
        await asyncio.sleep(0.02)
    assert posts and posts[0].channel == NORTH
    audit = await console.core.audit.newest()
    assert (audit[0].done_by, audit[0].action) == (PRIYA.identity, "event planned")


async def test_an_event_for_a_region_no_channel_hears_says_so(console: Console) -> None:
    priya = await console.sign_in(PRIYA)
    status, page = await _plan(
        console, priya, title="Race equity in IPS: South", region="South", start=_start(console)
    )
    assert status == 200 and "Planned: Race equity in IPS: South" in page
    assert "No channel is linked to South yet, so nobody has heard of it" in html.unescape(page)
    # The command, written for every platform, as the console's other pages write them.
    assert (
        "<code>/cop region link South</code> (in Teams, <code>@copbot region link South</code>)"
        in page
    )
    assert "within a minute" not in page


async def test_a_bad_plan_says_what_is_wrong_beside_each_field_and_keeps_what_was_typed(
    console: Console,
) -> None:
    priya = await console.sign_in(PRIYA)
    status, page = await _plan(
        console, priya, title="", region="North", start="2020-01-01T10:00", duration="ninety",
        location="<b>Leeds</b>",
    )  # fmt: skip
    assert status == 400
    text = html.unescape(page)
    assert "Please give the event a title." in text
    assert "Please give the length in minutes" in text
    assert re.search(r'id="plan-duration"[^>]*value="ninety"', page)
    assert 'value="&lt;b&gt;Leeds&lt;/b&gt;"' in page  # kept, and escaped
    assert page.count('aria-invalid="true"') >= 3
    assert not await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)


async def test_a_place_or_description_longer_than_chat_takes_is_refused(
    console: Console,
) -> None:
    """Chat's form for changing an event holds 500 and 2,000 characters: a longer one,
    planned here, would be cut short there the first time anyone changed the event."""
    priya = await console.sign_in(PRIYA)
    status, page = await _plan(
        console, priya, title="T", region="North", start=_start(console),
        location="L" * 501, description="D" * 2001,
    )  # fmt: skip
    assert status == 400
    text = html.unescape(page)
    assert "Please keep the place or link to 500 characters (this one has 501)." in text
    assert "Please keep what it's about to 2,000 characters (this has 2,001)." in text
    assert not await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)


async def test_cancelling_asks_first_then_cancels_and_is_audited(console: Console) -> None:
    priya = await console.sign_in(PRIYA)
    await _plan(console, priya, title="Workshop", region="North", start=_start(console))
    [event] = await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)
    csrf = await console.csrf(priya)
    asked = await console.post(
        "/console/events/cancel", priya, {"csrf": csrf, "event": str(event.id)}
    )
    assert asked.status == 200 and "Cancel Workshop?" in await asked.text()
    repo = console.core.feature(EventsFeature).repository
    assert (await repo.event(event.id)).status is EventStatus.SCHEDULED
    done = await console.post(
        "/console/events/cancel", priya, {"csrf": csrf, "event": str(event.id), "confirm": "yes"}
    )
    assert done.status == 200 and "Cancelled Workshop" in await done.text()
    assert (await repo.event(event.id)).status is EventStatus.CANCELLED
    assert (await console.core.audit.newest())[0].action == "event cancelled"


async def test_only_the_organiser_or_an_admin_cancels(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    await _plan(console, alex, title="Alex's session", region="North", start=_start(console))
    [event] = await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)
    priya = await console.sign_in(PRIYA)
    page = await (await console.get("/console/events", priya)).text()
    assert "Cancel<span" not in page  # no button for what she may not do
    refused = await console.post(
        "/console/events/cancel", priya,
        {"csrf": await console.csrf(priya), "event": str(event.id), "confirm": "yes"},
    )  # fmt: skip
    assert (
        refused.status == 400
        and "Only the facilitator who planned this event" in await refused.text()
    )
    repo = console.core.feature(EventsFeature).repository
    assert (await repo.event(event.id)).status is EventStatus.SCHEDULED


async def test_no_confirmation_is_offered_for_a_cancelling_that_would_be_refused(
    console: Console,
) -> None:
    alex = await console.sign_in(ALEX)
    await _plan(console, alex, title="Alex's session", region="North", start=_start(console))
    [event] = await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)
    priya = await console.sign_in(PRIYA)
    asked = await console.post(
        "/console/events/cancel", priya, {"csrf": await console.csrf(priya), "event": str(event.id)}
    )
    page = await asked.text()
    assert asked.status == 400 and "Yes, cancel it" not in page
    assert "Only the facilitator who planned this event" in page
    await console.post(
        "/console/events/cancel", alex,
        {"csrf": await console.csrf(alex), "event": str(event.id), "confirm": "yes"},
    )  # fmt: skip
    again = await console.post(
        "/console/events/cancel", alex, {"csrf": await console.csrf(alex), "event": str(event.id)}
    )
    assert again.status == 400 and "Yes, cancel it" not in await again.text()
    assert "already cancelled" in await again.text()


async def test_the_organiser_changes_an_event(console: Console) -> None:
    priya = await console.sign_in(PRIYA)
    await _plan(console, priya, title="Workshop", region="North", start=_start(console))
    repo = console.core.feature(EventsFeature).repository
    [event] = await repo.upcoming_and_recent(None)
    form = await (await console.get(f"/console/events/{event.id}/edit", priya)).text()
    assert 'id="plan-title" name="title" type="text" value="Workshop"' in form
    csrf = await console.csrf(priya)
    fields = {"csrf": csrf, "title": "Workshop on language", "region": "North",
              "start": _start(console), "duration": "120", "capacity": "12"}  # fmt: skip
    bad = await console.post(
        f"/console/events/{event.id}/edit", priya, {**fields, "duration": "long"}
    )
    assert bad.status == 400 and 'value="long"' in await bad.text()
    assert (await repo.event(event.id)).title == "Workshop"
    done = await console.post(f"/console/events/{event.id}/edit", priya, fields)
    assert done.status == 200 and "Changed: Workshop on language" in await done.text()
    changed = await repo.event(event.id)
    assert (changed.title, changed.capacity, changed.duration) == (
        "Workshop on language",
        12,
        timedelta(minutes=120),
    )
    assert (await console.core.audit.newest())[0].action == "event changed"
    again = await console.post(f"/console/events/{event.id}/edit", priya, fields)
    assert "Nothing has changed in Workshop on language" in await again.text()
    assert (await repo.event(event.id)).sequence == changed.sequence


async def test_someone_elses_event_cannot_be_changed(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    await _plan(console, alex, title="Alex's session", region="North", start=_start(console))
    repo = console.core.feature(EventsFeature).repository
    [event] = await repo.upcoming_and_recent(None)
    priya = await console.sign_in(PRIYA)
    assert (await console.get(f"/console/events/{event.id}/edit", priya)).status == 404
    refused = await console.post(
        f"/console/events/{event.id}/edit", priya,
        {"csrf": await console.csrf(priya), "title": "Mine now", "region": "North", "start": _start(console)},
    )  # fmt: skip
    assert refused.status == 404
    assert (await repo.event(event.id)).title == "Alex's session"


def _limits(page: str) -> dict[str, int]:
    """Each planning field's maxlength, as the page gives it to the browser."""
    return {
        name: int(limit)
        for name, limit in re.findall(
            r'<(?:input|textarea) id="plan-[a-z]+" name="([a-z]+)"[^>]*? maxlength="(\d+)"', page
        )
    }


async def test_the_planning_forms_stop_typing_where_the_server_would_refuse(
    console: Console,
) -> None:
    """A browser counts a textarea's line break as one character but sends it as two: the
    server counts as the browser does, so a description the form let through is kept."""
    priya = await console.sign_in(PRIYA)
    limits = _limits(await (await console.get("/console/events", priya)).text())
    assert set(limits) == {"title", "duration", "location", "capacity", "description"}
    at_limit = {
        "title": "t" * limits["title"],
        "duration": "90".zfill(limits["duration"]),
        "location": "l" * limits["location"],
        "capacity": "20".zfill(limits["capacity"]),
        "description": ("d" * 9 + "\r\n") * (limits["description"] // 10),
    }
    base = {"region": "North", "start": _start(console), "topic": ""}
    status, page = await _plan(console, priya, **base, **at_limit)
    assert status == 200 and "Planned: " in page
    [event] = await console.core.feature(EventsFeature).repository.upcoming_and_recent(None)
    assert len(event.description) == limits["description"] - 1  # its last line break trimmed
    for name, value in at_limit.items():
        longer = value.replace("\r\n", "\n") + ("9" if name in ("duration", "capacity") else "x")
        status, page = await _plan(console, priya, **base, **(at_limit | {name: longer}))
        assert status == 400 and f'id="plan-{name}-problem"' in page, name
    edit = await (await console.get(f"/console/events/{event.id}/edit", priya)).text()
    assert _limits(edit) == limits
