"""Anonymous feedback through the real Teams wiring (botbuilder's CloudAdapter, dialogs),
proved from the bytes: several people answer a round through dialogs; afterwards the
database file, its WAL and every log line at DEBUG (botbuilder and msrest included) hold
none of their aad ids, Teams ids or names; every answer is there once; a second answer is
refused and absent; results are hidden at k - 1 and shown at k."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from typing import Any

import pytest

from bot.feedback import Round, RoundState, summarise
from bot.feedback_messages import ANSWER, ANSWER_FORM
from bot.services.feedback import FeedbackFeature
from bot.services.feedback_answers import ALREADY
from storage import sqlite
from tests.teams.conftest import ADMIN, TeamsBot
from tests.teams.fake_connector import NORTH, TENANT
from tests.test_anonymity import stored_bytes

# None of them installed copbot or talked to it: copbot has no reference for any of them.
ANSWERERS = {
    "aad-priya-0002": ("29:1priya-teams-id", "Priya Shah"),
    "aad-noor-0003": ("29:1noor-teams-id", "Noor Hassan"),
    "aad-kofi-0004": ("29:1kofi-teams-id", "Kofi Mensah"),
}
_ids = itertools.count(1)


def closed(round_: Round) -> Round:
    """The round as results read it once closed (closing it here would end the test's round)."""
    return dataclasses.replace(round_, state=RoundState.CLOSED)


def words(aad: str) -> str:
    return f"what stayed with me, in words of {aad[4:8]} kind"


def answers(aad: str) -> dict[str, str]:
    return {"useful": "4", "impactful": words(aad), "change": "more time", "else": ""}


def account(aad: str) -> dict[str, str]:
    teams_id, name = ANSWERERS[aad]
    return {"id": teams_id, "name": name, "aadObjectId": aad}


def in_thread(bot: TeamsBot, name: str, root: str, who: dict[str, str], value: Any) -> Any:
    return bot.activity(
        name,
        id=f"f:{next(_ids)}",
        replyToId=root,
        value=value,
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={root}",
        },
        **{"from": who},
    )


async def open_round(bot: TeamsBot) -> tuple[int, str]:
    """Alex (an admin) opens a round in North; the round's id and the announcement's id."""
    await bot.install()
    command = bot.activity(
        "channel_command",
        id="1700000009000",
        text='<at>copbot</at> feedback open "Workshop 3" min 3',
        **{"from": ADMIN},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid=1700000009000",
        },
    )
    assert (await bot.send(command)).status == 200

    def announced() -> list[Any]:
        return [c for c in bot.fake.of("create") if "Workshop 3" in json.dumps(c.body)]

    [post] = await bot.until(announced)
    card = post.body["activity"]["attachments"][0]["content"]
    [button] = [a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    assert button["data"]["action"] == ANSWER
    assert button["data"]["msteams"] == {"type": "task/fetch"}
    return int(button["data"]["value"]), post.activity_id


async def press(bot: TeamsBot, aad: str, round_id: int, root: str) -> dict[str, Any]:
    """Press "Answer anonymously" as ``aad``: Teams' answer to the task/fetch."""
    data = {"msteams": {"type": "task/fetch"}, "copbot": "action", "action": ANSWER}
    value = {"type": "task/fetch", "data": data | {"value": str(round_id)}, "context": {}}
    response = await bot.send(in_thread(bot, "task_fetch", root, account(aad), value))
    assert response.status == 200
    return dict(await response.json())


def form_data(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["task"]["type"] == "continue", answer
    card = answer["task"]["value"]["card"]["content"]
    data = dict(card["actions"][0]["data"])
    assert data["form"] == ANSWER_FORM and data["anonymous"] is True
    return data


async def submit(
    bot: TeamsBot, aad: str, root: str, data: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    inputs = {f"f.{k}": v for k, v in values.items()}
    value = {"type": "task/submit", "data": data | inputs, "context": {}}
    response = await bot.send(in_thread(bot, "task_submit", root, account(aad), value))
    assert response.status == 200
    return dict(await response.json())


def kept(bot: TeamsBot) -> list[str]:
    conn = sqlite.connect(bot.db_path)
    try:
        return [r[0] for r in conn.execute("select answers from feedback_answers").fetchall()]
    finally:
        conn.close()


def copbots_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every line logged, but the fake connector's own access log (it is the platform)."""
    return "\n".join(
        r.getMessage()
        for r in caplog.records
        if not (r.name == "aiohttp.access" and " /v3/" in r.getMessage())
    )


async def test_teams_feedback_through_dialogs_leaves_no_trace_of_who_answered(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    round_id, root = await open_round(teams)
    repo = teams.core.feature(FeedbackFeature).repository
    priya, noor, kofi = ANSWERERS

    # Priya opens two dialogs before sending either: the second is refused in its dialog.
    first = form_data(await press(teams, priya, round_id, root))
    second = form_data(await press(teams, priya, round_id, root))
    thanked = await submit(teams, priya, root, first, answers(priya))
    assert thanked["task"]["type"] == "message"
    await teams.until(lambda: len(kept(teams)) == 1)
    refused = await submit(teams, priya, root, second, answers(priya) | {"change": "X"})
    body = refused["task"]["value"]["card"]["content"]["body"]
    [useful] = [i for i, b in enumerate(body) if b.get("id") == "f.useful"]
    assert body[useful + 1]["text"] == ALREADY and body[useful + 1]["color"] == "Attention"

    assert (await submit(teams, noor, root, form_data(await press(teams, noor, round_id, root)), answers(noor)))["task"]["type"] == "message"  # fmt: skip
    await teams.until(lambda: len(kept(teams)) == 2)
    round_ = await repo.get(round_id)
    assert round_ is not None
    assert not summarise(closed(round_), await repo.answers(round_id)).shown  # k - 1

    data = form_data(await press(teams, kofi, round_id, root))
    assert (await submit(teams, kofi, root, data, answers(kofi)))["task"]["type"] == "message"
    await teams.until(lambda: len(kept(teams)) == 3)
    round_ = await repo.get(round_id)
    assert round_ is not None
    assert summarise(closed(round_), await repo.answers(round_id)).shown  # k
    assert not summarise(round_, await repo.answers(round_id)).shown  # still open

    # A third try, by the button: told so in place of a dialog.
    assert (await press(teams, priya, round_id, root))["task"] == {
        "type": "message",
        "value": ALREADY,
    }

    stored_answers = kept(teams)
    assert sorted(json.loads(s)["impactful"] for s in stored_answers) == sorted(
        words(a) for a in ANSWERERS
    )  # every answer once
    assert not [s for s in stored_answers if json.loads(s)["change"] == "X"]  # refused: absent
    # Only Alex heard from copbot in a chat (the round is open); no answerer was reached there.
    assert [c.conversation for c in teams.fake.of("send")] == [f"a:1dm-{ADMIN['id']}"]

    await teams.core.db.checkpoint()
    stored = stored_bytes(teams.db_path)
    logged = copbots_log(caplog)
    # The SDK's DEBUG logging was on (botbuilder's connector logs through msrest).
    assert any(r.name.startswith("msrest") and r.levelno == logging.DEBUG for r in caplog.records)
    for aad, (teams_id, name) in ANSWERERS.items():
        assert words(aad).encode() in stored  # kept, so the scan means something
        for trace in (aad, teams_id, name):
            assert trace.encode() not in stored, trace
            assert trace not in logged, trace
        assert words(aad) not in logged


async def test_a_press_in_a_personal_chat_leaves_no_trace_of_the_chat(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A round's button pressed in someone's 1:1 chat (as an event's feedback message is
    sent): the inbox, which remembers handled deliveries for days, must not name the chat,
    which copbot's other tables would tie to the person; nor must the log, which says when
    Teams sent the press again."""
    caplog.set_level(logging.DEBUG)
    round_id, _ = await open_round(teams)
    before = teams.inbox_count()
    priya = "aad-priya-0002"
    chat = "a:1priya-personal-chat-4f1e"
    personal = {"conversationType": "personal", "tenantId": TENANT, "id": chat}
    data = {"msteams": {"type": "task/fetch"}, "copbot": "action", "action": ANSWER}
    fetch = {"type": "task/fetch", "data": data | {"value": str(round_id)}, "context": {}}
    pressed = teams.activity(
        "task_fetch", id="f:chat-press-1", value=fetch, conversation=personal,
        **{"from": account(priya)},
    )  # fmt: skip
    opened = await teams.send(pressed)
    assert opened.status == 200
    form = form_data(dict(await opened.json()))
    inputs = {f"f.{k}": v for k, v in answers(priya).items()}
    submitted = teams.activity(
        "task_submit", id="f:chat-submit-1", conversation=personal, **{"from": account(priya)},
        value={"type": "task/submit", "data": form | inputs, "context": {}},
    )  # fmt: skip
    sent = await teams.send(submitted)
    assert (await sent.json())["task"]["type"] == "message"
    await teams.until(lambda: len(kept(teams)) == 1)
    # Teams sending the press again is still recognised while copbot runs.
    assert (await teams.send(pressed)).status == 200
    assert teams.inbox_count() == before + 2  # the press and the answer, each once

    await teams.core.db.checkpoint()
    stored = stored_bytes(teams.db_path)
    assert words(priya).encode() in stored  # kept, so the scan means something
    logged = copbots_log(caplog)
    for trace in (chat, "chat-press-1", priya, "Priya"):
        assert trace.encode() not in stored, trace
        assert trace not in logged, trace
