"""Signing in to the web console: single-use links, sessions, sign-out, losing the role,
CSRF and the headers every console response carries."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from adapters.local import LocalAdapter
from bot.app import create_app, playground_path
from bot.cli import cli
from bot.clock import SystemClock
from bot.console.web import COOKIE
from bot.model import CommandReceived, Origin, Role, UserRef
from bot.settings import Settings, SlackSettings
from storage import sqlite
from storage.database import Database
from storage.migrations import PLAYGROUND_MIGRATIONS
from storage.playground import SqlitePlaygroundRepository
from tests.support.console import Console, console_app
from tests.support.faults import Faults, disk_full
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM, Harness

LINK = re.compile(r"\((http://console\.test(/console/sign-in/[^)\s]+))\)")


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        yield c


async def test_cop_console_sends_a_facilitator_a_link_by_direct_message(db_path: Path) -> None:
    settings = Settings(
        db_path=db_path, admins=frozenset({ALEX.identity}), public_url="https://copbot.example"
    )
    bot = Harness.open(db_path, settings)
    try:
        await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        sent = await bot.command("console", PRIYA)
        [direct] = [s for s in sent if s.kind == "direct"]
        assert direct.user == PRIYA
        assert "https://copbot.example/console/sign-in/" in direct.text
        assert "10 minutes" in direct.text
        [answer] = [s for s in sent if s.kind == "respond"]
        assert "direct message" in answer.text
        # Asked in the direct chat itself, the link is the answer: no "sent you" beside it.
        there = await bot.command("console", PRIYA, channel=direct.channel)  # type: ignore[arg-type]
        assert [s.kind for s in there] == ["direct"]
    finally:
        bot.close()


async def test_cop_console_without_a_public_address_says_what_to_do(bot: Harness) -> None:
    answer = await bot.reply_text("console", ALEX)
    assert "COPBOT_PUBLIC_URL" in answer and "copbot console-link" in answer
    assert not bot.adapter.of_kind("direct")


async def test_cop_console_is_not_for_staff(bot: Harness) -> None:
    sent = await bot.command("console", SAM)
    assert not [s for s in sent if s.kind == "direct"]
    assert "facilitator" in " ".join(s.text for s in sent)


async def test_opening_the_link_only_shows_a_button_and_uses_nothing_up(console: Console) -> None:
    path = console.link_path(PRIYA.identity)
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    await console.meet(PRIYA)
    for _ in range(2):  # a link checker, then the person
        page = await console.get(path)
        assert page.status == 200
        html = await page.text()
        assert '<button type="submit" class="primary">Sign in</button>' in html
        assert COOKIE not in page.cookies
    signed_in = await console.http.post(path, allow_redirects=False)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/console"
    home = await console.get("/console", signed_in.cookies[COOKIE].value)
    assert home.status == 200
    assert "Welcome, Priya" in await home.text()


async def test_the_session_cookie_is_httponly_strict_and_lasts_eight_hours(
    console: Console,
) -> None:
    response = await console.http.post(console.link_path(ALEX.identity), allow_redirects=False)
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/console" in header
    assert "Max-Age=28800" in header
    assert "Secure" not in header  # copbot is served over http here


async def test_the_session_cookie_is_secure_when_copbot_is_served_over_https(
    db_path: Path,
) -> None:
    async with console_app(db_path, public_url="https://copbot.example.nhs.uk") as console:
        response = await console.http.post(console.link_path(ALEX.identity), allow_redirects=False)
        assert response.status == 303
        assert "Secure" in response.headers["Set-Cookie"]


async def test_a_used_link_says_so_kindly_and_how_to_get_another(console: Console) -> None:
    path = console.link_path(ALEX.identity)
    assert (await console.http.post(path, allow_redirects=False)).status == 303
    for again in (await console.get(path), await console.http.post(path, allow_redirects=False)):
        assert again.status == 410
        text = await again.text()
        assert "used already" in text and "/cop console" in text
        assert COOKIE not in again.cookies


async def test_a_link_expires_after_ten_minutes(console: Console) -> None:
    path = console.link_path(ALEX.identity)
    console.clock.advance(timedelta(minutes=9, seconds=59))
    assert (await console.get(path)).status == 200
    console.clock.advance(timedelta(seconds=1))
    for late in (await console.get(path), await console.http.post(path, allow_redirects=False)):
        assert late.status == 410
        text = await late.text()
        assert "expired" in text and "/cop console" in text


async def test_an_altered_link_is_no_link(console: Console) -> None:
    path = console.link_path(ALEX.identity)
    token = path.rsplit("/", 1)[1]
    forged = token.replace(token[3], "A" if token[3] != "A" else "B", 1)
    for bad in (forged, "nonsense", "a.b", "²" * 40):
        response = await console.http.post(f"/console/sign-in/{bad}", allow_redirects=False)
        assert response.status == 404
        assert "isn't a sign-in link copbot made" in await response.text()


async def test_a_link_for_staff_signs_nobody_in(console: Console) -> None:
    path = console.link_path(SAM.identity)
    page = await console.get(path)
    assert page.status == 403 and "The console is for facilitators and admins" in await page.text()
    response = await console.http.post(path, allow_redirects=False)
    assert response.status == 403
    assert COOKIE not in response.cookies


async def test_signing_out_ends_the_session_at_once(console: Console) -> None:
    cookie = await console.sign_in(ALEX)
    out = await console.post("/console/sign-out", cookie, {"csrf": await console.csrf(cookie)})
    assert out.status == 200 and "You've signed out" in await out.text()
    assert (await console.get("/console", cookie)).status == 401


async def test_losing_the_role_ends_the_session(console: Console) -> None:
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    cookie = await console.sign_in(PRIYA)
    await console.core.roles.revoke(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    refused = await console.get("/console", cookie)
    assert refused.status == 403 and "your role has changed" in await refused.text()
    # Given the role back, the old session stays ended: a new link is needed.
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    assert (await console.get("/console", cookie)).status == 401


async def test_a_session_lasts_eight_hours(console: Console) -> None:
    cookie = await console.sign_in(ALEX)
    console.clock.advance(timedelta(hours=7, minutes=59))
    assert (await console.get("/console", cookie)).status == 200
    console.clock.advance(timedelta(minutes=1))
    assert (await console.get("/console", cookie)).status == 401


async def test_a_forged_session_cookie_is_nobody(console: Console) -> None:
    cookie = await console.sign_in(ALEX)
    for at in range(len(cookie)):  # every character changed, one at a time
        if cookie[at] != ".":
            other = "A" if cookie[at] != "A" else "B"
            forged = cookie[:at] + other + cookie[at + 1 :]
            assert (await console.get("/console", forged)).status == 401, at
    assert (await console.get("/console", "made.up")).status == 401


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        (None, {}),  # no token
        ("forged.token", {}),
        ("good", {"Origin": "https://evil.example"}),  # the right token from another site
        ("good", {"Sec-Fetch-Site": "cross-site"}),
    ],
    ids=["missing", "forged", "other-origin", "cross-site"],
)
async def test_a_post_without_its_csrf_token_changes_nothing(
    console: Console, csrf: str | None, headers: dict[str, str]
) -> None:
    cookie = await console.sign_in(ALEX)
    data = {} if csrf is None else {"csrf": await console.csrf(cookie) if csrf == "good" else csrf}
    refused = await console.post("/console/sign-out", cookie, data, **headers)
    assert refused.status == 403
    assert "nothing was changed" in await refused.text()
    assert (await console.get("/console", cookie)).status == 200  # still signed in


async def test_another_persons_csrf_token_is_refused(console: Console) -> None:
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    alex, priya = await console.sign_in(ALEX), await console.sign_in(PRIYA)
    refused = await console.post("/console/sign-out", alex, {"csrf": await console.csrf(priya)})
    assert refused.status == 403
    assert (await console.get("/console", alex)).status == 200


async def test_a_sign_in_from_another_site_is_refused(console: Console) -> None:
    path = console.link_path(ALEX.identity)
    response = await console.http.post(
        path, headers={"Origin": "https://evil.example"}, allow_redirects=False
    )
    assert response.status == 403
    assert (await console.get(path)).status == 200  # and the link is still unused


async def test_console_pages_name_an_icon_that_loads(console: Console) -> None:
    """Without one a browser asks for /favicon.ico, and every page logs a 404."""
    cookie = await console.sign_in(ALEX)
    for response in (await console.get("/console", cookie), await console.get("/console")):
        [href] = re.findall(r'<link rel="icon" href="([^"]+)"', await response.text())
        icon = await console.get(href)
        assert icon.status == 200 and icon.content_type == "image/svg+xml"
        assert (await icon.text()).lstrip().startswith("<svg")


async def test_every_console_response_carries_the_security_headers(console: Console) -> None:
    cookie = await console.sign_in(ALEX)
    responses = [
        await console.get("/console", cookie),
        await console.get("/console"),  # signed out
        await console.get("/console/sign-in"),
        await console.get(console.link_path(ALEX.identity)),
        await console.get("/console/sign-in/nonsense"),
        await console.get("/console/static/console.css"),
        await console.get("/console/static/favicon.svg"),
        await console.post("/console/sign-out", cookie, {}),  # refused
        await console.http.post(console.link_path(ALEX.identity), allow_redirects=False),
    ]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src" not in csp, csp
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin")


async def test_a_sign_in_links_pages_name_it_to_nobody_not_even_copbot(console: Console) -> None:
    """The page loads copbot's stylesheet and icon: with a Referer, each of those requests
    would carry the unused link into any log that keeps Referer headers."""
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    path = console.link_path(PRIYA.identity)
    responses = [
        await console.get(path),  # the page with its button
        await console.get(console.link_path(SAM.identity)),  # staff: refused
        await console.get("/console/sign-in/nonsense"),
        await console.http.post(path, headers={"Origin": "https://evil.example"}),
        await console.http.post(path, allow_redirects=False),  # signed in
        await console.get(path),  # used
    ]
    assert [r.status for r in responses] == [200, 403, 404, 403, 303, 410]
    for response in responses:
        assert response.headers["Referrer-Policy"] == "strict-origin", response.status
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_a_fault_of_copbots_is_a_page_in_words_with_the_consoles_headers(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    faults = Faults()
    async with console_app(db_path, gate=faults) as console:
        cookie = await console.sign_in(ALEX)
        faults.fail("SqliteFeedbackRepository.rounds", disk_full)
        response = await console.get("/console/feedback", cookie)
        page = await response.text()
    assert response.status == 500
    assert response.content_type == "text/html"
    assert "Sorry, something went wrong" in page and "try again in a minute" in page
    assert "disk is full" not in page and "Traceback" not in page
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "disk is full" not in caplog.text  # logged by type and place, not its message
    assert "OperationalError" in caplog.text


async def test_the_audit_shows_admins_sign_ins_newest_first(console: Console) -> None:
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    await console.sign_in(PRIYA)
    console.clock.advance(timedelta(minutes=1))
    alex = await console.sign_in(ALEX)
    page = await console.get("/console/audit", alex)
    assert page.status == 200
    rows = re.findall(r"<tr><td>.*?</tr>", await page.text())
    assert len(rows) == 2
    assert "Alex" in rows[0] and "signed in" in rows[0]
    assert "Priya" in rows[1] and "signed in" in rows[1]


def test_console_link_prints_a_link_for_an_admin(db_path: Path) -> None:
    CliRunner().invoke(cli, ["db", "migrate", "--db", str(db_path)])
    env = {"COPBOT_ADMINS": "slack:U1", "COPBOT_PUBLIC_URL": "https://copbot.example.nhs.uk"}
    result = CliRunner().invoke(
        cli, ["console-link", "--user", "slack:U1", "--db", str(db_path)], env=env
    )
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"https://copbot\.example\.nhs\.uk/console/sign-in/\S+\n", result.output)


def test_console_link_refuses_staff_in_one_line(db_path: Path) -> None:
    CliRunner().invoke(cli, ["db", "migrate", "--db", str(db_path)])
    result = CliRunner().invoke(cli, ["console-link", "--user", "slack:U9", "--db", str(db_path)])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "slack:U9 is staff" in result.output
    assert "/console/sign-in/" not in result.output


@pytest.fixture
async def playground(db_path: Path) -> AsyncIterator[TestClient]:
    store = Database.open(playground_path(db_path), migrations=PLAYGROUND_MIGRATIONS)
    adapter = LocalAdapter(SqlitePlaygroundRepository(store), SystemClock())
    app = create_app(Settings(db_path=db_path), adapters=[adapter])
    try:
        async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
            yield client
    finally:
        store.close()


async def _playground_token(client: TestClient) -> str:
    page = await client.get("/console/playground?as=priya")
    assert page.status == 200
    found = re.search(r'name="token" value="([^"]+)"', await page.text())
    assert found
    return found.group(1)


async def test_the_playground_signs_a_facilitator_persona_in_directly(
    playground: TestClient,
) -> None:
    token = await _playground_token(playground)
    signed_in = await playground.post(
        "/console/playground", data={"token": token, "persona": "local:priya"},
        allow_redirects=False,
    )  # fmt: skip
    assert signed_in.status == 303
    cookie = signed_in.cookies[COOKIE].value
    home = await playground.get("/console", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert home.status == 200 and "Priya Shah" in await home.text()


async def test_the_playgrounds_people_page_lists_the_personas_roles_from_the_start(
    playground: TestClient,
) -> None:
    signed_in = await playground.post(
        "/console/playground",
        data={"token": await _playground_token(playground), "persona": "local:alex"},
        allow_redirects=False,
    )
    cookie = {"Cookie": f"{COOKIE}={signed_in.cookies[COOKIE].value}"}
    page = await (await playground.get("/console/people", headers=cookie)).text()
    assert "Nobody has a role yet" not in page
    assert 'name="identity" value="local:priya"' in page  # her revoke button
    assert "local:sam" not in page.split("<h2>Give someone a role</h2>")[0]
    # By their names, as chat shows them, before they have said anything there.
    assert "Priya Shah (local:priya)" in page


@pytest.mark.parametrize(
    ("persona", "token_ok"),
    [("local:sam", True), ("local:nobody", True), ("local:priya", False)],
    ids=["staff", "unknown", "no-token"],
)
async def test_the_playground_signs_in_nobody_else(
    playground: TestClient, persona: str, token_ok: bool
) -> None:
    token = await _playground_token(playground) if token_ok else "forged.token"
    refused = await playground.post(
        "/console/playground", data={"token": token, "persona": persona}, allow_redirects=False
    )
    assert refused.status == 403
    assert COOKIE not in refused.cookies


@pytest.fixture
async def playground_beside_slack(db_path: Path) -> AsyncIterator[TestClient]:
    """The playground switched on while copbot also serves Slack (COPBOT_PLAYGROUND=on)."""
    store = Database.open(playground_path(db_path), migrations=PLAYGROUND_MIGRATIONS)
    adapter = LocalAdapter(SqlitePlaygroundRepository(store), SystemClock())
    settings = Settings(db_path=db_path, slack=SlackSettings("xoxb-test", "secret"))
    app = create_app(settings, adapters=[adapter])
    try:
        async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
            yield client
    finally:
        store.close()


@pytest.mark.parametrize(
    "header",
    ["X-Forwarded-For", "X-Real-IP", "Forwarded"],
)
async def test_beside_slack_the_playground_sign_in_is_not_reached_through_a_proxy(
    playground_beside_slack: TestClient, header: str
) -> None:
    client = playground_beside_slack
    # At the machine itself it works as ever.
    token = await _playground_token(client)
    proxied = {header: "203.0.113.9"}
    assert (await client.get("/console/playground", headers=proxied)).status == 404
    refused = await client.post(
        "/console/playground",
        data={"token": token, "persona": "local:alex"},
        headers=proxied,
        allow_redirects=False,
    )
    assert refused.status == 404 and COOKIE not in refused.cookies


async def test_a_playground_admin_cannot_change_roles_in_slack_or_teams(
    playground_beside_slack: TestClient,
) -> None:
    client = playground_beside_slack
    token = await _playground_token(client)
    signed_in = await client.post(
        "/console/playground", data={"token": token, "persona": "local:alex"},
        allow_redirects=False,
    )  # fmt: skip
    cookie = {"Cookie": f"{COOKIE}={signed_in.cookies[COOKIE].value}"}
    people = await client.get("/console/people", headers=cookie)
    found = re.search(r'name="csrf" value="([^"]+)"', await people.text())
    assert found
    csrf = found.group(1)
    for identity in ("slack:UEVIL", "teams:00000000-0000-0000-0000-000000000001"):
        refused = await client.post(
            "/console/people/grant",
            data={"csrf": csrf, "identity": identity, "role": "admin"},
            headers=cookie,
        )
        assert refused.status == 400
        assert "only the playground people" in await refused.text()
    granted = await client.post(
        "/console/people/grant",
        data={"csrf": csrf, "identity": "local:sam", "role": "facilitator"},
        headers=cookie,
    )
    assert granted.status == 200 and "is now a facilitator" in await granted.text()
    listed = await (await client.get("/console/people", headers=cookie)).text()
    assert "UEVIL" not in listed
    # Nor can a persona erase someone in Slack or Teams.
    erased = await client.post(
        "/console/people/erase",
        data={"csrf": csrf, "identity": "slack:U0REAL", "confirm": "yes"},
        headers=cookie,
    )
    assert erased.status == 400
    assert "only the playground people" in await erased.text()


async def test_without_the_playground_there_is_no_direct_sign_in(console: Console) -> None:
    assert (await console.get("/console/playground")).status == 404


async def _say(console: Console, user: UserRef, text: str) -> None:
    await console.core.inbox.accept(
        CommandReceived(f"say-{text}", Origin(user, GENERAL), text, console.clock.now())
    )
    await console.core.inbox.drain()


async def test_role_changes_in_chat_are_audited(console: Console) -> None:
    await _say(console, ALEX, "role grant facilitator <@test:sam>")
    await _say(console, ALEX, "role revoke facilitator <@test:sam>")
    entries = await console.core.audit.newest()
    assert [(e.done_by, e.action, e.detail) for e in entries] == [
        (ALEX.identity, "role revoked", "facilitator: test:sam, in chat"),
        (ALEX.identity, "role granted", "facilitator: test:sam, in chat"),
    ]


async def test_an_export_downloaded_from_a_chat_link_is_audited(console: Console) -> None:
    await _say(console, ALEX, "export csv")
    direct = console.adapter.of_kind("direct")[-1]
    found = re.search(r"http://console\.test(/export/[^)\s]+)", direct.text)
    assert found, direct.text
    assert not await console.core.audit.newest()  # asked for, not yet downloaded
    download = await console.http.post(found.group(1))
    assert download.status == 200
    entries = await console.core.audit.newest()
    assert [(e.done_by, e.action) for e in entries] == [(ALEX.identity, "archive exported")]


def test_erasure_export_and_roles_on_the_command_line_are_audited(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    assert CliRunner().invoke(cli, ["db", "migrate", *db]).exit_code == 0
    assert CliRunner().invoke(cli, ["erase", "--user", "slack:U9", *db]).exit_code == 0
    assert (
        CliRunner().invoke(cli, ["roles", "grant", "facilitator", "slack:U8", *db]).exit_code == 0
    )
    assert (
        CliRunner().invoke(cli, ["roles", "grant", "facilitator", "slack:U8", *db]).exit_code == 0
    )
    assert (
        CliRunner().invoke(cli, ["roles", "revoke", "facilitator", "slack:U8", *db]).exit_code == 0
    )
    assert CliRunner().invoke(cli, ["export", "--format", "csv", *db]).exit_code == 0
    conn = sqlite.connect(db_path)
    try:
        rows = conn.execute("select done_by, action, detail from audit order by id desc").fetchall()
    finally:
        conn.close()
    assert rows == [
        ("cli", "archive exported", "csv, on the command line"),
        ("cli", "role revoked", "facilitator: slack:U8, on the command line"),
        (
            "cli",
            "role granted",
            "facilitator: slack:U8, on the command line",
        ),  # once: then no change
        ("cli", "erased", "slack:U9: 0 record(s)"),
    ]


@pytest.mark.parametrize("hostile", [False, True])
def test_an_answer_shared_with_chat_never_brings_html_into_a_page(hostile: bool) -> None:
    from zoneinfo import ZoneInfo

    import markupsafe

    from bot.console.web import Templates

    words = 'Changed: <img src=x onerror=alert(1)> `schedule <b>resume</b> 1` & "so"'
    # Even words marked safe somewhere on the way: chat's answers are never HTML.
    given = markupsafe.Markup(words) if hostile else words
    env = Templates(ZoneInfo("Europe/London"))._env
    shown = env.from_string("<p>{{ done|said }}</p>").render(done=given)
    assert "<img" not in shown and "<b>" not in shown
    assert "<code>schedule &lt;b&gt;resume&lt;/b&gt; 1</code>" in shown


async def test_a_used_link_stays_used_after_its_owner_is_erased(console: Console) -> None:
    """Erasure forgets who signed in, not that the link was used: a link seen in someone's
    mail or history must not sign them in again."""
    path = console.link_path(ALEX.identity)
    cookie = (await console.http.post(path, allow_redirects=False)).cookies[COOKIE].value
    await console.core.erasure.erase(ALEX.identity)
    assert (await console.get("/console", cookie)).status == 401  # the session went
    for again in (await console.get(path), await console.http.post(path, allow_redirects=False)):
        assert again.status == 410 and "used already" in await again.text()
        assert COOKIE not in again.cookies
    rows = await console.core.db.read(
        lambda db: db.execute("select identity from console_links_used").fetchall()
    )
    assert rows and ALEX.identity not in {r[0] for r in rows}
