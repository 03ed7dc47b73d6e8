"""Anonymous replies through the real Teams wiring (botbuilder's CloudAdapter, dialogs),
proved from the bytes: several people reply anonymously under a prompt and answer a
feedback round; afterwards the database file, its WAL and every log line at DEBUG
(botbuilder and msrest included) hold none of their aad ids, Teams ids or names; every
reply is posted once as "Anonymous participant" and archived once, flagged anonymous with
no author; a second feedback answer is refused and absent."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams import TeamsAdapter
from bot.app import CORE, create_app
from bot.clock import SystemClock
from bot.services.anonymous_replies import ALTERED, AUTHOR, POST_JOB, REPLY, REPLY_FORM
from bot.services.feedback_answers import ALREADY
from bot.settings import Settings, TeamsSettings
from bot.signing import Signing
from storage.conversations import SqliteConversationRepository
from tests.teams.conftest import ADMIN, ADMIN_AAD, LateStore, Sleeps, TeamsBot
from tests.teams.fake_connector import NORTH, TENANT, FakeConnector
from tests.teams.test_feedback_proof import (
    ANSWERERS,
    account,
    answers,
    copbots_log,
    form_data,
    in_thread,
    kept,
    open_round,
    press,
    submit,
)
from tests.test_anonymity import stored_bytes


def words(aad: str) -> str:
    return f"what I could not say aloud, from voice {aad[4:8]}"


@pytest.fixture
async def quick(db_path: Path, fake: FakeConnector) -> AsyncIterator[TeamsBot]:
    """copbot on Teams posting anonymous replies at once (the delay has its own tests)."""
    teams = TeamsSettings(tenants=frozenset({TENANT}))
    settings = Settings(
        db_path=db_path,
        playground=False,
        admins=frozenset({f"teams:{ADMIN_AAD}"}),
        teams=teams,
        public_url="http://copbot.test",
        anonymous_delay=timedelta(0),
    )
    store = LateStore()
    sleeps = Sleeps()
    adapter = TeamsAdapter(
        teams,
        store,  # type: ignore[arg-type]
        SystemClock(),
        sealer=Signing(b"k" * 32, SystemClock()).signer("teams-form"),
        sleep=sleeps,
        metadata_url=fake.metadata_url,
    )
    app = create_app(settings, adapters=[adapter])
    store.target = SqliteConversationRepository(app[CORE].db, SystemClock())
    async with TestClient(TestServer(app)) as client:
        yield TeamsBot(client, fake, db_path, sleeps)


async def post_prompt(bot: TeamsBot) -> str:
    """Alex posts a prompt in North; its root activity id."""
    command = bot.activity(
        "channel_command",
        id="1700000001000",
        text="<at>copbot</at> prompt language",
        **{"from": ADMIN},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid=1700000001000",
        },
    )
    assert (await bot.send(command)).status == 200

    def prompts() -> list[Any]:
        return [c for c in bot.fake.of("create") if REPLY in json.dumps(c.body)]

    [post] = await bot.until(prompts)
    return post.activity_id


async def press_reply(bot: TeamsBot, aad: str, root: str) -> dict[str, Any]:
    data = {"msteams": {"type": "task/fetch"}, "copbot": "action", "action": REPLY}
    value = {"type": "task/fetch", "data": data | {"value": ""}, "context": {}}
    response = await bot.send(in_thread(bot, "task_fetch", root, account(aad), value))
    assert response.status == 200
    answer = await response.json()
    assert answer["task"]["type"] == "continue", answer
    submit_data = dict(answer["task"]["value"]["card"]["content"]["actions"][0]["data"])
    assert submit_data["form"] == REPLY_FORM and submit_data["anonymous"] is True
    return submit_data


def posted_replies(bot: TeamsBot, root: str) -> list[dict[str, Any]]:
    return [
        c.body
        for c in bot.fake.of("send")
        if c.conversation == f"{NORTH};messageid={root}" and AUTHOR in json.dumps(c.body)
    ]


def archived(bot: TeamsBot) -> list[tuple[Any, ...]]:
    return bot.rows(
        "select author_id, author_name, anonymous, text from archive_messages where anonymous"
    )


async def test_teams_anonymous_replies_and_feedback_leave_no_trace_of_who_wrote(
    quick: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = quick
    await bot.install()
    root = await post_prompt(bot)
    for aad in ANSWERERS:
        data = await press_reply(bot, aad, root)
        thanked = await submit(bot, aad, root, data, {"text": words(aad)})
        assert thanked["task"]["type"] == "message" and AUTHOR in thanked["task"]["value"]
    await bot.until(lambda: len(archived(bot)) == len(ANSWERERS))

    replies = posted_replies(bot, root)
    for aad in ANSWERERS:
        assert sum(words(aad) in json.dumps(r) for r in replies) == 1, aad
    assert sorted(archived(bot)) == sorted((None, AUTHOR, 1, words(a)) for a in ANSWERERS)

    # The same people answer a feedback round; Priya's second answer is refused and absent.
    round_id, announced = await open_round(bot)
    first = next(iter(ANSWERERS))
    second = form_data(await press(bot, first, round_id, announced))
    for aad in ANSWERERS:
        data = form_data(await press(bot, aad, round_id, announced))
        done = await submit(bot, aad, announced, data, answers(aad))
        assert done["task"]["type"] == "message"
    await bot.until(lambda: len(kept(bot)) == len(ANSWERERS))
    refused = await submit(bot, first, announced, second, answers(first) | {"change": "twice"})
    assert ALREADY in json.dumps(refused)
    assert not [s for s in kept(bot) if json.loads(s)["change"] == "twice"]
    assert len(kept(bot)) == len(ANSWERERS)

    await bot.core.db.checkpoint()
    stored = stored_bytes(bot.db_path)
    logged = copbots_log(caplog)
    assert any(r.name.startswith("msrest") and r.levelno == logging.DEBUG for r in caplog.records)
    for aad, (teams_id, name) in ANSWERERS.items():
        assert words(aad).encode() in stored  # archived, so the scan means something
        for trace in (aad, teams_id, name):
            assert trace.encode() not in stored, trace
            assert trace not in logged, trace
        assert words(aad) not in logged


async def test_a_teams_submission_pointing_at_an_altered_thread_is_refused_and_kept_nowhere(
    quick: TeamsBot,
) -> None:
    """Through a dialog's task/submit and through a card's Action.Submit alike."""
    bot = quick
    await bot.install()
    root = await post_prompt(bot)
    aad = next(iter(ANSWERERS))
    data = await press_reply(bot, aad, root)
    value, issued, signature = data["context"].split(".")
    other = json.dumps(["teams", TENANT, NORTH, "1699999999999"], separators=(",", ":"))
    forgeries = [other, f"{value[:-2]}AA.{issued}.{signature}", ""]
    for forged in forgeries:
        refused = await submit(bot, aad, root, data | {"context": forged}, {"text": "forged"})
        assert ALTERED in json.dumps(refused, ensure_ascii=False), forged

    sends = len(bot.fake.of("send"))
    card = bot.activity(
        "form_submit_anonymous",
        id="1700000000777",
        value=data | {"context": forgeries[1], "f.text": "forged"},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={root}",
        },
        **{"from": account(aad)},
    )
    assert (await bot.send(card)).status == 200
    await bot.until(lambda: len(bot.fake.of("send")) > sends)
    assert ALTERED in json.dumps(bot.fake.of("send")[-1].body, ensure_ascii=False)

    assert bot.rows("select count(*) from jobs where kind = ?", (POST_JOB,)) == [(0,)]
    assert not posted_replies(bot, root) and archived(bot) == []
    await bot.core.db.checkpoint()
    assert b"forged" not in stored_bytes(bot.db_path)


async def test_a_dialog_sent_twice_posts_its_anonymous_reply_once(quick: TeamsBot) -> None:
    """A double click on Send, or Teams sending the dialog again under a new activity id:
    one reply, as on Slack (one view) and in the playground (one form)."""
    bot = quick
    await bot.install()
    root = await post_prompt(bot)
    aad, other = list(ANSWERERS)[:2]
    data = await press_reply(bot, aad, root)
    for _ in range(2):
        thanked = await submit(bot, aad, root, data, {"text": words(aad)})
        assert thanked["task"]["type"] == "message"
    assert bot.rows("select count(*) from inbox where kind = 'FormSubmitted'") == [(1,)]
    # Someone else's reply after it, so that anything the second send queued came first.
    later = await press_reply(bot, other, root)
    await submit(bot, other, root, later, {"text": words(other)})
    await bot.until(lambda: any(words(other) in json.dumps(r) for r in posted_replies(bot, root)))
    assert sum(words(aad) in json.dumps(r) for r in posted_replies(bot, root)) == 1
    assert [row[3] for row in archived(bot)].count(words(aad)) == 1
