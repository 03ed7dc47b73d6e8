"""A console form copbot can't save because its database can't be written (disk full,
read-only, locked) is answered as the playground answers it: a page in the console's
layout saying what happened, that nothing changed and what to do, with status 503; never
SQLite's words, a path or a traceback, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import Role
from tests.support.console import console_app
from tests.support.faults import REFUSALS, Faults, disk_full
from tests.support.harness import ALEX

REASONS = REFUSALS
# Every console form that saves something, as an admin sends it.
FORMS: list[tuple[str, dict[str, str]]] = [
    ("/console/events/new", {"title": "Job fair", "region": "North", "start": "2030-01-01T10:00"}),
    ("/console/people/grant", {"identity": "test:kim", "role": "facilitator"}),
    ("/console/people/revoke", {"identity": "test:kim", "role": "facilitator"}),
    ("/console/people/erase", {"identity": "test:kim", "confirm": "yes"}),
    ("/console/archive/export", {"format": "csv"}),
    ("/console/sign-out", {}),
]


def worded(status: int, page: str, reason: str) -> None:
    assert status == 503, page
    assert "couldn&#39;t save that, because its database can&#39;t be written" in page
    assert reason in page and "so nothing was changed" in page
    assert "let your copbot admin know" in page
    assert 'href="/console/static/console.css"' in page  # the console's own layout
    for leak in ("database or disk", "readonly database", "is locked", "Traceback", "sqlite"):
        assert leak not in page
    assert "db" not in page.split("<main", 1)[-1].lower().split()  # no file named


@pytest.mark.parametrize("fault", sorted(REASONS))
@pytest.mark.parametrize(("path", "form"), FORMS, ids=[p for p, _ in FORMS])
async def test_a_console_form_copbot_cant_save_is_refused_in_words(
    db_path: Path,
    fault: str,
    path: str,
    form: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    error, reason = REASONS[fault]
    faults = Faults()
    async with console_app(db_path, gate=faults) as console:
        await console.core.roles.grant("test:kim", Role.FACILITATOR, by=ALEX.identity)
        cookie = await console.sign_in(ALEX)
        csrf = await console.csrf(cookie)
        faults.fail_writes(error)
        response = await console.post(path, cookie, {"csrf": csrf, **form})
        worded(response.status, await response.text(), reason)
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert faults.raised, "no write was tried"
        faults.clear()
        assert await console.core.roles.role_of("test:kim") == Role.FACILITATOR
        assert str(error()) not in caplog.text  # logged by type and place only


async def test_signing_in_when_copbot_cant_save_the_session_is_worded_too(
    db_path: Path,
) -> None:
    faults = Faults()
    async with console_app(db_path, gate=faults) as console:
        await console.meet(ALEX)
        path = console.link_path(ALEX.identity)
        faults.fail_writes(disk_full)
        response = await console.http.post(path, allow_redirects=False)
        worded(response.status, await response.text(), REASONS["disk full"][1])
        faults.clear()
        # The link wasn't used up: it works once the file takes writes again.
        assert (await console.http.post(path, allow_redirects=False)).status == 303


async def test_a_page_that_fails_otherwise_keeps_its_apology(db_path: Path) -> None:
    faults = Faults()
    async with console_app(db_path, gate=faults) as console:
        cookie = await console.sign_in(ALEX)
        csrf = await console.csrf(cookie)
        faults.fail_writes(lambda: KeyError("Kim's words"))  # a fault that isn't the file's
        response = await console.post(
            "/console/people/grant", cookie, {"csrf": csrf, "identity": "test:kim", "role": "admin"}
        )
        page = await response.text()
    assert response.status == 500
    assert "Sorry, something went wrong" in page and "Kim" not in page
