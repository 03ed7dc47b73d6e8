"""The authorization matrix in the playground: every verb, button and form the registry
declares for facilitators or admins, tried by a staff member, is refused in words and
changes no row of the database. (Slack and Teams: tests/slack/test_hostile.py and
tests/teams/test_hostile.py, with the same lists from tests/support/authz.py.)"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.settings import Settings
from tests.support.authz import (
    BOOKKEEPING,
    REFUSED,
    changed,
    command_text,
    digest,
    privileged_actions,
    privileged_forms,
    privileged_verbs,
)
from tests.support.harness import ALEX, Harness
from tests.test_playground import Playground


@pytest.fixture
async def pg(db_path: Path) -> AsyncIterator[Playground]:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path)))) as client:
        pg = Playground(client)
        await pg.settled()
        yield pg


def plain(message: dict[str, Any]) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", message["html"]))


async def refusals(pg: Playground, who: str = "sam") -> list[str]:
    state = await pg.state(who)
    return [plain(m) for m in state["messages"] if m["private"] and REFUSED.search(plain(m))]


async def something_to_change(pg: Playground) -> None:
    """As the admin: a feedback round and a prompt schedule, each number 1."""
    for text in (
        '/cop feedback open "Session one" min 3',
        "/cop schedule prompt any every 7 at 10:00",
    ):
        await pg.say(text, who="alex")
    await pg.until(lambda: _answers(pg, "alex", 2))


async def _answers(pg: Playground, who: str, n: int) -> bool:
    state = await pg.state(who)
    return sum(m["private"] for m in state["messages"]) >= n


async def test_every_privileged_verb_is_refused_to_staff_and_changes_nothing(
    pg: Playground, db_path: Path
) -> None:
    await something_to_change(pg)
    verbs = privileged_verbs(pg.core.registry)
    assert {"role grant", "export", "event cancel", "feedback close"} <= {v.name for v in verbs}
    before = digest(db_path, BOOKKEEPING)
    for n, verb in enumerate(verbs, start=1):
        await pg.say("/cop " + command_text(verb, "local:sam", "local:alex"))
        answers = await pg.until(lambda n=n: _at_least(pg, n))
        assert answers[-1].startswith(f"/cop {verb.name} is for"), answers[-1]
    assert changed(before, digest(db_path, BOOKKEEPING)) == []
    assert (await pg.state("sam"))["personas"][0]["role"] == "staff"


async def _at_least(pg: Playground, n: int) -> list[str] | None:
    found = await refusals(pg)
    return found if len(found) >= n else None


async def test_privileged_buttons_and_forged_forms_are_refused_to_staff(
    pg: Playground, db_path: Path
) -> None:
    await something_to_change(pg)
    hello, *_ = [m for m in (await pg.state("sam"))["messages"] if not m["private"]]
    actions = privileged_actions(pg.core.registry)
    assert "anonymous.remove" in actions
    before = digest(db_path, BOOKKEEPING)
    for n, action in enumerate(actions, start=1):
        status, _ = await pg.post(
            "/actions",
            {"as": "sam", "message_id": hello["id"], "action_id": f"{action}:1", "value": "1"},
        )
        assert status == 200
        answers = await pg.until(lambda n=n: _at_least(pg, n))
        assert answers[-1].startswith("That button is for")
    # A form is submitted by its token, which only opening it gives: forged ones are refused.
    assert privileged_forms(pg.core.registry)
    for form in privileged_forms(pg.core.registry):
        status, body = await pg.post(f"/forms/{form}", {"as": "sam", "values": {"title": "x"}})
        assert status == 400 and "Please open it again" in body["error"]
    assert changed(before, digest(db_path, BOOKKEEPING)) == []


async def test_a_form_a_privileged_verb_opens_is_registered_as_privileged(bot: Harness) -> None:
    # The matrix finds forms by their registered role: a facilitator's form registered for
    # everyone by mistake would be missed by it, and taken from anyone who sent it.
    opened = {}
    for verb in privileged_verbs(bot.core.registry):
        for sent in await bot.command(verb.name, ALEX):
            if sent.form is not None:
                opened[sent.form.id] = verb
    assert {"prompt-add", "event-new", "feedback-open"} <= opened.keys()
    for form, verb in opened.items():
        route = bot.core.registry.find_form(form)
        assert route is not None, f"`{verb.name}` opens {form}, which is not registered"
        assert route.role >= verb.role, f"{form} is registered for {route.role.label}"
