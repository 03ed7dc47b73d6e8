"""Answers to card buttons pressed in a channel: Teams has no message only one person sees,
so a refusal or any other private answer goes to the person's 1:1 chat, never into the
channel; a press Teams waits on (``Action.Execute``) also shows it in place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.interaction import Interaction
from bot.model import ButtonPressed, Role
from bot.settings import TeamsSettings
from tests.teams.conftest import TeamsBot, serve
from tests.teams.fake_connector import NORTH, TEAM, TENANT, FakeConnector

MESSAGE = "application/vnd.microsoft.activity.message"
SAM = {"id": "29:1sam-teams-id", "name": "Sam Okafor", "aadObjectId": "aad-sam-0001"}
JO = {"id": "29:1jo-teams-id", "name": "Jo Newcomer", "aadObjectId": "aad-jo-0042"}
DATA = {"copbot": "action", "action": "test.close", "value": "7"}


def only_for_facilitators(teams: TeamsBot) -> list[ButtonPressed]:
    pressed: list[ButtonPressed] = []

    async def close(ix: Interaction, event: ButtonPressed) -> None:
        pressed.append(event)

    teams.core.registry.action("test.close", close, role=Role.FACILITATOR)
    return pressed


def execute(teams: TeamsBot, ident: str, who: dict[str, str]) -> dict[str, Any]:
    return teams.activity(
        "adaptive_card_action",
        id=ident,
        value={"action": {"type": "Action.Execute", "verb": "test.close", "data": DATA}},
        **{"from": who},
    )


def in_the_channel(teams: TeamsBot) -> list[object]:
    return [c for c in teams.fake.calls if c.conversation.startswith((NORTH, TEAM))]


async def test_a_refused_press_is_answered_in_the_persons_chat_not_the_channel(
    teams: TeamsBot,
) -> None:
    pressed = only_for_facilitators(teams)
    await teams.install()  # Sam installed copbot: copbot can open a chat with them
    before = len(in_the_channel(teams))

    answer = await (await teams.send(execute(teams, "1700000008001", SAM))).json()
    assert answer["type"] == MESSAGE and "is for facilitators and admins" in answer["value"]
    [opened] = [c for c in teams.fake.of("create") if not c.body.get("isGroup")]
    assert opened.body["members"][0]["id"] == SAM["id"]
    [sent] = await teams.until(lambda: teams.fake.of("send"))
    assert sent.conversation == f"a:1dm-{SAM['id']}"
    said = json.dumps(sent.body)
    assert "is for facilitators and admins" in said and "Teams can't show a message" in said
    assert len(in_the_channel(teams)) == before  # nothing was said in the channel
    assert pressed == []


async def test_a_refused_submit_press_is_answered_in_the_persons_chat_too(
    teams: TeamsBot,
) -> None:
    """A card sent before buttons used Action.Execute: the press comes as a message."""
    pressed = only_for_facilitators(teams)
    await teams.install()
    before = len(in_the_channel(teams))
    press = teams.activity("card_button", id="1700000008002", value=DATA, **{"from": SAM})
    assert (await teams.send(press)).status == 200
    [sent] = await teams.until(lambda: teams.fake.of("send"))
    assert sent.conversation == f"a:1dm-{SAM['id']}"
    assert "is for facilitators and admins" in json.dumps(sent.body)
    assert len(in_the_channel(teams)) == before
    assert pressed == []


async def test_someone_copbot_cannot_message_still_sees_why_in_place(
    teams: TeamsBot,
) -> None:
    only_for_facilitators(teams)
    teams.fake.blocked.add(JO["id"])  # Teams won't open a chat with Jo
    await teams.install()
    before = len(in_the_channel(teams))
    answer = await (await teams.send(execute(teams, "1700000008003", JO))).json()
    assert answer["type"] == MESSAGE and "is for facilitators and admins" in answer["value"]
    assert not teams.fake.of("send")
    assert len(in_the_channel(teams)) == before


async def test_a_facilitators_press_is_handled_once_and_answered_in_place(
    teams: TeamsBot,
) -> None:
    pressed = only_for_facilitators(teams)
    await teams.install()
    await teams.core.roles.grant("teams:aad-sam-0001", Role.FACILITATOR, "teams:aad-admin")
    press = execute(teams, "1700000008004", SAM)
    answer = await (await teams.send(press)).json()
    assert answer == {"statusCode": 200, "type": MESSAGE, "value": "Thanks, done."}
    assert [p.value for p in pressed] == ["7"]
    assert pressed[0].origin.channel.id == NORTH and pressed[0].origin.channel.workspace == TENANT
    assert (await (await teams.send(press)).json())["value"] == "That's done already."
    assert len(pressed) == 1


@pytest.fixture
async def hasty(db_path: Path, fake: FakeConnector) -> AsyncIterator[TeamsBot]:
    """Teams waiting only a moment for a press's answer."""
    settings = TeamsSettings(tenants=frozenset({TENANT}))
    async for bot in serve(db_path, fake, settings, dialog_timeout=0.2):
        yield bot


async def test_an_answer_after_teams_stopped_waiting_still_reaches_the_persons_chat(
    hasty: TeamsBot,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(ix: Interaction, event: ButtonPressed) -> None:
        started.set()
        await release.wait()
        await ix.reply("Here is what you asked for.")

    hasty.core.registry.action("test.close", slow)
    await hasty.install()
    inbox = hasty.inbox_count()
    answer = await (await hasty.send(execute(hasty, "1700000008005", SAM))).json()
    assert started.is_set()
    assert answer["type"] == MESSAGE and "still working on that" in answer["value"]
    assert hasty.inbox_count() == inbox + 1  # kept before Teams heard back
    release.set()
    [sent] = await hasty.until(lambda: hasty.fake.of("send"))
    assert sent.conversation == f"a:1dm-{SAM['id']}"
    assert "Here is what you asked for." in json.dumps(sent.body)


async def test_a_press_whose_handler_breaks_is_answered_with_an_apology_at_once(
    teams: TeamsBot,
) -> None:
    async def broken(ix: Interaction, event: ButtonPressed) -> None:
        raise RuntimeError("broken")

    teams.core.registry.action("test.close", broken)
    await teams.install()
    answer = await (await teams.send(execute(teams, "1700000008006", SAM))).json()
    assert answer["type"] == MESSAGE and answer["value"].startswith("Sorry, something went")
