"""The reference to a person's 1:1 chat, which private answers need on Teams: `optout`
leaves it (its own answer goes there), and after `copbot erase` the person's next message
brings it back."""

from __future__ import annotations

import json
import logging

import pytest

from tests.teams.conftest import ADMIN, ADMIN_AAD, TeamsBot
from tests.teams.test_contract import command

CHAT = f"a:1dm-{ADMIN['id']}"
REFERENCE = "select count(*) from teams_conversations where person = ?"


def said_in_chat(bot: TeamsBot) -> list[str]:
    return [json.dumps(c.body) for c in bot.fake.of("send") if c.conversation == CHAT]


async def test_opting_out_is_answered_in_the_chat_and_keeps_the_way_there(
    teams: TeamsBot,
) -> None:
    await teams.install()
    assert (await teams.send(command(teams, "optout", "1700000098000"))).status == 200
    await teams.until(lambda: any("won't keep what you write" in s for s in said_in_chat(teams)))
    assert teams.rows(REFERENCE, (f"teams:{ADMIN_AAD}",)) == [(1,)]


async def test_after_erasure_the_persons_next_message_brings_their_chat_back(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    await teams.install()
    assert (await teams.send(command(teams, "whoami", "1700000098100"))).status == 200
    await teams.until(lambda: said_in_chat(teams))
    await teams.core.erasure.erase(f"teams:{ADMIN_AAD}")
    assert teams.rows(REFERENCE, (f"teams:{ADMIN_AAD}",)) == [(0,)]

    # The first command after erasure finds no way to their chat (nothing of them is kept)...
    with caplog.at_level(logging.ERROR, logger="bot.router"):
        assert (await teams.send(command(teams, "whoami", "1700000098101"))).status == 200
        await teams.until(lambda: "could not answer a CommandReceived" in caplog.text)
    # ... and the next one, which copbot keeps a reference for again, is answered.
    before = len(said_in_chat(teams))
    assert (await teams.send(command(teams, "whoami", "1700000098102"))).status == 200
    await teams.until(lambda: len(said_in_chat(teams)) > before)
    assert teams.rows(REFERENCE, (f"teams:{ADMIN_AAD}",)) == [(1,)]
