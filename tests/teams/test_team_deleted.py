"""A team deleted in Teams (``teamDeleted``; no ``membersRemoved`` for copbot comes with it):
copbot lets go of its channels as when it is removed from the team, so that the team's
member list, which Teams no longer gives, never stands between anyone and the other teams'
words; and a team restored is taken back in, without a second hello."""

from __future__ import annotations

from typing import Any

from tests.teams.conftest import ADMIN, TeamsBot
from tests.teams.fake_connector import NORTH, TEAM
from tests.teams.test_private_channels import PRIYA, UNSURE, answer_in_chat, in_channel

SECOND = "19:second-team@thread.tacv2"  # another team's General, whose id is the team's
WORD = "quillwort"


def team_event(bot: TeamsBot, ident: str, event_type: str, team: str) -> dict[str, Any]:
    doc = bot.activity("removed_from_team", id=ident)
    doc.pop("membersRemoved")
    doc["conversation"]["id"] = team
    doc["channelData"] = doc["channelData"] | {
        "eventType": event_type,
        "team": {"id": team, "name": "IPS Leads", "aadGroupId": "group-aad-2"},
    }
    return doc


async def two_teams(bot: TeamsBot) -> None:
    """copbot in the second team (General only), then in the first (General and North)."""
    bot.fake.channels = {SECOND: ""}
    bot.fake.channel_members[SECOND] = [PRIYA | {"id": "29:1priya-teams-id"}]
    second = bot.activity("installed_in_team", id="f:install-second")
    second["conversation"]["id"] = SECOND
    second["channelData"]["team"] = {"id": SECOND, "name": "IPS Leads"}
    assert (await bot.send(second)).status == 200
    await bot.until(lambda: bot.fake.of("create"))
    bot.fake.channels = {TEAM: "", NORTH: "North"}
    await bot.install()
    on = in_channel(bot, NORTH, "1700000081000", "<at>copbot</at> archive on", ADMIN)
    assert (await bot.send(on)).status == 200
    await bot.until(lambda: bot.rows("select count(*) from channels where archive = 1") == [(1,)])
    said = in_channel(bot, NORTH, "1700000081001", f"<p>{WORD} job fair</p>", PRIYA)
    assert (await bot.send(said)).status == 200
    await bot.until(lambda: bot.rows("select count(*) from archive_messages") == [(1,)])


def settled(bot: TeamsBot) -> bool:
    return bot.rows("select count(*) from inbox where state = 'pending'") == [(0,)]


async def test_a_deleted_team_no_longer_hides_every_other_teams_words(teams: TeamsBot) -> None:
    await two_teams(teams)
    assert (await teams.send(team_event(teams, "f:deleted", "teamDeleted", SECOND))).status == 200
    await teams.until(lambda: settled(teams))
    del teams.fake.channel_members[SECOND]  # Teams no longer says who was in it

    said = await answer_in_chat(teams, "1700000081002", f"search {WORD}", PRIYA)
    assert "job fair" in said
    assert UNSURE not in said
    query = "select id, bot_member from channels where platform = 'teams' order by id"
    assert teams.rows(query) == [(TEAM, 1), (NORTH, 1), (SECOND, 0)]


async def test_a_restored_team_is_taken_back_in_without_a_second_hello(teams: TeamsBot) -> None:
    await two_teams(teams)
    assert (await teams.send(team_event(teams, "f:deleted", "teamDeleted", SECOND))).status == 200
    await teams.until(lambda: settled(teams))
    hellos = len(teams.fake.of("create"))
    teams.fake.channels = {SECOND: ""}
    restored = team_event(teams, "f:restored", "teamRestored", SECOND)
    assert (await teams.send(restored)).status == 200
    await teams.until(lambda: settled(teams))
    assert teams.rows("select bot_member from channels where id = ?", (SECOND,)) == [(1,)]
    assert len(teams.fake.of("create")) == hellos
