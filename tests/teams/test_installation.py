"""One installation in a team, however Teams tells of it: ``installationUpdate`` and a
``conversationUpdate`` with copbot among ``membersAdded`` both arrive, in either order, and
either may come again; copbot stores the team's channels and says hello in General once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.settings import TeamsSettings
from tests.teams.conftest import TeamsBot, serve
from tests.teams.fake_connector import NORTH, TEAM, TENANT, FakeConnector

BOTH = ("installation_update_add", "installed_in_team")


async def settle(teams: TeamsBot) -> None:
    """Wait until every accepted activity has been handled."""
    await teams.until(
        lambda: teams.rows("select count(*) from inbox where state = 'pending'") == [(0,)]
    )


@pytest.mark.parametrize("order", [BOTH, BOTH[::-1]])
async def test_an_installation_told_twice_greets_once(
    teams: TeamsBot, order: tuple[str, str]
) -> None:
    for name in (*order, *order):  # each also delivered again
        assert (await teams.send(teams.activity(name))).status == 200
    await settle(teams)
    hellos = [c for c in teams.fake.of("create") if c.body.get("isGroup")]
    assert len(hellos) == 1
    assert hellos[0].body["channelData"]["channel"]["id"] == TEAM
    query = "select id, name, bot_member from channels where platform = 'teams' order by id"
    assert teams.rows(query) == [(TEAM, "General", 1), (NORTH, "North", 1)]
    assert len(teams.fake.of("channels")) == 1  # the team's channels asked for once


async def test_both_notices_at_once_greet_once(teams: TeamsBot) -> None:
    answers = await asyncio.gather(*(teams.send(teams.activity(name)) for name in BOTH))
    assert [a.status for a in answers] == [200, 200]
    await settle(teams)
    assert len([c for c in teams.fake.of("create") if c.body.get("isGroup")]) == 1
    assert len(teams.fake.of("channels")) == 1


async def test_added_again_after_removal_is_a_new_installation(teams: TeamsBot) -> None:
    await teams.install()
    assert (await teams.send(teams.activity("removed_from_team"))).status == 200
    await settle(teams)
    assert teams.rows("select bot_member from channels where id = ?", (TEAM,)) == [(0,)]
    again = teams.activity("installation_update_add", id="f:install-update-2")
    assert (await teams.send(again)).status == 200
    await settle(teams)
    assert len([c for c in teams.fake.of("create") if c.body.get("isGroup")]) == 2
    assert teams.rows("select bot_member from channels where id = ?", (TEAM,)) == [(1,)]


async def test_a_notice_again_after_a_restart_does_not_greet_again(
    db_path: Path, fake: FakeConnector
) -> None:
    settings = TeamsSettings(tenants=frozenset({TENANT}))
    async for teams in serve(db_path, fake, settings):
        await teams.install()
        await settle(teams)
    async for teams in serve(db_path, fake, settings):  # copbot restarted
        late = teams.activity("installation_update_add")
        assert (await teams.send(late)).status == 200
        await settle(teams)
        assert len([c for c in fake.of("create") if c.body.get("isGroup")]) == 1
        query = "select id, bot_member from channels where platform = 'teams' order by id"
        assert teams.rows(query) == [(TEAM, 1), (NORTH, 1)]


def _in_chat(teams: TeamsBot, name: str) -> dict[str, object]:
    """The notice as Teams sends it when someone adds copbot to their own 1:1 chat."""
    chat = {"conversationType": "personal", "tenantId": TENANT, "id": "a:1personal-chat-sam"}
    return teams.activity(name, conversation=chat, channelData={"tenant": {"id": TENANT}})


@pytest.mark.parametrize("order", [BOTH, BOTH[::-1]])
async def test_added_to_a_one_to_one_chat_copbot_says_hello_there_once(
    teams: TeamsBot, order: tuple[str, str]
) -> None:
    # Without it, someone opening copbot's Chat sees nothing, and a "hi" is a puzzle.
    for name in (*order, *order):
        assert (await teams.send(_in_chat(teams, name))).status == 200
    await settle(teams)
    await teams.until(lambda: teams.fake.of("send"))
    hellos = [c for c in teams.fake.of("send") if c.conversation == "a:1personal-chat-sam"]
    assert len(hellos) == 1
    assert "Type help here to see what I can do" in hellos[0].body["text"]
    assert "@copbot help" in hellos[0].body["text"]
    assert teams.rows("select count(*) from channels where id = 'a:1personal-chat-sam'") == [(0,)]


async def test_the_one_to_one_chat_is_answered_before_copbot_is_in_any_team(
    teams: TeamsBot,
) -> None:
    # The chat's own reference reaches Teams: no team's is needed to answer there.
    assert (await teams.send(teams.activity("personal_command", text="help"))).status == 200
    [answer] = await teams.until(
        lambda: [c for c in teams.fake.of("send") if c.conversation == "a:1personal-chat-with-sam"]
    )
    assert "what you can ask me to do" in json.dumps(answer.body)
