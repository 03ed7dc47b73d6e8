"""Teams channel names have spaces ("IPS North East"), which Slack's never do: a schedule
set up from another channel, or from the 1:1 chat, names such a channel in as many words
as it has."""

from __future__ import annotations

import json

import pytest

from tests.teams.conftest import ADMIN, TeamsBot
from tests.teams.test_contract import command
from tests.teams.test_private_channels import in_chat

EAST = "19:north-east@thread.tacv2"


@pytest.mark.parametrize(
    "words",
    [
        "any every tuesday at 10:00 in #IPS North East",
        "any in IPS North East every tuesday at 10:00",
    ],
)
async def test_a_schedule_names_a_channel_whose_name_has_spaces(
    teams: TeamsBot, words: str
) -> None:
    teams.fake.channels[EAST] = "IPS North East"
    await teams.install()
    sent = len(teams.fake.of("send"))
    said = command(teams, f"schedule prompt {words}", "1700000060000")
    assert (await teams.send(said)).status == 200
    [answer] = await teams.until(lambda: teams.fake.of("send")[sent:])
    text = json.dumps(answer.body, ensure_ascii=False)
    assert "IPS North East" in text and "isn't a channel" not in text, text
    assert "name one channel" not in text
    payloads = teams.rows("select payload from recurrences")
    assert len(payloads) == 1 and EAST in payloads[0][0]


async def test_the_one_to_one_chat_names_it_too(teams: TeamsBot) -> None:
    teams.fake.channels[EAST] = "IPS North East"
    await teams.install()
    words = "schedule prompt any every monday at 9:30 in IPS North East"
    said = in_chat(teams, "1700000060001", words, ADMIN)
    assert (await teams.send(said)).status == 200
    await teams.until(lambda: teams.rows("select count(*) from recurrences") == [(1,)])
