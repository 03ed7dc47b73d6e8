"""The archive in the console: threads, a thread as a conversation, search, export; and
private channels only for their members."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.console.scope import PARTLY, UNSURE
from bot.model import Role
from bot.records import ArchivedMessage
from tests.support.console import Console, console_app
from tests.support.fakes import FakeAdapter
from tests.support.harness import ALEX, PRIYA

PROMPT = "language-group-terms"  # a prompt of the shipped library


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    adapter = FakeAdapter(private_channels={"C-secret": {"priya"}})
    async with console_app(db_path, adapter=adapter) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        library = await c.core.prompts.current()
        assert library.prompt(PROMPT) is not None, [p.id for p in library.prompts][:5]
        await _keep(c, "C-north", "north", "t1", "m1", "Sam", "Naming things <script>alert(1)</script> matters", topic="language", region="north")  # fmt: skip
        await _keep(c, "C-north", "north", "t1", "m2", "Jo", "Language shapes how clients feel welcome", topic="language", region="north")  # fmt: skip
        await _keep(c, "C-south", "south", "t2", "t2", "Kim", "Our fidelity review went well", region="south")  # fmt: skip
        await _keep(c, "C-secret", "secret", "t3", "t3", "Lee", "A private worry about language", private=True)  # fmt: skip
        yield c


async def _keep(
    c: Console, channel: str, name: str, thread: str, message: str, author: str, text: str,
    *, topic: str = "", region: str = "", private: bool = False,
) -> None:  # fmt: skip
    c.clock.advance(timedelta(minutes=1))
    await c.core.archive.capture(
        ArchivedMessage(
            "test", "T1", channel, name, thread, message, f"test:{author.lower()}", author,
            False, text, c.clock.now(), prompt_id=PROMPT if topic else "", topic=topic,
            region=region, private=private,
        )
    )  # fmt: skip


async def _page(c: Console, path: str, cookie: str, status: int = 200) -> str:
    response = await c.get(path, cookie)
    text = await response.text()
    assert response.status == status, text
    return text


async def test_threads_show_newest_first_with_their_prompt(console: Console) -> None:
    page = await _page(console, "/console/archive", await console.sign_in(PRIYA))
    titles = re.findall(r"<h3><a [^>]+>([^<]+)</a></h3>", page)
    library = await console.core.prompts.current()
    prompt = library.prompt(PROMPT)
    assert prompt is not None
    assert titles == ["A private worry about language", "Our fidelity review went well",
                      html.escape(prompt.title, quote=False)]  # fmt: skip
    assert "2 messages" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("region=south", ["Our fidelity review went well"]),
        ("topic=language", ["language-prompt"]),
        ("channel=south", ["Our fidelity review went well"]),
    ],
)
async def test_threads_by_region_topic_and_channel(
    console: Console, query: str, expected: list[str]
) -> None:
    page = await _page(console, f"/console/archive?{query}", await console.sign_in(PRIYA))
    library = await console.core.prompts.current()
    prompt = library.prompt(PROMPT)
    assert prompt is not None
    titles = re.findall(r"<h3><a [^>]+>([^<]+)</a></h3>", page)
    wanted = [
        html.escape(prompt.title, quote=False) if e == "language-prompt" else e for e in expected
    ]
    assert titles == wanted


async def test_a_thread_reads_as_a_conversation_prompt_first(console: Console) -> None:
    cookie = await console.sign_in(PRIYA)
    listing = await _page(console, "/console/archive?topic=language", cookie)
    [href] = re.findall(r'<h3><a href="([^"]+)"', listing)
    page = await _page(console, html.unescape(href), cookie)
    library = await console.core.prompts.current()
    prompt = library.prompt(PROMPT)
    assert prompt is not None
    said = [page.index(html.escape(prompt.text, quote=False)), page.index("Naming things"),
            page.index("Language shapes")]  # fmt: skip
    assert said == sorted(said)
    # People's words are escaped, never run.
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_names_and_words_are_isolated_from_the_page_s_own(console: Console) -> None:
    """A name or message in a right-to-left script, or with an override in it, reorders
    nothing the page says beside it."""
    cookie = await console.sign_in(PRIYA)
    listing = await _page(console, "/console/archive?topic=language", cookie)
    [href] = re.findall(r'<h3><a href="([^"]+)"', listing)
    page = await _page(console, html.unescape(href), cookie)
    assert "<strong><bdi>Sam</bdi></strong>" in page
    assert '<p class="text" dir="auto">Language shapes' in page
    found = await _page(console, "/console/archive?q=language", cookie)
    assert "<bdi>Jo</bdi> ·" in found and '<p dir="auto">' in found
    assert "<bdi>#north</bdi>" in found


async def test_search_highlights_the_matches(console: Console) -> None:
    page = await _page(console, "/console/archive?q=language", await console.sign_in(PRIYA))
    assert "<mark>Language</mark> shapes how clients" in page
    assert "Read the thread" in page


async def test_a_search_longer_than_copbot_reads_is_refused_on_the_page(
    console: Console,
) -> None:
    many = "+".join(f"w{i}" for i in range(17))
    page = await _page(console, f"/console/archive?q={many}", await console.sign_in(PRIYA), 400)
    assert "That search has 17 words and phrases; search for at most 16" in page
    assert "<mark>" not in page


async def test_search_takes_the_filters_too(console: Console) -> None:
    cookie = await console.sign_in(PRIYA)
    page = await _page(console, "/console/archive?q=language&region=north", cookie)
    assert "<mark>Language</mark> shapes" in page
    assert "private worry" not in page


async def test_private_channels_stay_with_their_members(console: Console) -> None:
    priya, alex = await console.sign_in(PRIYA), await console.sign_in(ALEX)
    assert "private worry" in await _page(console, "/console/archive", priya)
    assert "private <mark>worry</mark>" in await _page(console, "/console/archive?q=worry", priya)
    # Alex is an admin, but not in the private channel: the platform wouldn't show him.
    for path in ("/console/archive", "/console/archive?q=worry", "/console/archive?q=language"):
        page = await _page(console, path, alex)
        assert "private worry" not in page and "#secret" not in page
    thread = "/console/archive/thread?platform=test&workspace=T1&channel=C-secret&id=t3"
    assert "private worry" in await _page(console, thread, priya)
    refused = await _page(console, thread, alex, status=404)
    assert "private worry" not in refused and "no thread here that you can read" in refused


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("region=atlantis", "no region called that"),
        ("topic=nonsense", "no topic called that"),
        ("since=31/03/2026", "needs a date like"),
        ("since=2026-05-02&until=2026-05-01", "after the 'up to' date"),
        ("author=sam", "like slack:U123"),
        ("q=%22%22", "a word or two"),
    ],
)
async def test_bad_filters_say_what_is_wrong_and_show_nothing(
    console: Console, query: str, problem: str
) -> None:
    page = await _page(console, f"/console/archive?{query}", await console.sign_in(PRIYA), 400)
    assert problem in html.unescape(page)
    assert "<h3>" not in page and "<mark>" not in page


@pytest.mark.parametrize(
    "query", ["until=9999-12-31", "q=language&until=9999-12-31", "since=0001-01-01"]
)
async def test_dates_at_the_ends_of_the_calendar_narrow_nothing(
    console: Console, query: str
) -> None:
    priya = await console.sign_in(PRIYA)
    page = await _page(console, f"/console/archive?{query}", priya)
    if "q=" in query:  # the hits, as without the date
        shown = re.sub(r"</?mark>", "", html.unescape(page))
        assert "Language shapes how clients feel welcome" in shown
    else:  # every thread, as without the date
        everything = await _page(console, "/console/archive", priya)
        found = re.findall(r"<h3>.*?</h3>", page)
        assert len(found) == 3 and found == re.findall(r"<h3>.*?</h3>", everything)
    alex = await console.sign_in(ALEX)
    response = await console.post(
        "/console/archive/export", alex,
        {"csrf": await console.csrf(alex), "format": "csv", "until": "9999-12-31"},
    )  # fmt: skip
    assert response.status == 200
    assert "Language shapes how clients feel welcome" in await response.text()


async def test_an_admin_downloads_an_export_and_it_is_audited(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    form = await _page(console, "/console/archive/export", alex)
    assert 'name="format"' in form
    response = await console.post(
        "/console/archive/export", alex,
        {"csrf": await console.csrf(alex), "format": "markdown", "region": "north"},
    )  # fmt: skip
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="copbot-archive-'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = await response.text()
    assert "Language shapes how clients feel welcome" in body
    assert "fidelity review" not in body and "private worry" not in body
    audit = await _page(console, "/console/audit", alex)
    assert "archive exported" in audit and "markdown; region north" in audit


async def test_the_export_form_names_its_formats_and_keeps_the_one_chosen(
    console: Console,
) -> None:
    alex = await console.sign_in(ALEX)
    form = await _page(console, "/console/archive/export", alex)
    options = re.findall(r'<option value="(\w+)"( selected)?>([^<]+)</option>', form)
    assert ("csv", "", "CSV (.csv), for a spreadsheet") in options
    assert ("markdown", " selected", "Markdown (.md), to read or publish") in options
    # A date that can't be read: the form comes back with CSV still chosen.
    response = await console.post(
        "/console/archive/export", alex,
        {"csrf": await console.csrf(alex), "format": "csv", "since": "someday"},
    )  # fmt: skip
    assert response.status == 400
    assert '<option value="csv" selected>' in await response.text()


async def test_a_bad_export_format_changes_nothing(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    response = await console.post(
        "/console/archive/export", alex, {"csrf": await console.csrf(alex), "format": "pdf"}
    )
    assert response.status == 400
    assert "Pick one of the formats" in await response.text()
    assert "archive exported" not in await _page(console, "/console/audit", alex)


async def test_another_platforms_archive_is_not_shown(console: Console) -> None:
    """As `/cop search` in chat: someone's own community only (the playground, say, run
    beside Slack, never shows Slack's archive)."""
    await console.core.archive.capture(
        ArchivedMessage("slack", "T9", "C1", "elsewhere", "s1", "s1", "slack:U1", "Una",
                        False, "Words about language from elsewhere", console.clock.now())
    )  # fmt: skip
    priya = await console.sign_in(PRIYA)
    for path in ("/console/archive", "/console/archive?q=language", "/console/participation"):
        page = await _page(console, path, priya)
        assert "elsewhere" not in page
    thread = "/console/archive/thread?platform=slack&workspace=T9&channel=C1&id=s1"
    await _page(console, thread, priya, status=404)


async def test_a_channel_the_platform_cannot_check_is_left_out_and_the_pages_say_so(
    console: Console,
) -> None:
    """One private channel whose members the platform can't give hides only itself, from
    its members too, on every page that reads the archive, which says some were left out."""
    console.adapter.private_channels["C-quiet"] = {"priya", "alex"}
    await _keep(console, "C-quiet", "quiet", "t4", "t4", "Lee", "A quiet worry about rotas", private=True)  # fmt: skip
    console.adapter.unchecked = {"C-quiet"}
    priya, alex = await console.sign_in(PRIYA), await console.sign_in(ALEX)
    quiet = "/console/archive/thread?platform=test&workspace=T1&channel=C-quiet&id=t4"
    for path in ("/console/archive", "/console/archive?q=worry"):
        page = html.unescape(await _page(console, path, priya))
        assert "private worry" in page or "private <mark>worry</mark>" in page  # checked
        assert "quiet" not in page.replace(PARTLY, "")
        assert page.count(PARTLY) == 1
    refused = html.unescape(await _page(console, quiet, priya, status=404))
    assert "rotas" not in refused and PARTLY in refused
    for path in ("/console/participation", "/console/prompts", "/console/archive/export"):
        assert PARTLY in html.unescape(await _page(console, path, alex))
    response = await console.post(
        "/console/archive/export", alex,
        {"csrf": await console.csrf(alex), "format": "markdown"},
    )  # fmt: skip
    body = await response.text()
    assert "rotas" not in body and "Language shapes" in body
    assert "Left out" in body and "whose members copbot couldn't check" in body

    console.adapter.unchecked = set()  # the platform answers again: nothing kept of before
    page = html.unescape(await _page(console, "/console/archive", priya))
    assert "quiet worry" in page and PARTLY not in page
    assert "rotas" in await _page(console, quiet, priya)
    form = {"csrf": await console.csrf(alex), "format": "markdown"}
    body = await (await console.post("/console/archive/export", alex, form)).text()
    assert "rotas" in body and "Left out" not in body


async def test_when_the_platform_cannot_say_at_all_the_pages_say_so(console: Console) -> None:
    console.adapter.unsure = True
    priya = await console.sign_in(PRIYA)
    page = html.unescape(await _page(console, "/console/archive?q=worry", priya))
    assert "private worry" not in page and page.count(UNSURE) == 1
    assert UNSURE in html.unescape(await _page(console, "/console/participation", priya))


async def test_lists_of_schedules_and_rounds_say_when_some_channels_could_not_be_checked(
    console: Console,
) -> None:
    """A schedule or a feedback round in a channel whose members the platform can't give
    is left out of the lists for now: each list says so, whether or not one was."""
    from bot.console.scope import PARTLY_LISTED, UNSURE_LISTED

    console.adapter.private_channels["C-quiet"] = {"priya", "alex"}
    alex = await console.sign_in(ALEX)
    for path in ("/console/prompts", "/console/feedback"):
        assert PARTLY_LISTED not in html.unescape(await _page(console, path, alex))
    console.adapter.unchecked = {"C-quiet"}
    console.clock.advance(timedelta(minutes=2))  # past what copbot last heard of her channels
    for path in ("/console/prompts", "/console/feedback"):
        assert html.unescape(await _page(console, path, alex)).count(PARTLY_LISTED) == 1
    console.adapter.unchecked = set()
    console.adapter.unsure = True
    console.clock.advance(timedelta(minutes=2))
    for path in ("/console/prompts", "/console/feedback"):
        assert html.unescape(await _page(console, path, alex)).count(UNSURE_LISTED) == 1
