"""Prompts in the console: the library, suggestions, schedules and the most replied."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import BotAddedToChannel, Channel, CommandReceived, Origin, Role
from bot.ports import Suggestion
from bot.records import ArchivedMessage
from bot.services.schedules import POST_PROMPT, SchedulesFeature
from storage.prompts import SqlitePromptRepository
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, NORTH, PRIYA, SAM


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        n = 0
        for prompt, people in (("language-group-terms", 6), ("language-self-description", 2)):
            for i in range(people):
                n += 1
                await c.core.archive.capture(
                    ArchivedMessage("test", "T1", "C-north", "north", prompt, f"m{n}",
                                    f"test:p{i}", f"P{i}", False, "a reply", c.clock.now(),
                                    prompt_id=prompt, topic="language", region="north")
                )  # fmt: skip
        await SqlitePromptRepository(c.core.db).suggest(
            Suggestion("language", "What words do <your> clients use?", SAM.identity, c.clock.now())
        )
        await c.meet(SAM)
        yield c


async def _command(c: Console, text: str) -> None:
    await c.core.inbox.accept(BotAddedToChannel("join-north", NORTH, c.clock.now()))
    await c.core.inbox.accept(CommandReceived("sched", Origin(PRIYA, NORTH), text, c.clock.now()))
    await c.core.inbox.drain()


async def test_the_prompts_page(console: Console) -> None:
    await _command(console, "schedule prompt language every tuesday at 10:00")
    page = await (await console.get("/console/prompts", await console.sign_in(PRIYA))).text()
    library = await console.core.prompts.current()
    counted, small = (
        library.prompt("language-group-terms"),
        library.prompt("language-self-description"),
    )
    assert counted and small
    most = page.split("<h2>Most replies</h2>", 1)[1].split("<h2>", 1)[0]
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>[^<]*</td><td class=\"number\">(\d+)</td></tr>", most
    )
    # Two people's replies are not counted: too few to keep them from being picked out.
    assert rows == [(html.escape(counted.title, quote=False), "6")]
    assert "What words do &lt;your&gt; clients use?" in page and "<td>Sam</td>" in page
    schedules = page.split("<h2>Schedules</h2>", 1)[1].split("<h2>", 1)[0]
    assert "#north" in schedules and "Tuesday" in schedules
    assert html.escape(small.text, quote=False) in page  # the whole library is there


async def _post(c: Console, cookie: str, path: str, **fields: str) -> tuple[int, str]:
    response = await c.post(path, cookie, {"csrf": await c.csrf(cookie), **fields})
    return response.status, html.unescape(await response.text())


async def test_scheduling_and_stopping_prompts_from_the_console(console: Console) -> None:
    await console.core.inbox.accept(BotAddedToChannel("join-north", NORTH, console.clock.now()))
    await console.core.inbox.drain()
    priya = await console.sign_in(PRIYA)
    status, page = await _post(
        console, priya, "/console/prompts/schedule",
        topic="language", days="mon and thu", time="09:30", channel="north",
    )  # fmt: skip
    assert status == 200 and "Scheduled #1:" in page
    [recurrence] = await console.core.scheduler.recurrences(POST_PROMPT)
    assert "#north" in recurrence.description and recurrence.owner == PRIYA.identity
    status, page = await _post(console, priya, "/console/prompts/unschedule", schedule="#1")
    assert status == 200 and "Cancelled schedule #1" in page
    assert not await console.core.scheduler.recurrences(POST_PROMPT)
    actions = [e.action for e in await console.core.audit.newest()]
    assert actions[:2] == ["schedule cancelled", "prompts scheduled"]


@pytest.mark.parametrize(
    ("days", "when"),
    [
        ("every tuesday", "every Tuesday at 09:30"),
        ("Every other Friday", "every other week on Friday at 09:30"),
        ("fortnightly on friday", "every other week on Friday at 09:30"),
    ],
)
async def test_days_written_out_with_every_are_read_as_written(
    console: Console, days: str, when: str
) -> None:
    await console.core.inbox.accept(BotAddedToChannel("join-north", NORTH, console.clock.now()))
    await console.core.inbox.drain()
    priya = await console.sign_in(PRIYA)
    status, page = await _post(
        console, priya, "/console/prompts/schedule",
        topic="any", days=days, time="09:30", channel="#north",
    )  # fmt: skip
    assert status == 200 and f"Scheduled #1: a prompt from any topic, {when}, in #north" in page


async def _schedule(c: Console) -> None:
    """Priya's schedule in #north, set up without the inbox (the app drains it too)."""
    await c.core.channels.save(Channel(NORTH, "north", bot_member=True))
    words = ["language", "every", "tuesday", "at", "10:00", "in", "#north"]
    await c.core.feature(SchedulesFeature).schedule(words, "test", None, PRIYA.identity, prefix="")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"topic": "nonsense", "days": "tuesday", "time": "10:00", "channel": "north"}, "no topic"),
        ({"topic": "any", "days": "someday", "time": "10:00", "channel": "north"}, "someday"),
        ({"topic": "any", "days": "tuesday", "time": "10:00", "channel": "nowhere"}, "nowhere"),
    ],
)
async def test_a_bad_schedule_says_what_is_wrong_and_changes_nothing(
    console: Console, fields: dict[str, str], problem: str
) -> None:
    await console.core.inbox.accept(BotAddedToChannel("join-north", NORTH, console.clock.now()))
    await console.core.inbox.drain()
    status, page = await _post(
        console, await console.sign_in(PRIYA), "/console/prompts/schedule", **fields
    )
    assert status == 400 and "Nothing was changed" in page and problem in page
    assert not await console.core.scheduler.recurrences(POST_PROMPT)


async def test_a_refused_schedule_comes_back_as_it_was_typed(console: Console) -> None:
    await console.core.inbox.accept(BotAddedToChannel("join-north", NORTH, console.clock.now()))
    await console.core.inbox.drain()
    priya = await console.sign_in(PRIYA)
    fields = {"topic": "language", "days": 'tue "and" thu', "time": "10:15", "channel": "nowhere"}
    response = await console.post(
        "/console/prompts/schedule", priya, {"csrf": await console.csrf(priya), **fields}
    )
    assert response.status == 400
    page = await response.text()
    form = page.split('action="/console/prompts/schedule"', 1)[1].split("</form>", 1)[0]
    assert 'value="tue &#34;and&#34; thu"' in form  # escaped, as everything people type
    assert 'value="10:15"' in form and 'value="nowhere"' in form
    assert '<option value="language" selected>' in form
    assert form.count(" selected") == 1


async def test_pausing_and_resuming_a_schedule_from_the_console(console: Console) -> None:
    await _schedule(console)
    alex = await console.sign_in(ALEX)  # any admin or facilitator, not only its owner
    page = await (await console.get("/console/prompts", alex)).text()
    assert 'action="/console/prompts/pause"' in page and "/console/prompts/resume" not in page
    status, page = await _post(console, alex, "/console/prompts/pause", schedule="1")
    assert status == 200 and "Paused schedule #1" in page
    # The answer chat gives, shown as a page shows commands: as code, not in backticks.
    notice = page.split('class="notice"', 1)[1].split("</p>", 1)[0]
    assert "<code>schedule resume 1</code>" in notice and "`" not in notice
    schedules = page.split("<h2>Schedules</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<strong>Paused</strong> since" in schedules
    assert 'action="/console/prompts/resume"' in schedules
    assert 'action="/console/prompts/pause"' not in schedules
    [recurrence] = await console.core.scheduler.recurrences(POST_PROMPT)
    assert recurrence.paused
    # Paused across its time: nothing is posted.
    console.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await console.core.scheduler.tick()
    assert console.adapter.of_kind("post") == []

    alex = await console.sign_in(ALEX)  # days later: a new session
    status, page = await _post(console, alex, "/console/prompts/pause", schedule="1")
    assert status == 400 and "Nothing was changed" in page and "paused already" in page
    status, page = await _post(console, alex, "/console/prompts/resume", schedule="1")
    assert status == 200 and "Resumed schedule #1" in page and "Tue 8 Dec 2026, 10:00" in page
    [recurrence] = await console.core.scheduler.recurrences(POST_PROMPT)
    assert not recurrence.paused
    actions = [
        (e.action, e.done_by, e.detail.split(":")[0])
        for e in await console.core.audit.newest()
        if e.action.startswith("schedule")
    ]
    assert actions == [
        ("schedule resumed", ALEX.identity, "Resumed schedule #1"),
        ("schedule paused", ALEX.identity, "Paused schedule #1"),
    ]


async def test_resuming_from_the_console_skips_the_prompt_due_while_copbot_was_stopped(
    console: Console,
) -> None:
    await _schedule(console)
    alex = await console.sign_in(ALEX)
    await _post(console, alex, "/console/prompts/pause", schedule="1")
    # Its time passed with no tick (copbot stopped), and it is resumed just after.
    console.clock.set(datetime(2026, 12, 1, 10, 5, tzinfo=UTC))
    alex = await console.sign_in(ALEX)  # days later: a new session
    status, page = await _post(console, alex, "/console/prompts/resume", schedule="1")
    assert status == 200 and "The next prompt will be on Tue 8 Dec 2026, 10:00" in page
    await console.core.scheduler.tick()
    assert console.adapter.of_kind("post") == [] and console.adapter.of_kind("direct") == []


@pytest.mark.parametrize("path", ["/console/prompts/pause", "/console/prompts/resume"])
@pytest.mark.parametrize("given", ["", "one", "#7"])
async def test_pausing_or_resuming_no_such_schedule_says_so(
    console: Console, path: str, given: str
) -> None:
    await _schedule(console)
    status, page = await _post(console, await console.sign_in(PRIYA), path, schedule=given)
    assert status == 400 and "Nothing was changed" in page
    assert ("no active schedule #7" if given == "#7" else "schedule number") in page
    [recurrence] = await console.core.scheduler.recurrences(POST_PROMPT)
    assert not recurrence.paused


async def test_a_pause_without_its_form_token_is_refused(console: Console) -> None:
    await _schedule(console)
    cookie = await console.sign_in(PRIYA)
    response = await console.post("/console/prompts/pause", cookie, {"schedule": "1"})
    assert response.status == 403
    [recurrence] = await console.core.scheduler.recurrences(POST_PROMPT)
    assert not recurrence.paused
