"""People in the console (admins): granting and revoking roles, audited, with CSRF."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.model import ChannelRef, MessageRef, Role
from bot.records import ArchivedMessage
from tests.support.console import Console, console_app
from tests.support.harness import ALEX, PRIYA, SAM


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    async with console_app(db_path) as c:
        yield c


async def _change(
    c: Console, cookie: str, action: str, identity: str, role: str
) -> tuple[int, str]:
    response = await c.post(
        f"/console/people/{action}", cookie,
        {"csrf": await c.csrf(cookie), "identity": identity, "role": role},
    )  # fmt: skip
    return response.status, await response.text()


async def test_an_admin_grants_and_revokes_a_role_and_both_are_audited(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    await console.meet(SAM)
    status, page = await _change(console, alex, "grant", SAM.identity, "facilitator")
    assert status == 200 and "Sam (test:sam) is now a facilitator." in page
    assert await console.core.roles.role_of(SAM.identity) is Role.FACILITATOR
    assert ">Revoke facilitator<" in page
    status, page = await _change(console, alex, "revoke", SAM.identity, "facilitator")
    assert status == 200 and "is no longer a facilitator" in page
    assert await console.core.roles.role_of(SAM.identity) is Role.STAFF
    audit = await (await console.get("/console/audit", alex)).text()
    assert audit.index("role revoked") < audit.index("role granted")  # newest first
    assert "facilitator: test:sam" in audit


@pytest.mark.parametrize(
    ("identity", "role", "problem"),
    [
        ("sam", "facilitator", "like slack:U123"),
        ("test:sam", "staff", "Pick facilitator or admin"),
        ("test:sam", "overlord", "Pick facilitator or admin"),
    ],
)
async def test_a_bad_grant_says_what_is_wrong_and_changes_nothing(
    console: Console, identity: str, role: str, problem: str
) -> None:
    alex = await console.sign_in(ALEX)
    status, page = await _change(console, alex, "grant", identity, role)
    assert status == 400 and problem in page and "Nothing was changed" in page
    assert await console.core.roles.role_of(SAM.identity) is Role.STAFF
    assert "role granted" not in await (await console.get("/console/audit", alex)).text()


async def test_an_identity_too_long_is_refused_not_cut_to_someone_elses(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    typed = "test:" + "a" * 220
    status, page = await _change(console, alex, "grant", typed, "facilitator")
    assert status == 400 and "'identity' field is longer than 200 characters" in page
    assert "nothing was changed" in page
    assert await console.core.roles.role_of(typed[:200]) is Role.STAFF
    assert "role granted" not in await (await console.get("/console/audit", alex)).text()


async def test_an_admin_listed_in_the_settings_cannot_be_revoked_here(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    status, page = await _change(console, alex, "revoke", ALEX.identity, "admin")
    assert status == 400 and "COPBOT_ADMINS" in page
    assert await console.core.roles.role_of(ALEX.identity) is Role.ADMIN


async def test_a_grant_without_its_csrf_token_changes_nothing(console: Console) -> None:
    alex = await console.sign_in(ALEX)
    response = await console.post(
        "/console/people/grant", alex, {"identity": SAM.identity, "role": "admin"}
    )
    assert response.status == 403
    assert await console.core.roles.role_of(SAM.identity) is Role.STAFF


async def test_a_facilitator_cannot_grant(console: Console) -> None:
    await console.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    priya = await console.sign_in(PRIYA)
    status, _ = await _change(console, priya, "grant", PRIYA.identity, "admin")
    assert status == 403
    assert await console.core.roles.role_of(PRIYA.identity) is Role.FACILITATOR


async def test_erasing_someone_asks_first_then_erases_and_is_audited(console: Console) -> None:
    await console.core.archive.capture(
        ArchivedMessage("test", "T1", "C-north", "north", "t1", "m1", SAM.identity, "Sam",
                        False, "Something Sam said", console.clock.now())
    )  # fmt: skip
    alex = await console.sign_in(ALEX)
    csrf = await console.csrf(alex)
    asked = await console.post(
        "/console/people/erase", alex, {"csrf": csrf, "identity": SAM.identity}
    )
    page = await asked.text()
    assert asked.status == 200 and "Erase everything copbot kept of" in page
    assert 'name="confirm" value="yes"' in page
    assert await console.core.archive.get(_ref()) is not None  # nothing erased yet
    done = await console.post(
        "/console/people/erase", alex, {"csrf": csrf, "identity": SAM.identity, "confirm": "yes"}
    )
    assert done.status == 200 and "Erased" in await done.text()
    assert await console.core.archive.get(_ref()) is None
    assert await console.core.archive.opted_out(SAM.identity)
    audit = await (await console.get("/console/audit", alex)).text()
    assert "erased" in audit and "test:sam" in audit


async def test_an_erasure_without_its_csrf_token_erases_nothing(console: Console) -> None:
    await console.core.archive.capture(
        ArchivedMessage("test", "T1", "C-north", "north", "t1", "m1", SAM.identity, "Sam",
                        False, "Something Sam said", console.clock.now())
    )  # fmt: skip
    alex = await console.sign_in(ALEX)
    refused = await console.post(
        "/console/people/erase", alex, {"identity": SAM.identity, "confirm": "yes"}
    )
    assert refused.status == 403
    assert await console.core.archive.get(_ref()) is not None


def _ref() -> MessageRef:
    return MessageRef(ChannelRef("test", "C-north", "T1", "north"), "m1", "t1")


@pytest.mark.parametrize(
    ("typed", "says"),
    [("slack:@alex", "is not a Slack identity"), ("teams:Priya Shah", "is not a Teams identity")],
)
async def test_a_mistyped_identity_is_refused_in_words(
    console: Console, typed: str, says: str
) -> None:
    alex = await console.sign_in(ALEX)
    status, page = await _change(console, alex, "grant", typed, "admin")
    assert status == 400 and says in html.unescape(page)
    assert await console.core.roles.role_of(typed) is Role.STAFF


@pytest.mark.parametrize("typed", ["slack:u012abcdef", " Slack:U012ABCDEF ", "SLACK:u012AbCdEf"])
async def test_a_revoke_typed_in_another_case_takes_the_role_away_as_in_chat(
    console: Console, typed: str
) -> None:
    # A grant keeps the identity as Slack writes it; a revoke typed otherwise must not
    # answer "wasn't a facilitator" and leave the role in place.
    alex = await console.sign_in(ALEX)
    await console.core.roles.grant("slack:U012ABCDEF", Role.FACILITATOR, by=ALEX.identity)
    status, page = await _change(console, alex, "revoke", typed, "facilitator")
    assert status == 200 and "is no longer a facilitator" in page, page
    assert await console.core.roles.role_of("slack:U012ABCDEF") is Role.STAFF
