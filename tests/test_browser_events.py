"""A regional event in the playground, in headless Chromium: a facilitator links the channel
to London and plans an event in the form; the announcement appears once, its "Add to
calendar" link leading to the event's .ics; Sam presses Going and sees the count change in
place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.support.browser import launch
from tests.support.inprocess import Records, recording, serving_in_process

pytestmark = [pytest.mark.browser]


@pytest.fixture
def site(db_path: Path) -> Iterator[tuple[str, Any, Records]]:
    from playwright.sync_api import sync_playwright

    with recording() as records, serving_in_process(db_path) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            yield url, browser, records
        finally:
            browser.close()
    assert records.loud() == []


def say(page: Any, text: str) -> None:
    page.locator("#message").fill(text)
    page.locator("#message").press("Enter")


def test_plan_an_event_see_it_announced_and_answer_going(site: Any) -> None:
    url, browser, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/?channel=london")
    page.locator(".msg", has_text="Hello #london!").wait_for()

    page.select_option("#persona", "priya")
    say(page, "/cop region link London")
    page.locator(".msg.private", has_text="London events will be announced").wait_for()
    say(page, "/cop event new")
    dialog = page.locator("#form-dialog")
    dialog.locator("form").wait_for()
    day = (datetime.now(UTC) + timedelta(days=9)).date()
    dialog.get_by_label("Title").fill("White privilege: a workshop")
    dialog.get_by_label("Region").select_option("London")
    dialog.locator("#f-start").fill(f"{day:%Y-%m-%d}T10:00")
    dialog.get_by_label("Length in minutes").fill("120")
    dialog.get_by_role("button", name="Announce").click()

    posts = "#messages > .msg:not(.private)"
    announcement = page.locator(posts, has_text="White privilege: a workshop")
    announcement.wait_for()
    assert announcement.count() == 1
    assert "10:00 to 12:00" in announcement.inner_text()
    assert "Going 0" in announcement.inner_text()
    # "Add to calendar" leads to the event's .ics, served by the same copbot: 10:00 London.
    calendar = announcement.get_by_role(
        "link", name="Add 'White privilege: a workshop' to your calendar", exact=True
    )
    assert calendar.get_attribute("href") == f"{url}/calendar/event/1.ics"
    response = page.request.get(f"{url}/calendar/event/1.ics")
    assert response.ok and response.headers["content-type"] == "text/calendar; charset=utf-8"
    [vevent] = icalendar.Calendar.from_ical(response.body()).events
    assert vevent.start == datetime.combine(day, time(10), ZoneInfo("Europe/London"))

    page.select_option("#persona", "sam")
    announcement.get_by_role("button", name="Going").first.click()
    page.locator(posts, has_text="Going 1 · Maybe 0").wait_for()
    assert page.locator(posts, has_text="White privilege: a workshop").count() == 1
    assert errors == []
