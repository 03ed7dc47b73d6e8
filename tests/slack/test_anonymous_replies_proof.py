"""Anonymous replies through the real Slack wiring (slack-bolt, the fake Web API), proved
from the bytes: several people reply anonymously under a prompt and answer a feedback
round; afterwards the database file, its WAL and every log line at DEBUG (slack_bolt and
slack_sdk included) hold none of their ids or names; every reply is posted once as
"Anonymous participant" and archived once, flagged anonymous with no author; a second
feedback answer is refused and absent."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SlackAdapter
from adapters.slack.pacing import Pacer
from bot.app import create_app
from bot.clock import SystemClock
from bot.feedback_messages import ANSWER
from bot.services.anonymous_replies import ALTERED, AUTHOR, POST_JOB, REPLY, REPLY_FORM
from bot.services.feedback_answers import ALREADY
from storage import sqlite
from tests.slack.conftest import ADMIN, SlackBot, Sleeps, fixture, settings
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_feedback_proof import (
    ANSWERERS,
    answer,
    answers,
    copbots_log,
    form_opened,
    kept,
    submission,
)
from tests.slack.test_feedback_proof import (
    press as press_answer,
)
from tests.test_anonymity import stored_bytes

_ids = itertools.count(1)


def words(user: str) -> str:
    return f"what I could not say aloud, from voice {user[-3:].lower()}{len(user)}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", ADMIN: "Alex Morgan", **ANSWERERS},
        channels={"C1NORTH": "north"},
    ).start()
    yield slack
    await slack.close()


@pytest.fixture
async def quick(db_path: Path, fake: FakeSlack) -> AsyncIterator[SlackBot]:
    """copbot on Slack posting anonymous replies at once (the delay has its own tests)."""
    config = dataclasses.replace(settings(db_path, fake), anonymous_delay=timedelta(0))
    assert config.slack is not None
    adapter = SlackAdapter(config.slack, SystemClock(), pacer=Pacer(sleep=Sleeps()))
    app = create_app(config, adapters=[adapter])
    async with TestClient(TestServer(app)) as client:
        yield SlackBot(client, fake, db_path, Sleeps())


async def post_prompt(bot: SlackBot) -> str:
    """Alex posts a prompt in #north; its ts."""
    assert (await bot.command("prompt language", user=ADMIN)).status == 200

    def prompts() -> list[Any]:
        return [c for c in bot.fake.of("chat.postMessage") if REPLY in json.dumps(c.args)]

    [post] = await bot.fake.until(prompts)
    return str(post.answer["ts"])


async def press_reply(bot: SlackBot, user: str, ts: str) -> dict[str, Any]:
    """Press "Reply anonymously" under the prompt as ``user``; the modal it opened."""
    payload = copy.deepcopy(fixture("block_actions"))
    trigger = f"reply-trigger-{next(_ids)}"
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}
    payload["trigger_id"] = trigger
    payload["container"] |= {"message_ts": ts, "thread_ts": None}
    payload["message"] |= {"ts": ts, "thread_ts": None}
    payload["actions"][0] |= {"action_id": REPLY, "value": ""}
    assert (await bot.interact(payload)).status == 200
    view = await form_opened(bot, trigger)
    assert view["callback_id"] == REPLY_FORM
    return view


async def open_round(bot: SlackBot) -> tuple[int, str]:
    """Alex opens a round in #north; the round's id and the announcement's ts."""
    assert (await bot.command('feedback open "Workshop 3" min 3', user=ADMIN)).status == 200

    def announced() -> list[Any]:
        return [c for c in bot.fake.of("chat.postMessage") if ANSWER in json.dumps(c.args)]

    [post] = await bot.fake.until(announced)
    blocks = post.args["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return int(button["value"]), str(post.answer["ts"])


def reply_submission(user: str, view: dict[str, Any], text: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("view_submission"))
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}
    payload["trigger_id"] = f"reply-trigger-{next(_ids)}"
    payload["view"] |= {
        "id": f"VREPLY{next(_ids)}",
        "callback_id": view["callback_id"],
        "private_metadata": view["private_metadata"],
        "state": {"values": {"text": {"text": {"type": "plain_text_input", "value": text}}}},
    }
    return payload


def posted_replies(bot: SlackBot, ts: str) -> list[dict[str, Any]]:
    return [
        c.args
        for c in bot.fake.of("chat.postMessage")
        if c.args.get("thread_ts") == ts and AUTHOR in json.dumps(c.args)
    ]


def archived(bot: SlackBot) -> list[tuple[Any, ...]]:
    conn = sqlite.connect(bot.db_path)
    try:
        sql = "select author_id, author_name, anonymous, text from archive_messages"
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


async def test_slack_anonymous_replies_and_feedback_leave_no_trace_of_who_wrote(
    quick: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = quick
    ts = await post_prompt(bot)
    for user in ANSWERERS:
        view = await press_reply(bot, user, ts)
        response = await bot.interact(reply_submission(user, view, words(user)))
        assert response.status == 200
    await bot.fake.until(lambda: len(posted_replies(bot, ts)) == len(ANSWERERS))

    # Each posted once, in the prompt's thread, as "Anonymous participant".
    replies = posted_replies(bot, ts)
    for user in ANSWERERS:
        assert sum(words(user) in json.dumps(r) for r in replies) == 1, user
    await bot.until(lambda: len([r for r in archived(bot) if r[2]]) == len(ANSWERERS))
    rows = [r for r in archived(bot) if r[2]]
    assert sorted(rows) == sorted((None, AUTHOR, 1, words(u)) for u in ANSWERERS)

    # The same people answer a feedback round; Sam's second answer is refused and absent.
    round_id, announced = await open_round(bot)
    refused_by = next(iter(ANSWERERS))
    second = await form_opened(bot, await press_answer(bot, refused_by, round_id, announced))
    for user in ANSWERERS:
        assert (await answer(bot, user, round_id, announced)).status == 200
    await bot.until(lambda: len(kept(bot)) == len(ANSWERERS))
    again = await bot.interact(
        submission(refused_by, second, answers(refused_by) | {"change": "twice over"})
    )
    assert (await again.json())["errors"] == {"useful": ALREADY}
    assert not [s for s in kept(bot) if json.loads(s)["change"] == "twice over"]
    assert len(kept(bot)) == len(ANSWERERS)

    await bot.core.db.checkpoint()
    stored = stored_bytes(bot.db_path)
    logged = copbots_log(caplog)
    assert any(r.name == "adapters.slack.bolt" for r in caplog.records)  # SDK logs were on
    for user, name in ANSWERERS.items():
        assert words(user).encode() in stored  # archived, so the scan means something
        for trace in (user, name, user.lower()):
            assert trace.encode() not in stored, trace
            assert trace not in logged, trace
        assert words(user) not in logged


def jobs(bot: SlackBot) -> int:
    conn = sqlite.connect(bot.db_path)
    try:
        return int(
            conn.execute("select count(*) from jobs where kind = ?", [POST_JOB]).fetchall()[0][0]
        )
    finally:
        conn.close()


async def test_a_slack_submission_pointing_at_an_altered_thread_is_refused_and_kept_nowhere(
    quick: SlackBot,
) -> None:
    bot = quick
    ts = await post_prompt(bot)
    view = await press_reply(bot, "U1SAM", ts)
    metadata = json.loads(view["private_metadata"])
    genuine = metadata["context"]
    value, issued, signature = genuine.split(".")
    other_thread = json.dumps(
        ["slack", "T1", "C1NORTH", "1699999999.000100"], separators=(",", ":")
    )
    forgeries = [
        other_thread,  # a thread named plainly, unsigned
        f"{value[:-2]}AA.{issued}.{signature}",  # the thread altered under its signature
        "",
    ]
    for forged in forgeries:
        altered = view | {"private_metadata": json.dumps(metadata | {"context": forged})}
        response = await bot.interact(reply_submission("U1SAM", altered, "forged words"))
        assert response.status == 200
        assert (await response.json())["errors"] == {"text": ALTERED}, forged
    assert jobs(bot) == 0
    assert not posted_replies(bot, ts) and not [r for r in archived(bot) if r[2]]
    assert b"forged words" not in stored_bytes(bot.db_path)
