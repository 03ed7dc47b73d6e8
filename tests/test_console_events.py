"""Events in the console: coming up and past, by region, with answers and waiting lists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.events import Answer
from bot.model import Role
from bot.records import Event
from storage.events import SqliteEventRepository
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, PRIYA


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        repo = SqliteEventRepository(c.core.db, c.clock)
        now = c.clock.now()

        async def add(title: str, region: str, start: timedelta, capacity: int | None) -> Event:
            return await repo.add(
                Event(0, title, region, now + start, timedelta(hours=2), "Europe/London",
                      now, now, capacity=capacity)
            )  # fmt: skip

        coming = await add("Conversations about race with clients", "north", timedelta(days=7), 1)
        for person, answer in (("a", Answer.GOING), ("b", Answer.GOING), ("c", Answer.MAYBE)):
            await repo.answer(coming.id, f"test:{person}", answer)
        past = await add("Use of language", "south", -timedelta(days=3), None)
        c.clock.set(now - timedelta(days=4))  # answered before it took place
        await repo.answer(past.id, "test:a", Answer.GOING)
        c.clock.set(now)
        await repo.set_feedback_round(past.id, 7)
        yield c


def _rows(page: str, heading: str) -> list[list[str]]:
    section = page.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)
        if "<td" in row
    ]


async def test_events_coming_up_and_past_with_their_answers(console: Console) -> None:
    page = await (await console.get("/console/events", await console.sign_in(PRIYA))).text()
    [coming] = _rows(page, "Coming up")
    assert coming[0] == "Conversations about race with clients"
    assert coming[2:7] == ["North", "1 of 1", "1", "1", "0"]  # one place, one waiting
    [past] = _rows(page, "In the last 30 days")
    assert past[0] == "Use of language" and past[2:7] == ["South", "1", "0", "0", "0"]
    assert past[7] == "Round 7 for Use of language"
    assert 'href="/console/feedback/7"' in page


async def test_events_by_region(console: Console) -> None:
    page = await (
        await console.get("/console/events?region=south", await console.sign_in(PRIYA))
    ).text()
    assert _rows(page, "Coming up") == []
    assert [r[0] for r in _rows(page, "In the last 30 days")] == ["Use of language"]


async def test_an_unknown_region_says_so(console: Console) -> None:
    response = await console.get("/console/events?region=atlantis", await console.sign_in(PRIYA))
    assert response.status == 400
    page = await response.text()
    assert "no region called that" in page and "<td>Conversations about race" not in page
