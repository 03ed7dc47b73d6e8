"""The playground as a first-time visitor meets it, in headless Chromium: on a phone, with a
screen reader's names for its buttons, with axe-core's checks, and with a quiet server log.

copbot runs in this process (tests/support/inprocess.py) so that caplog sees its log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import AXE, launch
from tests.support.inprocess import STOPPED, Records, post_message, recording, serving_in_process

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ACCENT = "rgb(0, 94, 184)"  # --accent in style.css: the filled, primary buttons
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture
def site(db_path: Path) -> Iterator[tuple[str, Any, Records]]:
    """copbot's URL, a browser, and what the server logged; a test ends with nothing
    logged at WARNING or above unless it says otherwise."""
    from playwright.sync_api import sync_playwright

    with recording() as records, serving_in_process(db_path) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            yield url, browser, records
        finally:
            browser.close()
    assert records.loud() == []


def open_page(
    browser: Any, url: str, viewport: dict[str, int], channel: str = "london", tools: bool = True
) -> Any:
    # The page's own policy runs only its own script: axe-core is injected past it, as a
    # tool; ``tools=False`` keeps the policy whole, and counts what it blocks as an error.
    page = browser.new_page(viewport=viewport, bypass_csp=tools)
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.page_errors = errors
    page.goto(f"{url}/?channel={channel}")
    page.locator(".msg", has_text=f"Hello #{channel}!").wait_for()
    return page


def say(page: Any, text: str, box: str = "#message") -> None:
    page.locator(box).fill(text)
    page.locator(box).press("Enter")


def post_prompt(page: Any, topic: str) -> tuple[Any, str]:
    """As Priya (a facilitator), post a prompt; its message in the channel and its title."""
    page.select_option("#persona", "priya")
    before = page.locator("#messages > .msg", has_text="Reply in this thread").count()
    say(page, f"/cop prompt {topic}")
    prompts = page.locator("#messages > .msg", has_text="Reply in this thread")
    prompts.nth(before).wait_for()
    prompt = prompts.nth(before)
    return prompt, prompt.locator(".b-text strong").first.inner_text()


def scroll_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def assert_apart(page: Any, controls: dict[str, Any]) -> None:
    """Each control is on screen, within the width, and no two overlap."""
    viewport = page.viewport_size
    boxes = {}
    for name, control in controls.items():
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box is not None, f"{name} is not shown"
        assert box["width"] > 0 and box["height"] > 0, name
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], name
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], name
        boxes[name] = box
    for (a, p), (b, q) in combinations(boxes.items(), 2):
        apart = (
            p["x"] + p["width"] <= q["x"]
            or q["x"] + q["width"] <= p["x"]
            or p["y"] + p["height"] <= q["y"]
            or q["y"] + q["height"] <= p["y"]
        )
        assert apart, f"{a} {p} overlaps {b} {q}"


def axe_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => (await axe.run(document, { runOnly: tags })).violations
             .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)""",
        AXE_TAGS,
    )
    return list(found)


def test_on_a_phone_channels_and_threads_are_reachable_and_nothing_overlaps(site) -> None:
    url, browser, _ = site
    page = open_page(browser, url, PHONE)
    prompt, title = post_prompt(page, "discomfort")
    assert scroll_width(page) <= PHONE["width"]

    # The channel list is one tap away, in place of the channel, and back again.
    menu = page.get_by_role("button", name="Channels", exact=True)
    assert not page.get_by_role("link", name="#north").is_visible()
    assert menu.get_attribute("aria-expanded") == "false"
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    assert not page.locator("#message").is_visible()
    assert scroll_width(page) <= PHONE["width"]
    page.get_by_role("link", name="#north").click()
    page.locator(".msg", has_text="Hello #north!").wait_for()
    assert page.locator("#channel-title").inner_text() == "#north"
    assert menu.get_attribute("aria-expanded") == "false"
    menu.click()
    page.get_by_role("link", name="#london").click()
    prompt.wait_for()

    reply = prompt.get_by_role("button", name=f"Reply in thread: '{title}'", exact=True)
    assert_apart(
        page,
        {
            "menu": menu,
            "persona": page.locator("#persona"),
            "title": page.locator("#channel-title"),
            "reply": reply,
            "suggest": prompt.get_by_role("button", name="Suggest a prompt"),
            "message box": page.locator("#message"),
            "send": page.get_by_role("button", name="Send", exact=True),
        },
    )
    assert axe_violations(page) == []

    # A thread takes the channel's place; replying works; closing it goes back.
    page.select_option("#persona", "sam")
    reply.click()
    assert not page.locator("#message").is_visible()
    thread = page.locator("#thread")
    assert title in thread.locator("#thread-title").inner_text()
    say(page, "Naming the awkwardness out loud helps me.", "#thread-message")
    thread.locator(".msg", has_text="awkwardness out loud").wait_for()
    assert scroll_width(page) <= PHONE["width"]
    assert_apart(
        page,
        {
            "menu": menu,
            "persona": page.locator("#persona"),
            "close": page.get_by_role("button", name="Close thread"),
            "reply box": page.locator("#thread-message"),
            "reply": thread.get_by_role("button", name="Reply", exact=True),
        },
    )
    assert axe_violations(page) == []
    page.get_by_role("button", name="Close thread").click()
    prompt.get_by_role("button", name=f"1 reply: '{title}'", exact=True).wait_for()
    assert page.locator("#message").is_visible()
    assert page.page_errors == []


def test_closing_tabs_logs_nothing_at_error(site) -> None:
    url, browser, records = site
    for channel in ("general", "north", "london"):
        open_page(browser, url, DESKTOP, channel).close()

    # A change wakes every page's event stream, those of the closed tabs too: each finds
    # its page gone. Keep changing things until all three have noticed.
    for n in range(50):
        post_message(url, f"still here {n}")
        with records.arrived:
            if records.arrived.wait_for(
                lambda: records.count(STOPPED) >= 3 or records.loud(), timeout=0.5
            ):
                break
    assert records.loud() == []
    assert records.count(STOPPED) == 3


def test_the_reply_stands_out_and_repeated_buttons_say_which_prompt(site) -> None:
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP)
    first, first_title = post_prompt(page, "discomfort")
    _, second_title = post_prompt(page, "language")
    assert first_title != second_title

    for title in (first_title, second_title):
        for label in ("Reply in thread", "Suggest a prompt"):
            name = f"{label}: '{title}'"
            assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    # No two buttons in the channel share a name.
    buttons = [
        b.get_attribute("aria-label") or b.inner_text()
        for b in page.locator("#messages").get_by_role("button").all()
    ]
    assert len(buttons) == len(set(buttons)) >= 5, buttons

    # Replying is the most visible action on a prompt: filled, bigger, and first.
    reply = first.get_by_role("button", name="Reply in thread")
    suggest = first.get_by_role("button", name="Suggest a prompt")
    r, s = reply.bounding_box(), suggest.bounding_box()
    assert r["width"] * r["height"] > s["width"] * s["height"]
    assert r["x"] < s["x"]
    background = "(el) => getComputedStyle(el).backgroundColor"
    assert reply.evaluate(background) == ACCENT
    assert suggest.evaluate(background) != ACCENT

    assert axe_violations(page) == []
    suggest.click()
    page.locator("#form-dialog form").wait_for()
    assert axe_violations(page) == []
    assert page.page_errors == []


def test_a_private_answer_can_be_dismissed(site) -> None:
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP, tools=False)  # under the page's own policy
    say(page, "/cop help")
    answer = page.locator(".msg.private", has_text="Here's what you can ask me to do")
    answer.wait_for()
    dismiss = answer.get_by_role("button", name="Dismiss: 'Here's what you can ask me to do")
    dismiss.click()
    answer.wait_for(state="detached")
    page.reload()
    page.locator(".msg", has_text="Hello #london!").wait_for()
    assert page.locator(".msg.private").count() == 0
    assert page.page_errors == []


def test_a_message_s_link_is_copied_from_its_menu_and_copbot_reads_it(site) -> None:
    """As Slack's and Teams' menus give it: the link `/cop remove` asks for."""
    url, browser, _ = site
    page = browser.new_page(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    page.set_default_timeout(15_000)
    page.goto(f"{url}/?channel=london")
    page.locator(".msg", has_text="Hello #london!").wait_for()  # the page's script has run
    say(page, "A message to point at")
    mine = page.locator(".msg", has_text="A message to point at")
    copy = mine.get_by_role("button", name="Copy link: 'A message to point at'")
    copy.click()
    mine.get_by_role("button", name="Copied").wait_for()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == f"{url}/?channel=london#{mine.get_attribute('id')}"
    page.select_option("#persona", "priya")  # a facilitator: `remove` is theirs
    say(page, f"/cop remove {link}")
    page.locator(
        ".msg.private", has_text="isn't an anonymous reply, so nothing was removed"
    ).wait_for()
    elsewhere = browser.new_page(viewport=DESKTOP)  # and it leads back to the message
    elsewhere.goto(link)
    elsewhere.locator(".msg.highlight", has_text="A message to point at").wait_for()


def test_the_page_has_a_favicon(site) -> None:
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP)
    href = page.locator("link[rel=icon]").get_attribute("href")
    icon = page.request.get(url + href)
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text().lstrip().startswith("<svg")
    # Chromium draws it: the SVG loads as an image.
    drawn = page.evaluate(
        """(src) => new Promise((done) => {
             const img = new Image();
             img.onload = () => done(img.naturalWidth > 0);
             img.onerror = () => done(false);
             img.src = src;
           })""",
        href,
    )
    assert drawn is True


def focused_on(page: Any, name: str) -> None:
    """Wait until the focused control is ``name`` (its accessible name, or its id)."""
    page.wait_for_function(
        """(name) => { const a = document.activeElement;
             return a && (a.getAttribute("aria-label") === name || a.id === name); }""",
        arg=name,
    )


def test_with_a_keyboard_focus_stays_on_what_was_used_as_the_page_redraws(site) -> None:
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP)
    prompt, title = post_prompt(page, "discomfort")
    page.select_option("#persona", "sam")
    page.wait_for_function("document.querySelector('#console-link').href.endsWith('as=sam')")

    # A thread opened and closed from the keyboard: back on the button that opened it.
    prompt.get_by_role("button", name=f"Reply in thread: '{title}'", exact=True).press("Enter")
    focused_on(page, "thread-message")
    say(page, "Saying it feels awkward helps.", "#thread-message")
    page.locator("#thread .msg", has_text="feels awkward").wait_for()
    page.get_by_role("button", name="Close thread").press("Enter")
    focused_on(page, f"1 reply: '{title}'")

    # A button that opens a form, whose answer redraws the channel: focus comes back to it
    # once the form is sent, and once it is closed with Escape.
    anonymously = f"Reply anonymously: '{title}'"
    for close in ("send", "escape"):
        prompt.get_by_role("button", name=anonymously, exact=True).press("Enter")
        dialog = page.locator("#form-dialog")
        dialog.locator("form").wait_for()
        if close == "send":
            dialog.get_by_label("Your reply").fill("I worry about saying the wrong thing.")
            dialog.get_by_label("Your reply").press("Tab")
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")  # Send anonymously
            page.locator(".msg.private", has_text="Thank you").wait_for()
        else:
            page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")
        focused_on(page, anonymously)

    # An answer dismissed: focus goes to the message box, not the top of the page.
    thanks = page.locator(".msg.private", has_text="Thank you")
    thanks.get_by_role("button", name=re.compile("^Dismiss")).press("Enter")
    thanks.wait_for(state="detached")
    focused_on(page, "message")
    assert page.page_errors == []


def test_a_channel_the_persona_cannot_see_gives_way_to_general(site) -> None:
    """#leads is Priya's and Alex's: Sam, picked while it is open (or sent a link to it),
    gets #general and a line saying why, never #leads' messages or a page that does nothing."""
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP, "general")
    page.select_option("#persona", "priya")
    page.get_by_role("link", name="#leads (private)").click()
    page.locator("#channel-title", has_text="#leads").wait_for()
    say(page, "Only for leads: the rota is thin this month.")
    page.locator(".msg", has_text="rota is thin").wait_for()

    page.select_option("#persona", "sam")
    page.locator(".msg", has_text="Hello #general!").wait_for()
    assert page.locator(".msg", has_text="rota is thin").count() == 0
    assert page.locator("#composer .composer-error").inner_text() == (
        "There's no channel called #leads here."
    )
    assert page.get_by_role("link", name=re.compile("#leads")).count() == 0

    again = open_page(browser, url, DESKTOP, "general")
    again.goto(f"{url}/?channel=leads")  # Sam, from a copied link
    again.locator(".msg", has_text="Hello #general!").wait_for()
    assert again.locator("#persona option").count() == 3
    assert again.url == f"{url}/?channel=general"
    assert page.page_errors == again.page_errors == []


def test_the_channel_changes_only_where_something_changed(site) -> None:
    """The channel is a live region: a screen reader says what is added to it. A change
    elsewhere adds nothing; a new message adds that message alone, not the channel again."""
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP)
    say(page, "First thoughts on the workshop.")
    page.locator(".msg", has_text="First thoughts").wait_for()
    page.evaluate(
        """() => { window.added = []; window.removed = 0;
             new MutationObserver((records) => { for (const r of records) {
               window.added.push(...[...r.addedNodes].map((n) => n.textContent));
               window.removed += r.removedNodes.length; } })
             .observe(document.querySelector("#messages"), { childList: true, subtree: true });
           }"""
    )
    post_message(url, "Meanwhile, in #general.", channel="general")
    post_message(url, "A second thought.", channel="london")
    page.locator(".msg", has_text="A second thought.").wait_for()
    added = page.evaluate("window.added")
    assert len(added) == 1 and "A second thought." in added[0], added
    assert page.evaluate("window.removed") == 0
    assert page.page_errors == []


def test_enter_pressed_twice_sends_a_message_and_a_command_once(site) -> None:
    """A second Enter (or click) while the first is on its way adds nothing: one message
    kept, one command run."""
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP)
    box = page.locator("#message")
    for text, lands in (
        ("Said once, pressed twice", page.locator(".msg", has_text="Said once")),
        ("/cop help", page.locator(".msg.private", has_text="Here's what you can ask me")),
    ):
        box.fill(text)
        # Both before the first request is answered, however quick the server is.
        page.evaluate(
            """() => { const box = document.querySelector("#message");
                for (let i = 0; i < 2; i++)
                  box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
            }"""
        )
        lands.first.wait_for()
        page.wait_for_function("document.querySelector('#message').value === ''")
    say(page, "and then this")  # after anything a second press sent
    page.locator(".msg", has_text="and then this").wait_for()
    assert page.locator(".msg", has_text="Said once, pressed twice").count() == 1
    assert page.locator(".msg.private", has_text="Here's what you can ask me to do").count() == 1


def test_a_threads_reply_count_leaves_out_answers_only_one_person_sees(site) -> None:
    url, browser, _ = site
    page = open_page(browser, url, DESKTOP)
    prompt, title = post_prompt(page, "discomfort")
    page.select_option("#persona", "sam")
    prompt.get_by_role("button", name=f"Reply in thread: '{title}'", exact=True).click()
    thread = page.locator("#thread")
    say(page, "/cop whoami", "#thread-message")
    thread.locator(".msg.private").wait_for()
    say(page, "It helps to name it.", "#thread-message")
    thread.locator(".msg", has_text="It helps to name it.").wait_for()
    page.get_by_role("button", name="Close thread").click()
    # As in Slack, a count of what everyone can read: Sam's private answer is not a reply.
    prompt.get_by_role("button", name=f"1 reply: '{title}'", exact=True).wait_for()
    assert page.page_errors == []
