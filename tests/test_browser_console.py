"""The console in a real browser: sign in through a link, search the archive, download an
export, see a feedback chart; from the playground, sign in as a persona. axe-core checks
every page; the README's screenshots are written here (with COPBOT_SCREENSHOTS=docs)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.clock import SystemClock
from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, new_key, person_hash
from bot.model import Role
from bot.records import ArchivedMessage
from storage.archive import SqliteArchiveRepository
from storage.database import Database
from storage.feedback import SqliteFeedbackRepository
from storage.roles import SqliteRoleRepository
from tests.support.browser import AXE, launch
from tests.support.inprocess import recording, serving_in_process

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parent.parent / "docs"


def shot(name: str, tmp: Path) -> str:
    """Where a screenshot goes: the README's own (docs/) when COPBOT_SCREENSHOTS=docs, so
    that refreshing them is a choice; otherwise beside the test's other files."""
    return str((DOCS if os.environ.get("COPBOT_SCREENSHOTS") == "docs" else tmp) / name)


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
SAID = [
    (
        "Jo",
        "Saying 'BAME' lumps very different people together; I ask people how they describe themselves.",
    ),
    (
        "Kim",
        "Language matters with clients too: I now ask what words they use for their background.",
    ),
    ("Ravi", "I worried about getting the language wrong, and that kept me quiet. Not any more."),
]


async def _seed(db_path: Path) -> None:
    db = Database.open(db_path)
    try:
        await SqliteRoleRepository(db, SystemClock()).grant("local:alex", Role.ADMIN, "cli")
        archive = SqliteArchiveRepository(db)
        start = datetime.now(UTC) - timedelta(days=3)
        for n, (who, text) in enumerate(SAID):
            await archive.capture(
                ArchivedMessage("local", "", "north", "north", "t1", f"m{n}", f"local:{who.lower()}",
                                who, False, text, start + timedelta(minutes=n),
                                prompt_id="language-group-terms", topic="language", region="north")
            )  # fmt: skip
        repo = SqliteFeedbackRepository(db)
        key = new_key()
        opened = await repo.open(
            Round(0, "Use of language workshop", DEFAULT_QUESTIONS, 5, RoundState.OPEN, start), key
        )
        for n, rating in enumerate(["5", "4", "5", "3", "5", "4"]):
            answer = {
                "useful": rating,
                "impactful": f"Hearing colleague {n} talk openly",
                "change": "More time",
            }
            await repo.answer(opened.id, person_hash(key, f"local:p{n}"), answer, start.date())
        await repo.close(opened.id, start)  # results show once a round has closed
    finally:
        db.close()


def axe_serious(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => (await axe.run(document, { runOnly: tags })).violations
             .filter((v) => v.impact === "serious" || v.impact === "critical")
             .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)""",
        AXE_TAGS,
    )
    return list(found)


def _link(url: str, db_path: Path, identity: str) -> str:
    made = CliRunner().invoke(
        cli, ["console-link", "--user", identity, "--db", str(db_path)],
        env={"COPBOT_PUBLIC_URL": url},
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    return made.output.strip()


@pytest.fixture
def site(db_path: Path) -> Iterator[tuple[str, Any, str]]:
    """copbot's URL, a browser, and a sign-in link for Alex, an admin."""
    from playwright.sync_api import sync_playwright

    asyncio.run(_seed(db_path))
    with recording() as records, serving_in_process(db_path) as url:
        link = _link(url, db_path, "local:alex")
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                yield url, browser, link
            finally:
                browser.close()
    assert records.loud() == []


def new_page(browser: Any) -> Any:
    # The page's own policy allows no script: axe-core is injected past it, as a tool.
    page = browser.new_page(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True
    )
    page.set_default_timeout(15_000)
    return page


def test_an_admin_signs_in_searches_exports_and_reads_feedback(site, tmp_path: Path) -> None:
    url, browser, link = site
    page = new_page(browser)

    page.goto(link)
    page.get_by_role("heading", name="Sign in to the copbot console").wait_for()
    assert axe_serious(page) == []
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Welcome, Alex Morgan").wait_for()
    assert axe_serious(page) == []

    # Search the archive, keyboard first: the search box is labelled and focusable.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Archive").click()
    page.get_by_role("heading", name="Archive", exact=True).wait_for()
    page.get_by_label("Search for").fill("language")
    page.get_by_label("Region").select_option("north")
    page.get_by_label("Search for").press("Enter")
    page.get_by_role("heading", name="2 matches for “language”").wait_for()
    assert sorted(page.locator("mark").all_inner_texts()) == ["Language", "language"]
    assert axe_serious(page) == []
    page.screenshot(path=shot("console-archive.png", tmp_path), full_page=True)

    # A thread, read as a conversation with its prompt first.
    page.get_by_role("link", name="Read the thread").first.click()
    page.locator(".conversation .prompt").wait_for()
    assert axe_serious(page) == []

    # An export, downloaded from the page, with what was said in it.
    page.goto(url + "/console/archive/export")
    page.get_by_label("Format").select_option("markdown")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    exported = Path(download.value.path()).read_text()
    assert all(text.split(";")[0] in exported for _, text in SAID)

    # Feedback: the round's chart, with its table beside it.
    page.goto(url + "/console/feedback")
    assert axe_serious(page) == []
    page.get_by_role("link", name="Use of language workshop").click()
    chart = page.get_by_role("img", name="Bar chart: 1: 0; 2: 0; 3: 1; 4: 2; 5: 3")
    chart.wait_for()
    assert chart.locator("rect.bar").count() == 5
    assert page.get_by_role("table").first.is_visible()
    assert axe_serious(page) == []
    page.screenshot(path=shot("console-feedback.png", tmp_path), full_page=True)

    # Every other page passes axe-core too.
    for path, heading in [
        ("/console/events", "Events"),
        ("/console/participation", "Participation"),
        ("/console/prompts", "Prompts"),
        ("/console/people", "People"),
        ("/console/archive/export", "Export the archive"),
        ("/console/sign-in/not-a-link", "This isn't a sign-in link copbot made"),
    ]:
        page.goto(url + path)
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        assert axe_serious(page) == [], path

    # Keyboard first: the first Tab reaches the skip link, and focus is always visible.
    page.goto(url + "/console/archive")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.textContent, s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] == "Archive" and focused[1] == "solid" and focused[2] == "3px", focused

    # On a phone, nothing is wider than the screen: a wide table scrolls on its own.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (
        "/console/archive?q=language",
        "/console/feedback/1",
        "/console/events",
        "/console/feedback",
        "/console/people",
        "/console/audit",
    ):
        page.goto(url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    assert page.get_by_role("region", name="Audit entries").is_visible()
    page.set_viewport_size({"width": 1280, "height": 900})

    # The audit trail saw the sign-in and the export.
    page.goto(url + "/console/audit")
    assert page.get_by_role("cell", name="archive exported").is_visible()
    assert page.get_by_role("cell", name="signed in").is_visible()
    assert axe_serious(page) == []

    # The steps that ask to confirm, an address with no page, and signing out pass too.
    page.goto(url + "/console/people")
    page.locator("#erase-identity").fill("local:jo")
    page.get_by_role("button", name="Erase…").click()
    page.get_by_role("heading", name=re.compile("^Erase everything copbot kept of")).wait_for()
    assert axe_serious(page) == []
    page.get_by_role("link", name="No, go back").click()
    page.get_by_role("heading", name="People", exact=True).wait_for()
    page.goto(url + "/console/no-such-page")
    page.get_by_role("heading", name="There's no such page").wait_for()
    assert axe_serious(page) == []
    page.goto(url + "/console")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="You've signed out").wait_for()
    assert axe_serious(page) == []


def test_a_playground_facilitator_plans_an_event_in_the_console_and_it_is_announced(
    site, tmp_path: Path
) -> None:
    url, browser, _ = site
    page = new_page(browser)
    page.goto(url + "/?channel=north")
    page.locator(".msg", has_text="Hello #north!").wait_for()
    page.select_option("#persona", "priya")
    page.wait_for_function("document.querySelector('#console-link').href.endsWith('as=priya')")
    page.locator("#message").fill("/cop region link North")
    page.locator("#message").press("Enter")
    page.locator(".msg.private", has_text="North").wait_for()

    # The persona picked in the playground is who signs in.
    page.get_by_role("link", name="Open the console").click()
    page.get_by_role("button", name="Sign in as Priya Shah").click()
    page.get_by_role("heading", name="Welcome, Priya Shah").wait_for()
    # A facilitator has no People or Audit pages to go to.
    nav = page.get_by_role("navigation", name="Console")
    assert nav.get_by_role("link").all_inner_texts() == [
        "Archive",
        "Feedback",
        "Events",
        "Prompts",
        "Participation",
    ]
    assert axe_serious(page) == []

    nav.get_by_role("link", name="Events").click()
    page.get_by_label("Title").fill("Use of language: a North session")
    page.get_by_label("Region").select_option("North")
    page.get_by_label("Starts").fill("2030-03-05T10:00")
    page.get_by_label("Where").fill("Leeds")
    page.get_by_role("button", name="Plan the event").click()
    page.get_by_text("Planned: Use of language: a North session").wait_for()
    assert page.get_by_role("cell", name="Use of language: a North session Leeds").is_visible()
    assert page.get_by_role("button", name="Cancel Use of language: a North session").is_visible()
    assert axe_serious(page) == []
    page.screenshot(path=shot("console-events.png", tmp_path), full_page=True)

    # The event's own page: its details and answers, and a way to change it.
    page.get_by_role("link", name="Use of language: a North session", exact=True).click()
    page.get_by_role("heading", name="Use of language: a North session").wait_for()
    assert page.get_by_role("link", name="Change this event").is_visible()
    assert page.get_by_role("heading", name="Waiting list").is_visible()
    assert axe_serious(page) == []
    page.get_by_role("link", name="Change this event").click()
    page.get_by_role("heading", name="Change Use of language: a North session").wait_for()
    assert axe_serious(page) == []
    page.go_back()
    page.get_by_role("button", name="Cancel this event…").click()
    page.get_by_role("heading", name="Cancel Use of language: a North session?").wait_for()
    assert axe_serious(page) == []
    page.get_by_role("link", name="No, keep it").click()

    # A prompt schedule, set up and paused with a button.
    nav.get_by_role("link", name="Prompts").click()
    page.get_by_label("Every").fill("tuesday")
    page.get_by_label("At", exact=True).fill("10:00")
    page.get_by_label("In channel").fill("north")
    page.get_by_role("button", name="Schedule", exact=True).click()
    page.get_by_text(re.compile(r"Scheduled #\d+")).wait_for()
    page.get_by_role("button", name=re.compile(r"^Pause schedule #\d+$")).click()
    page.get_by_text(re.compile(r"Paused schedule #\d+")).wait_for()
    assert page.get_by_role("button", name=re.compile(r"^Resume schedule #\d+$")).is_visible()
    assert axe_serious(page) == []

    # copbot announces it in the playground's #north, as it would in Slack or Teams.
    page.goto(url + "/?channel=north")
    page.locator("#messages > .msg", has_text="Use of language: a North session").wait_for()
