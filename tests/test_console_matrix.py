"""Every console route for someone signed out, staff, a facilitator and an admin: the
status each gets, and no data for anyone refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, new_key
from bot.model import Role
from bot.records import ArchivedMessage
from storage.feedback import SqliteFeedbackRepository
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, PRIYA, SAM

SECRET_WORDS = "words only people with access may read"
THREAD = "/console/archive/thread?platform=test&workspace=T1&channel=C-north&id=t1"
OUT, STAFF, FAC, ADMIN = None, Role.STAFF, Role.FACILITATOR, Role.ADMIN
WHO = (OUT, STAFF, FAC, ADMIN)

# (method, path, form fields beyond the CSRF token) -> status for signed out, staff,
# facilitator, admin.
MATRIX: list[tuple[str, str, dict[str, str], tuple[int, int, int, int]]] = [
    ("GET", "/console", {}, (401, 403, 200, 200)),
    ("GET", "/console/archive", {}, (401, 403, 200, 200)),
    ("GET", "/console/archive?q=access", {}, (401, 403, 200, 200)),
    ("GET", THREAD, {}, (401, 403, 200, 200)),
    ("GET", "/console/archive/export", {}, (401, 403, 403, 200)),
    ("POST", "/console/archive/export", {"format": "csv"}, (401, 403, 403, 200)),
    ("GET", "/console/feedback", {}, (401, 403, 200, 200)),
    ("GET", "/console/feedback/1", {}, (401, 403, 200, 200)),
    ("GET", "/console/events", {}, (401, 403, 200, 200)),
    (
        "POST",
        "/console/events/new",
        {"title": "T", "region": "North", "start": "2030-01-01T10:00"},
        (401, 403, 200, 200),
    ),
    ("POST", "/console/events/cancel", {"event": "1"}, (401, 403, 400, 400)),
    ("GET", "/console/events/1", {}, (401, 403, 404, 404)),
    ("GET", "/console/events/1/edit", {}, (401, 403, 404, 404)),
    ("POST", "/console/events/1/edit", {"title": "T"}, (401, 403, 404, 404)),
    ("GET", "/console/participation", {}, (401, 403, 200, 200)),
    ("GET", "/console/prompts", {}, (401, 403, 200, 200)),
    ("POST", "/console/prompts/schedule", {"days": "someday"}, (401, 403, 400, 400)),
    ("POST", "/console/prompts/unschedule", {"schedule": "9"}, (401, 403, 400, 400)),
    ("POST", "/console/prompts/pause", {"schedule": "9"}, (401, 403, 400, 400)),
    ("POST", "/console/prompts/resume", {"schedule": "9"}, (401, 403, 400, 400)),
    ("GET", "/console/people", {}, (401, 403, 403, 200)),
    (
        "POST",
        "/console/people/grant",
        {"identity": "test:kim", "role": "facilitator"},
        (401, 403, 403, 200),
    ),
    (
        "POST",
        "/console/people/revoke",
        {"identity": "test:kim", "role": "admin"},
        (401, 403, 403, 200),
    ),
    ("POST", "/console/people/erase", {"identity": "test:kim"}, (401, 403, 403, 200)),
    ("GET", "/console/audit", {}, (401, 403, 403, 200)),
    ("POST", "/console/sign-out", {}, (401, 403, 200, 200)),
    ("GET", "/console/sign-in", {}, (200, 200, 200, 200)),
    ("GET", "/console/static/console.css", {}, (200, 200, 200, 200)),
    ("GET", "/console/static/favicon.svg", {}, (200, 200, 200, 200)),
]
CASES = [
    pytest.param(method, path, form, who, statuses[i], id=f"{method} {path} as {who.label if who is not None else 'signed out'}")
    for method, path, form, statuses in MATRIX
    for i, who in enumerate(WHO)
]  # fmt: skip


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        await c.core.archive.capture(
            ArchivedMessage("test", "T1", "C-north", "north", "t1", "t1", "test:jo", "Jo",
                            False, SECRET_WORDS, c.clock.now())
        )  # fmt: skip
        await SqliteFeedbackRepository(c.core.db).open(
            Round(0, "A round", DEFAULT_QUESTIONS, 3, RoundState.OPEN, c.clock.now()), new_key()
        )
        yield c


async def _session(c: Console, who: Role | None) -> tuple[str | None, str]:
    """A cookie and its CSRF token; staff have lost the facilitator role since signing in."""
    if who is None:
        return None, ""
    user = {STAFF: SAM, FAC: PRIYA, ADMIN: ALEX}[who]
    if who is not ADMIN:
        await c.core.roles.grant(user.identity, Role.FACILITATOR, by=ALEX.identity)
    cookie = await c.sign_in(user)
    csrf = await c.csrf(cookie)
    if who is STAFF:
        await c.core.roles.revoke(user.identity, Role.FACILITATOR, by="cli")
    return cookie, csrf


@pytest.mark.parametrize(("method", "path", "form", "who", "status"), CASES)
async def test_every_route_for_every_role(
    console: Console, method: str, path: str, form: dict[str, str], who: Role | None, status: int
) -> None:
    cookie, csrf = await _session(console, who)
    if method == "GET":
        response = await console.get(path, cookie)
    else:
        response = await console.post(path, cookie, {"csrf": csrf, **form})
    body = await response.text()
    assert response.status == status, body
    if status >= 400:
        assert SECRET_WORDS not in body and "A round" not in body
        if who in (OUT, STAFF):
            assert "csrf" not in body  # nothing to act with, either
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_matrix_covers_every_console_route(console_routes: set[tuple[str, str]]) -> None:
    covered = {(m, p.split("?")[0]) for m, p, _, _ in MATRIX}
    shapes = {
        ("GET", "/console/feedback/{id}"): ("GET", "/console/feedback/1"),
        ("GET", "/console/events/{id}"): ("GET", "/console/events/1"),
        ("GET", "/console/events/{id}/edit"): ("GET", "/console/events/1/edit"),
        ("POST", "/console/events/{id}/edit"): ("POST", "/console/events/1/edit"),
    }
    # The sign-in link and the playground's own sign-in have tests of their own.
    elsewhere = {("GET", "/console/sign-in/{token}"), ("POST", "/console/sign-in/{token}")}
    missing = {r for r in console_routes if shapes.get(r, r) not in covered and r not in elsewhere}
    assert not missing, missing


@pytest.fixture
def console_routes(db_path: Path) -> set[tuple[str, str]]:
    from bot.app import create_app
    from bot.settings import Settings
    from tests.support.fakes import FakeAdapter

    app = create_app(Settings(db_path=db_path), adapters=[FakeAdapter()])
    return {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/console")
        and r.method in ("GET", "POST")
    }


@pytest.mark.parametrize("who", [OUT, FAC], ids=["signed out", "facilitator"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/console/nothing-here"), ("GET", "/console/prompts/pause"), ("POST", "/console/x")],
)
async def test_an_address_with_no_page_gets_the_console_headers_and_no_data(
    console: Console, who: Role | None, method: str, path: str
) -> None:
    cookie, csrf = await _session(console, who)
    if method == "GET":
        response = await console.get(path, cookie)
    else:
        response = await console.post(path, cookie, {"csrf": csrf})
    body = await response.text()
    assert response.status == 404 and "There&#39;s no such page" in body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert SECRET_WORDS not in body and "csrf" not in body
