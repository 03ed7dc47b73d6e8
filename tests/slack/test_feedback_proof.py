"""Anonymous feedback through the real Slack wiring (HTTP and Socket Mode), proved from the
bytes: several people answer a round; afterwards the database file, its WAL and every log
line at DEBUG (slack_bolt and slack_sdk included) hold none of their ids or names, every
answer is there once, a second answer is refused and absent, and results show only at k."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, Ticket, summarise
from bot.feedback_messages import ANSWER, answer_form
from bot.model import ChannelRef, Origin, UserRef
from bot.services.feedback import FeedbackFeature
from bot.services.feedback_answers import ALREADY
from storage import sqlite
from tests.slack.conftest import ADMIN, SlackBot, Sleeps, fixture, settings
from tests.slack.fake_slack import FakeSlack
from tests.test_anonymity import stored_bytes

ANSWERERS = {"U1SAM": "Sam Okafor", "U2PRIYA": "Priya Shah", "U3NOOR": "Noor Hassan"}
_views = itertools.count(1)


def closed(round_: Round) -> Round:
    """The round as results read it once closed (closing it here would end the test's round)."""
    return dataclasses.replace(round_, state=RoundState.CLOSED)


def words(user: str) -> str:
    return f"what stayed with me, in words of {len(user)}{user[-2:].lower()} kind"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", ADMIN: "Alex Morgan", **ANSWERERS},
        channels={"C1NORTH": "north"},
    ).start()
    yield slack
    await slack.close()


async def open_round(bot: SlackBot) -> tuple[int, str]:
    """Alex (an admin) opens a round in #north; the round's id and the announcement's ts."""
    assert (await bot.command('feedback open "Workshop 3" min 3', user=ADMIN)).status == 200
    [post] = await bot.fake.until(lambda: bot.fake.of("chat.postMessage"))
    blocks = json.loads(post.args["blocks"]) if isinstance(post.args["blocks"], str) else []
    blocks = blocks or post.args["blocks"]
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == ANSWER
    return int(button["value"]), str(post.answer["ts"])


async def press(bot: SlackBot, user: str, round_id: int, ts: str) -> str:
    """Press "Answer anonymously" as ``user``; the trigger id it used."""
    payload = copy.deepcopy(fixture("block_actions"))
    trigger = f"trigger-{next(_views)}"
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}
    payload["trigger_id"] = trigger
    payload["container"] |= {"message_ts": ts, "thread_ts": None}
    payload["message"] |= {"ts": ts, "thread_ts": None}
    payload["actions"][0] |= {"action_id": ANSWER, "value": str(round_id)}
    assert (await bot.interact(payload)).status == 200
    return trigger


def submission(user: str, opened: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("view_submission"))
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}
    payload["trigger_id"] = f"trigger-{next(_views)}"
    view = payload["view"]
    view["id"] = view["root_view_id"] = f"V{next(_views)}"
    view["callback_id"] = opened["callback_id"]
    view["private_metadata"] = opened["private_metadata"]
    view["state"]["values"] = {
        "useful": {"useful": {"type": "radio_buttons", "selected_option": {"value": "4"}}},
        **{
            k: {k: {"type": "plain_text_input", "value": values[k]}}
            for k in ("impactful", "change", "else")
        },
    }
    return payload


def answers(user: str) -> dict[str, str]:
    return {"useful": "4", "impactful": words(user), "change": "more time", "else": ""}


async def form_opened(bot: SlackBot, trigger: str) -> dict[str, Any]:
    def opened() -> list[Any]:
        return [c for c in bot.fake.of("views.open") if c.args.get("trigger_id") == trigger]

    [call] = await bot.fake.until(opened)
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else dict(view)


async def answer(bot: SlackBot, user: str, round_id: int, ts: str) -> ClientResponse:
    view = await form_opened(bot, await press(bot, user, round_id, ts))
    return await bot.interact(submission(user, view, answers(user)))


def kept(bot: SlackBot) -> list[str]:
    conn = sqlite.connect(bot.db_path)
    try:
        return [r[0] for r in conn.execute("select answers from feedback_answers").fetchall()]
    finally:
        conn.close()


def private_answers(bot: SlackBot, user: str) -> list[str]:
    return [
        str(c.args.get("text", ""))
        for c in bot.fake.of("chat.postEphemeral")
        if c.args.get("user") == user
    ]


def copbots_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every line logged, but the fake Slack server's own access log (it is the platform,
    which knows who acted, and is not copbot's log)."""
    return "\n".join(
        r.getMessage()
        for r in caplog.records
        if not (r.name == "aiohttp.access" and " /api/" in r.getMessage())
    )


def assert_no_trace(bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
    stored = stored_bytes(bot.db_path)
    logged = copbots_log(caplog)
    assert any(r.name.startswith("adapters.slack") for r in caplog.records)  # logs were on
    for user, name in ANSWERERS.items():
        assert words(user).encode() in stored  # kept, so the scan means something
        for trace in (user, name, user.lower()):
            assert trace.encode() not in stored, trace
            assert trace not in logged, trace
        assert words(user) not in logged


async def test_slack_feedback_leaves_no_trace_of_who_answered(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    round_id, ts = await open_round(slack)
    repo = slack.core.feature(FeedbackFeature)._repo  # type: ignore[attr-defined]

    # Sam opens two forms before sending either: the second is refused in the modal.
    first = await form_opened(slack, await press(slack, "U1SAM", round_id, ts))
    second = await form_opened(slack, await press(slack, "U1SAM", round_id, ts))
    assert (await slack.interact(submission("U1SAM", first, answers("U1SAM")))).status == 200
    await slack.until(lambda: len(kept(slack)) == 1)
    again = await slack.interact(submission("U1SAM", second, answers("U1SAM") | {"change": "X"}))
    assert (await again.json())["errors"] == {"useful": ALREADY}

    assert (await answer(slack, "U2PRIYA", round_id, ts)).status == 200
    await slack.until(lambda: len(kept(slack)) == 2)
    round_ = await repo.get(round_id)
    assert not summarise(closed(round_), await repo.answers(round_id)).shown  # k - 1

    assert (await answer(slack, "U3NOOR", round_id, ts)).status == 200
    await slack.until(lambda: len(kept(slack)) == 3)
    round_ = await repo.get(round_id)
    assert summarise(closed(round_), await repo.answers(round_id)).shown  # k
    assert not summarise(round_, await repo.answers(round_id)).shown  # still open

    await press(slack, "U1SAM", round_id, ts)  # a third try, by the button
    await slack.fake.until(lambda: ALREADY in private_answers(slack, "U1SAM"))

    stored = kept(slack)
    assert sorted(json.loads(s)["impactful"] for s in stored) == sorted(
        words(u) for u in ANSWERERS
    )  # every answer once
    assert not [s for s in stored if json.loads(s)["change"] == "X"]  # the refused one is absent
    await slack.core.db.checkpoint()
    assert_no_trace(slack, caplog)


async def test_socket_mode_debug_logs_hold_no_answer_or_its_author(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The Socket Mode client logs every message it receives, whole, at DEBUG: an anonymous
    answer with its author's id beside it. copbot's filter keeps the type only."""
    caplog.set_level(logging.DEBUG)
    app = create_app(settings(db_path, fake, socket_mode=True))
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        await fake.until(lambda: fake.socket_connected)
        repo = bot.core.feature(FeedbackFeature)._repo  # type: ignore[attr-defined]
        key = b"k" * 32
        fresh = Round(0, "Workshop", DEFAULT_QUESTIONS, 3, RoundState.OPEN, bot.core.clock.now())
        round_ = await repo.open(fresh, key)
        form = answer_form(round_, Ticket.issue(key, round_.id, "slack:U2PRIYA"))
        north = ChannelRef("slack", "C1NORTH", "T1")
        await bot.adapter.open_form(Origin(UserRef("slack", "U2PRIYA"), north, handle="t-1"), form)
        view = await form_opened(bot, "t-1")
        payload = submission("U2PRIYA", view, answers("U2PRIYA"))
        envelope = {"envelope_id": "env-f", "type": "interactive", "payload": payload}
        await fake.send_envelope(envelope | {"accepts_response_payload": True})
        await fake.until(lambda: [a for a in fake.acks if a.get("envelope_id") == "env-f"])
        await bot.until(lambda: kept(bot))
    logged = copbots_log(caplog)
    assert "Socket Mode" in logged
    for trace in ("U2PRIYA", "priya", words("U2PRIYA")):
        assert trace not in logged, trace
