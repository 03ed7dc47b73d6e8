"""Every verb works on Teams: an admin writes ``@copbot <verb> ...`` in a channel, through
botbuilder's CloudAdapter against the fake connector, and gets a real answer (never the
apology for a broken handler), with nothing logged as a warning or an error."""

from __future__ import annotations

import json
import logging

import pytest

from bot.router import SORRY
from tests.teams.conftest import TeamsBot
from tests.teams.test_contract import command

# Each verb with harmless arguments: ids that name nothing get a worded answer.
VERBS = {
    "anonymous off": "",
    "anonymous on": "",
    "archive": "",
    "archive off": "",
    "archive on": "",
    "console": "",
    "event cancel": "99",
    "event edit": "99",
    "event new": "",
    "events": "north",
    "export": "jsonl",
    "feedback": "",
    "feedback close": "99",
    "feedback min": "99 5",
    "feedback open": '"How was the session?" min 3',
    "feedback results": "99",
    "help": "search",
    "optin": "",
    "optout": "",
    "prompt": "language",
    "prompt add": "",
    "prompt preview": "discomfort-noticing",
    "prompt remove": "99",
    "prompt suggestions": "",
    "prompts": "language",
    "region link": "north",
    "region unlink": "north",
    "remove": "https://teams.microsoft.com/l/message/19:nothing/1",
    "regions": "",
    "role grant": "facilitator teams:aad-sam-0001",
    "role list": "",
    "role revoke": "facilitator teams:aad-sam-0001",
    "schedule cancel": "99",
    "schedule list": "",
    "schedule pause": "99",
    "schedule prompt": "any every tuesday at 10:00",
    "schedule resume": "99",
    "search": "privilege",
    "whoami": "",
}


async def test_the_list_here_is_every_verb_copbot_has(teams: TeamsBot) -> None:
    assert sorted(VERBS) == sorted(verb.name for verb in teams.core.registry.commands)


@pytest.mark.parametrize("verb", sorted(VERBS))
async def test_an_admin_gets_an_answer_to_every_verb_on_teams(
    teams: TeamsBot, verb: str, caplog: pytest.LogCaptureFixture
) -> None:
    await teams.install()
    before = len(teams.fake.calls)
    text = f"{verb} {VERBS[verb]}".strip()
    with caplog.at_level(logging.INFO):
        assert (await teams.send(command(teams, text, "1700000099000"))).status == 200
        await teams.until(lambda: _answered(teams, before))
        # Commands in one channel are handled one after another: once a later `whoami` is
        # answered, the verb's handler has finished. (Sent after the first answer: `optout`
        # drops the person's commands still waiting.)
        assert (await teams.send(command(teams, "whoami", "1700000099001"))).status == 200
        wanted = 2 if verb == "whoami" else 1
        await teams.until(lambda: len(_whoami_answers(teams, before)) >= wanted)
    last = _whoami_answers(teams, before)[-1]
    answers = [
        json.dumps(c.body)
        for c in teams.fake.calls[before:last]
        if c.method in ("create", "send") and c.status < 300
    ]
    assert answers, f"no answer to {text!r}"
    assert not any(SORRY[:40] in a for a in answers), f"{text!r} got the apology"
    worrying = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING and "WITHOUT AUTHENTICATION" not in r.getMessage()
    ]
    assert worrying == []


def _whoami_answers(teams: TeamsBot, since: int) -> list[int]:
    return [
        n
        for n, c in enumerate(teams.fake.calls)
        if n >= since and c.method == "send" and "your role is" in json.dumps(c.body)
    ]


def _answered(teams: TeamsBot, since: int) -> bool:
    return any(c.method in ("create", "send") for c in teams.fake.calls[since:])
