"""The product owner's scenario: `copbot serve` as a subprocess with Slack configured only
through the environment, signed requests in, `copbot export` out.

1. serve with SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL (a fake Slack) and
   COPBOT_ADMINS=slack:UADMIN;
2. a signed `/cop prompt` from UADMIN in C1: 200 within 3 s, then chat.postMessage to C1;
3. replies in that prompt's thread from three people: one delivered twice (Slack's retry,
   same event_id), one edited, one deleted;
4. the export lists the surviving replies once each, edited text included, and neither the
   deleted reply nor a top-level message outside the thread;
5. requests that fail authentication leave no trace in it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.slack import signing
from tests.slack.conftest import fixture
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.support.server import copbot_command, free_port, keep_log

pytestmark = pytest.mark.subprocess

C1 = "C1"


def message(event_id: str, user: str, text: str, ts: str, thread_ts: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": C1,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return _envelope(event_id, event)


def _envelope(event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "XXYYZZ",
        "team_id": "T1",
        "api_app_id": "A0COPBOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
    }


class Copbot:
    def __init__(
        self, url: str, process: asyncio.subprocess.Process, session: aiohttp.ClientSession
    ) -> None:
        self.url = url
        self.process = process
        self.session = session

    async def post(self, body: str, headers: dict[str, str]) -> tuple[int, float]:
        start = time.perf_counter()
        async with self.session.post(f"{self.url}/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r.status, time.perf_counter() - start

    async def event(self, envelope: dict[str, Any], retry: int | None = None) -> int:
        body, kind = signing.event_body(envelope)
        status, _ = await self.post(body, signing.headers(SIGNING_SECRET, body, kind, retry=retry))
        return status


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack(
        users={"UBOT": "copbot", "UADMIN": "Alex Morgan", "U1": "Ade", "U2": "Bea", "U3": "Cal"},
        channels={C1: "ips-north"},
    ).start()
    yield slack
    await slack.close()


@pytest.fixture
async def copbot(fake: FakeSlack, db_path: Path) -> AsyncIterator[Copbot]:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake.api_url,
        "COPBOT_ADMINS": "slack:UADMIN",
        # Where people reach copbot, for the links it sends them (calendars, exports).
        "COPBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    process = await asyncio.create_subprocess_exec(
        *copbot_command(), "serve", "--port", str(port), "--db", str(db_path),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(30):
                while True:
                    if process.returncode is not None:
                        output = await process.stdout.read()  # type: ignore[union-attr]
                        raise AssertionError(f"copbot serve stopped:\n{output.decode()}")
                    try:
                        async with session.get(f"{url}/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
            yield Copbot(url, process, session)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 15)
            output = (await process.stdout.read()).decode()  # type: ignore[union-attr]
            keep_log("slack-end-to-end", output)
            assert "Traceback" not in output, output


async def export(db_path: Path) -> list[dict[str, Any]]:
    done = await asyncio.create_subprocess_exec(
        *copbot_command(), "export", "--db", str(db_path), "--format", "jsonl",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_the_slack_scenario_end_to_end(
    copbot: Copbot, fake: FakeSlack, db_path: Path
) -> None:
    # 2. /cop prompt from the admin in C1: acknowledged within 3 s, then posted to C1
    fields = fixture("slash_command") | {
        "text": "prompt",
        "user_id": "UADMIN",
        "user_name": "alex",
        "channel_id": C1,
        "channel_name": "ips-north",
        "trigger_id": "trigger-e2e-1",
        "response_url": f"{fake.api_url}unused-response-url",
    }
    body, kind = signing.command_body(fields)
    status, took = await copbot.post(body, signing.headers(SIGNING_SECRET, body, kind))
    assert status == 200
    assert took < 3.0
    [post] = await fake.until(lambda: fake.of("chat.postMessage"))
    assert post.args["channel"] == C1
    root = post.answer["ts"]

    # 5. requests that fail authentication, each carrying a reply that must leave no trace
    forged_body, forged_kind = signing.event_body(
        message("EvF1", "U3", "FORGED no signature", "1800000001.000001", root)
    )
    assert (await copbot.post(forged_body, {"Content-Type": forged_kind}))[0] == 401
    forged_body, forged_kind = signing.event_body(
        message("EvF2", "U3", "FORGED wrong secret", "1800000002.000001", root)
    )
    assert (
        await copbot.post(forged_body, signing.headers("not-the-secret", forged_body, forged_kind))
    )[0] == 401
    good_body, good_kind = signing.event_body(
        message("EvF3", "U3", "original words", "1800000003.000001", root)
    )
    tampered = good_body.replace("original words", "FORGED tampered body")
    assert (await copbot.post(tampered, signing.headers(SIGNING_SECRET, good_body, good_kind)))[
        0
    ] == 401
    stale = signing.headers(
        SIGNING_SECRET,
        good_body.replace("original words", "FORGED stale"),
        good_kind,
        timestamp=int(time.time()) - 301,
    )
    assert (await copbot.post(good_body.replace("original words", "FORGED stale"), stale))[0] == 401

    # 3. replies in the prompt's thread from three people
    ade = message(
        "EvA", "U1", "Asking people how they describe themselves helps.", "1800000010.000100", root
    )
    bea = message("EvB", "U2", "We use the word minority too much", "1800000011.000100", root)
    cal = message("EvC", "U3", "Something I'd rather take back", "1800000012.000100", root)
    for envelope in (ade, bea, cal):
        assert await copbot.event(envelope) == 200
    assert await copbot.event(ade, retry=1) == 200  # Slack's retry: same event_id
    edit = _envelope(
        "EvB-edit",
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": C1,
            "hidden": True,
            "ts": "1800000020.000100",
            "event_ts": "1800000020.000100",
            "channel_type": "channel",
            "message": {
                "type": "message",
                "user": "U2",
                "text": "We say minority too often; I'm learning to ask instead.",
                "ts": "1800000011.000100",
                "thread_ts": root,
                "edited": {"user": "U2", "ts": "1800000020.000000"},
            },
            "previous_message": {
                "type": "message",
                "user": "U2",
                "text": "We use the word minority too much",
                "ts": "1800000011.000100",
                "thread_ts": root,
            },
        },
    )
    delete = _envelope(
        "EvC-delete",
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": C1,
            "hidden": True,
            "deleted_ts": "1800000012.000100",
            "ts": "1800000021.000100",
            "event_ts": "1800000021.000100",
            "channel_type": "channel",
            "previous_message": {
                "type": "message",
                "user": "U3",
                "text": "Something I'd rather take back",
                "ts": "1800000012.000100",
                "thread_ts": root,
            },
        },
    )
    assert await copbot.event(edit) == 200
    assert await copbot.event(delete) == 200
    # Ade rewords a reply whose first delivery failed: Slack's retry of it comes after the edit.
    reworded = {"type": "message", "user": "U1", "ts": "1800000013.000100", "thread_ts": root}
    early = _envelope(
        "EvD-edit",
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": C1,
            "hidden": True,
            "ts": "1800000022.000100",
            "event_ts": "1800000022.000100",
            "channel_type": "channel",
            "message": reworded
            | {"text": "I put that better now.", "edited": {"user": "U1", "ts": "1800000022.0"}},
            "previous_message": reworded | {"text": "A clumsy first go"},
        },
    )
    assert await copbot.event(early) == 200
    late = message("EvD", "U1", "A clumsy first go", "1800000013.000100", root)
    assert await copbot.event(late, retry=1) == 200
    # a top-level message in C1, outside the prompt's thread: no consent to keep it
    assert (
        await copbot.event(
            message("EvTop", "U1", "Lunch is in the kitchen", "1800000030.000100", None)
        )
        == 200
    )

    # 4. the export, once the core has handled everything it acknowledged
    expected = [
        ("U1", "Asking people how they describe themselves helps."),
        ("U2", "We say minority too often; I'm learning to ask instead."),
        ("U1", "I put that better now."),
    ]
    async with asyncio.timeout(20):
        while True:
            records = await export(db_path)
            got = [(r["author_id"].removeprefix("slack:"), r["text"]) for r in records]
            if got == expected:
                break
            await asyncio.sleep(0.2)
    ade_record, bea_record, _ = records
    assert ade_record["thread_id"] == root and ade_record["channel_id"] == C1
    assert ade_record["author_name"] == "Ade" and ade_record["platform"] == "slack"
    assert ade_record["prompt_id"] and ade_record["topic"]
    assert bea_record["edited_at"] is not None
    everything = json.dumps(records)
    assert "FORGED" not in everything and "original words" not in everything
    assert "Lunch" not in everything and "take back" not in everything
    assert "clumsy" not in everything
