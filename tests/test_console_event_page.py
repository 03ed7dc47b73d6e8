"""One event in the console: its details, answers and waiting list by name, and, once it
has taken place, its feedback beside it (only from the round's threshold)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.events import Answer
from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, new_key, person_hash
from bot.model import Role
from bot.records import Event
from storage.events import SqliteEventRepository
from storage.feedback import SqliteFeedbackRepository
from storage.people import SqlitePeopleRepository
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, PRIYA


@dataclass(frozen=True)
class Planned:
    coming: int
    heard: int  # past, with enough feedback answers to show
    quiet: int  # past, with too few
    unasked: int  # past, without a feedback round


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[tuple[Console, Planned]]:
    async with console_app(db_path) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        events = SqliteEventRepository(c.core.db, c.clock)
        people = SqlitePeopleRepository(c.core.db, c.clock)
        for ident, name in (("ada", "Ada <Lovelace>"), ("ben", "Ben"), ("cy", "Cy")):
            await people.note(f"test:{ident}", name)
        now = c.clock.now()

        async def add(title: str, start: timedelta, capacity: int | None = None) -> int:
            event = await events.add(
                Event(0, title, "north", now + start, timedelta(hours=2), "Europe/London",
                      now, now, location="Leeds library", capacity=capacity, topic="language",
                      organiser=PRIYA.identity, description="Bring a story <from> practice.")
            )  # fmt: skip
            return event.id

        coming = await add("Conversations about race", timedelta(days=7), capacity=1)
        for ident, answer in (("ada", Answer.GOING), ("ben", Answer.GOING),
                              ("cy", Answer.GOING), ("dee", Answer.MAYBE)):  # fmt: skip
            await events.answer(coming, f"test:{ident}", answer)
        heard = await add("Use of language", -timedelta(days=3))
        await events.set_feedback_round(heard, await _round(c, "After: language", 3))
        quiet = await add("Unconscious bias", -timedelta(days=4))
        await events.set_feedback_round(quiet, await _round(c, "After: bias", 2))
        unasked = await add("White privilege", -timedelta(days=5))
        yield c, Planned(coming, heard, quiet, unasked)


async def _round(c: Console, title: str, answers: int) -> int:
    repo = SqliteFeedbackRepository(c.core.db)
    key = new_key()
    opened = await repo.open(
        Round(0, title, DEFAULT_QUESTIONS, 3, RoundState.CLOSED, c.clock.now()), key
    )
    for n in range(answers):
        answer = {"useful": "4", "impactful": f"<i>moment {n}</i>", "change": "more time"}
        await repo.answer(opened.id, person_hash(key, f"test:p{n}"), answer, c.clock.now().date())
    await repo.close(opened.id, c.clock.now())  # the event is past, and so is its round
    return opened.id


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _section(page: str, heading: str) -> str:
    return page.split(f"<h3>{heading}</h3>", 1)[1].split("<h", 1)[0]


async def test_an_upcoming_event_with_its_answers_and_waiting_list_in_order(
    console: tuple[Console, Planned],
) -> None:
    c, planned = console
    response = await c.get(f"/console/events/{planned.coming}", await c.sign_in(PRIYA))
    page = await response.text()
    assert response.status == 200
    text = _text(page)
    assert "Conversations about race" in text and "Leeds library" in text
    assert "Use of language" in text  # its topic, by title
    assert "Bring a story &lt;from&gt; practice." in page  # people's words, escaped
    assert "Planned by Priya" in text
    counts = re.findall(r'<td class="number">([^<]+)</td>', page)
    assert counts == ["1 of 1", "2", "1", "0"]  # one place; two waiting; one maybe
    assert _text(_section(page, "Going")).split() == ["Ada", "&lt;Lovelace&gt;"]
    waiting = re.findall(r"<li>(.*?)</li>", _section(page, "Waiting list"))
    assert waiting == ["Ben", "Cy"]  # in the order they asked
    assert "test:dee" not in page  # a maybe is counted, not named
    assert f'action="/console/events/{planned.coming}/edit"' not in page  # a link, not a form
    assert f'href="/console/events/{planned.coming}/edit"' in page
    assert "<h2>Feedback</h2>" not in page  # it hasn't happened yet


async def test_a_past_event_shows_its_feedback_from_the_threshold(
    console: tuple[Console, Planned],
) -> None:
    c, planned = console
    cookie = await c.sign_in(ALEX)
    page = await (await c.get(f"/console/events/{planned.heard}", cookie)).text()
    feedback = page.split("<h2>Feedback</h2>", 1)[1]
    assert "After: language" in feedback and "3 answers" in feedback
    assert "<svg" in feedback and "mean 4.00" in feedback
    assert feedback.count("&lt;i&gt;moment") == 3 and "<i>moment" not in feedback
    assert "/console/events/cancel" not in page  # it has taken place: nothing to change

    page = await (await c.get(f"/console/events/{planned.quiet}", cookie)).text()
    feedback = page.split("<h2>Feedback</h2>", 1)[1]
    assert "2 answers" in feedback  # the count, and nothing that could point at anyone
    assert "<svg" not in feedback and "moment" not in feedback and "mean" not in feedback

    page = await (await c.get(f"/console/events/{planned.unasked}", cookie)).text()
    assert "There's no feedback round for this event." in html.unescape(page)


@pytest.mark.parametrize("given", ["999", "new", "1x", "0001234567890"])
async def test_no_such_event_says_so(console: tuple[Console, Planned], given: str) -> None:
    c, _ = console
    response = await c.get(f"/console/events/{given}", await c.sign_in(PRIYA))
    assert response.status == 404
    page = html.unescape(await response.text())
    assert "There's no event here. The events page lists them all." in page


async def test_the_events_list_links_to_each_event(console: tuple[Console, Planned]) -> None:
    c, planned = console
    page = await (await c.get("/console/events", await c.sign_in(PRIYA))).text()
    for ident in (planned.coming, planned.heard):
        assert f'href="/console/events/{ident}"' in page


async def test_staff_and_strangers_see_no_names(console: tuple[Console, Planned]) -> None:
    c, planned = console
    for who in (None, Role.STAFF):
        response = await c.get(f"/console/events/{planned.coming}", await c.as_role(who))
        assert response.status in (401, 403)
        assert "Ben" not in await response.text()
