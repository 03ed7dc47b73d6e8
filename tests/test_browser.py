"""The playground in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.browser import launch
from tests.support.server import serving

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


@pytest.fixture
def browser_page(db_path: Path):
    from playwright.sync_api import sync_playwright

    with serving(db_path) as served, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        try:
            yield served, page
        finally:
            browser.close()


def test_the_playground_answers_cop_help_in_a_real_browser(browser_page) -> None:
    served, page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served.url + "/")
    page.get_by_role("link", name="#general").wait_for()
    page.locator(".msg", has_text="Hello #general!").wait_for()

    page.locator("#message").fill("/cop help")
    page.locator("#message").press("Enter")

    answer = page.locator(".msg.private", has_text="Here's what you can ask me to do")
    answer.wait_for()
    assert "only visible to you" in answer.inner_text()
    assert "/cop whoami" in answer.inner_text()
    assert page.locator("#message").input_value() == ""
    assert errors == []
    # times as copbot's people read them (COPBOT_TIMEZONE), not the browser's locale
    when = answer.locator("time")
    assert re.fullmatch(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", when.inner_text()
    )
    assert when.get_attribute("datetime")


def test_switching_persona_changes_what_help_offers(browser_page) -> None:
    served, page = browser_page
    page.goto(served.url + "/?channel=north")
    page.locator(".msg", has_text="Hello #north!").wait_for()
    page.select_option("#persona", "alex")
    page.locator("#message").fill("/cop help")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".msg.private", has_text="You're an admin")
    answer.wait_for()
    assert "/cop role grant" in answer.inner_text()


def test_a_prompt_thread_reply_and_a_suggestion_in_a_real_browser(browser_page) -> None:
    served, page = browser_page
    page.goto(served.url + "/?channel=london")
    page.locator(".msg", has_text="Hello #london!").wait_for()
    page.select_option("#persona", "priya")
    page.locator("#message").fill("/cop prompt discomfort")
    page.locator("#message").press("Enter")
    prompt = page.locator("#messages > .msg", has_text="Reply in this thread")
    prompt.wait_for()
    page.locator(".msg.private", has_text="Facilitator note").wait_for()

    page.select_option("#persona", "sam")
    prompt.get_by_role("button", name="Reply in thread").click()
    page.locator("#thread-message").fill("It helps to say out loud that it feels awkward.")
    page.locator("#thread-message").press("Enter")
    page.locator("#thread-messages .msg", has_text="feels awkward").wait_for()
    prompt.get_by_role("button", name="1 reply").wait_for()

    prompt.get_by_role("button", name="Suggest a prompt").click()
    dialog = page.locator("#form-dialog")
    dialog.get_by_label("The question you'd like us to reflect on").fill(
        "How do we repair after getting it wrong?"
    )
    dialog.get_by_role("button", name="Send suggestion").click()
    page.locator(".msg.private", has_text="passed your suggestion on").wait_for()
    assert not dialog.is_visible()
