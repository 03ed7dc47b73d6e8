"""Feedback in the console: rounds with counts; results with bar charts and a table only
at or above the round's threshold; below it, the count alone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, new_key, person_hash
from bot.model import ChannelRef, Role
from storage.feedback import SqliteFeedbackRepository
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, PRIYA, SAM


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        yield c


async def _round(
    c: Console,
    title: str,
    ratings: list[str],
    threshold: int = 3,
    channel: ChannelRef | None = None,
    closed: bool = False,
) -> int:
    repo = SqliteFeedbackRepository(c.core.db)
    key = new_key()
    opened = await repo.open(
        Round(
            0, title, DEFAULT_QUESTIONS, threshold, RoundState.OPEN, c.clock.now(), None, channel
        ),
        key,
    )
    for n, rating in enumerate(ratings):
        answer = {"useful": rating, "impactful": f"<b>answer {n}</b>", "change": "more time"}
        await repo.answer(opened.id, person_hash(key, f"test:p{n}"), answer, c.clock.now().date())
    if closed:
        await repo.close(opened.id, c.clock.now())
    return opened.id


async def test_rounds_are_listed_with_their_counts(console: Console) -> None:
    await _round(console, "Workshop on language", ["4", "5"])
    page = await (await console.get("/console/feedback", await console.sign_in(PRIYA))).text()
    row = re.search(r"<tr>\s*<td><a[^>]*>Workshop on language</a></td>(.*?)</tr>", page, re.S)
    assert row, page
    assert re.findall(r'<td class="number">(\d+)</td>', row.group(1)) == ["2", "3"]


async def test_results_at_the_threshold_show_a_chart_and_its_table(console: Console) -> None:
    round_id = await _round(console, "Workshop", ["5", "4", "5"], closed=True)
    response = await console.get(f"/console/feedback/{round_id}", await console.sign_in(PRIYA))
    page = await response.text()
    assert response.status == 200
    [svg] = re.findall(r"<svg .*?</svg>", page, re.S)
    assert 'role="img"' in svg and 'aria-label="Bar chart: 1: 0; 2: 0; 3: 0; 4: 1; 5: 2"' in svg
    widths = [int(w) for w in re.findall(r'<rect class="bar"[^>]* width="(\d+)"', svg)]
    assert widths[4] == 2 * widths[3] > 0 and widths[:3] == [0, 0, 0]  # drawn to scale
    table = dict(re.findall(r"<tr><td>(\d)</td><td class=\"number\">(\d+)</td></tr>", page))
    assert table == {"1": "0", "2": "0", "3": "0", "4": "1", "5": "2"}
    assert "mean 4.67" in page
    # Written answers are people's words: escaped.
    assert page.count("&lt;b&gt;answer") == 3 and "<b>answer" not in page


async def test_below_the_threshold_only_the_count_shows(console: Console) -> None:
    round_id = await _round(console, "Small group", ["1", "5"], threshold=3, closed=True)
    page = await (
        await console.get(f"/console/feedback/{round_id}", await console.sign_in(PRIYA))
    ).text()
    assert "<svg" not in page and "answer 0" not in page and "mean" not in page
    assert "2 answers" in page
    assert "closed with 2 answers, fewer than the 3 needed" in page


async def test_while_a_round_is_open_only_its_count_shows(console: Console) -> None:
    """Even at k: results read before and after one more answer would show that answer."""
    round_id = await _round(console, "Open round", ["5", "4", "5", "1"], threshold=3)
    page = await (
        await console.get(f"/console/feedback/{round_id}", await console.sign_in(PRIYA))
    ).text()
    assert "<svg" not in page and "answer 0" not in page and "mean" not in page
    assert "4 answers" in page and "Results show once the round closes" in page


@pytest.mark.parametrize("given", ["999", "abc", "1" * 30])
async def test_a_round_that_is_not_there_says_so(console: Console, given: str) -> None:
    response = await console.get(f"/console/feedback/{given}", await console.sign_in(PRIYA))
    assert response.status == 404
    assert "no feedback round here" in await response.text()


async def test_a_private_channels_round_is_shown_only_to_its_members(console: Console) -> None:
    leads = ChannelRef("test", "C-leads", "T1", "leads")
    console.adapter.private_channels[leads.id] = {PRIYA.id}
    await console.core.roles.grant(SAM.identity, Role.FACILITATOR, by=ALEX.identity)
    round_id = await _round(console, "Leads budget worries", ["4", "5", "5"], channel=leads)
    outsider = await console.sign_in(SAM)
    assert "Leads budget" not in await (await console.get("/console/feedback", outsider)).text()
    response = await console.get(f"/console/feedback/{round_id}", outsider)
    assert response.status == 404 and "Leads budget" not in await response.text()
    member = await console.sign_in(PRIYA)
    assert "Leads budget" in await (await console.get("/console/feedback", member)).text()
    assert (await console.get(f"/console/feedback/{round_id}", member)).status == 200
