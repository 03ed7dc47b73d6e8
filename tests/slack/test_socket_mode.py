"""Socket Mode: the same bolt app, reached over a WebSocket copbot opens to (fake) Slack.

The envelope acknowledgement goes back only after the event is committed, exactly as the
HTTP 200 does; a redelivered envelope (same event_id) is acknowledged and not stored twice.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.model import MessagePosted
from tests.slack.conftest import SlackBot, Sleeps, fixture, settings
from tests.slack.fake_slack import FakeSlack


def acked(fake: FakeSlack, envelope_id: str) -> list[dict[str, Any]]:
    return [a for a in fake.acks if a.get("envelope_id") == envelope_id]


async def test_events_and_commands_over_socket_mode_are_acked_after_commit(
    db_path: Path, fake: FakeSlack
) -> None:
    app = create_app(settings(db_path, fake, socket_mode=True))
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        bot.watch()
        assert (await client.post("/slack/events", data="{}")).status in (404, 405)
        await fake.until(lambda: fake.socket_connected)
        assert fake.methods()[:2] == ["auth.test", "apps.connections.open"]

        event: dict[str, Any] = {
            "envelope_id": "env-1",
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": fixture("message_thread_reply"),
        }
        await fake.send_envelope(event)
        await fake.until(lambda: acked(fake, "env-1"))
        assert bot.inbox_count() == 1  # on disk before the ack left

        redelivered = event | {
            "envelope_id": "env-2",
            "retry_attempt": 1,
            "retry_reason": "timeout",
        }
        await fake.send_envelope(redelivered)
        await fake.until(lambda: acked(fake, "env-2"))
        assert bot.inbox_count() == 1

        await fake.send_envelope(
            {
                "envelope_id": "env-3",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": fixture("slash_command") | {"text": "help"},
            }
        )
        await fake.until(lambda: acked(fake, "env-3"))
        [answer] = await fake.until(lambda: fake.of("chat.postEphemeral"))
        assert answer.args["channel"] == "C1NORTH"
        [posted] = await bot.until(lambda: [e for e in bot.seen if isinstance(e, MessagePosted)])
        assert posted.event_id == "Ev02REPLY"
    await fake.until(lambda: not fake.socket_connected)  # stop() closed the connection


async def test_a_malformed_event_is_set_aside_the_same_way_through_bolt_and_the_fast_path(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Socket Mode goes through bolt's dispatch; HTTP's event_callback skips it. An event whose
    ts is not a timestamp is acknowledged, set aside with the same reason, and not stored."""
    caplog.set_level(logging.INFO)
    envelope = fixture("message_thread_reply")
    envelope["event"]["ts"] = "abc"
    app = create_app(settings(db_path, fake, socket_mode=True))
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        await fake.until(lambda: fake.socket_connected)
        await fake.send_envelope(
            {"envelope_id": "env-bad", "type": "events_api", "payload": envelope}
        )
        await fake.until(lambda: acked(fake, "env-bad"))
        assert bot.inbox_count() == 0
    through_bolt = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    caplog.clear()
    async with TestClient(TestServer(create_app(settings(db_path, fake)))) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        assert (await bot.event(envelope)).status == 200
        assert bot.inbox_count() == 0
    fast = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    reason = "set aside a Slack event copbot could not read: ts is not a Slack timestamp"
    assert through_bolt == fast == [reason]


async def test_slack_failing_at_start_is_asked_again_not_taken_for_a_refused_token(
    db_path: Path, fake: FakeSlack
) -> None:
    """An error of Slack's own from apps.connections.open (not the token's) is passed by:
    copbot starts, and connects once Slack gives it an address."""
    fake.fail("apps.connections.open", "internal_error")
    app = create_app(settings(db_path, fake, socket_mode=True))
    async with TestClient(TestServer(app)):
        await fake.until(lambda: fake.socket_connected, timeout=20)
        opened = [c.outcome for c in fake.calls if c.method == "apps.connections.open"]
        assert opened[0] == "internal_error" and "ok" in opened


# Envelopes the HTTP route refuses before bolt reads them: each tripped bolt into a logged
# stack, and, never acknowledged, would have come back again.
UNUSABLE: dict[str, tuple[str, Any]] = {
    "event_a_string": ("events_api", fixture("message_thread_reply") | {"event": "x"}),
    "actions_a_string": ("interactive", fixture("block_actions") | {"actions": "x"}),
    "legacy_attachment_without_actions": (
        "interactive",
        {"type": "interactive_message", "callback_id": "cb", "user": {"id": "U1SAM"}},
    ),
    "command_a_list": ("slash_commands", fixture("slash_command") | {"command": ["/cop"]}),
    "payload_a_string": ("events_api", "MARKER"),
    "user_a_number": ("interactive", fixture("block_actions") | {"user": 1}),
    "event_user_a_number": (
        "events_api",
        fixture("message_thread_reply") | {"event": {"type": "message", "user": 1}},
    ),
    "command_missing": ("slash_commands", {"text": "MARKER"}),
}


async def test_envelopes_copbot_cannot_take_are_acknowledged_and_set_aside_in_one_line(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(settings(db_path, fake, socket_mode=True))
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        await fake.until(lambda: fake.socket_connected)
        for case, (kind, payload) in UNUSABLE.items():
            caplog.clear()
            await fake.send_envelope({"envelope_id": case, "type": kind, "payload": payload})
            await fake.until(lambda case=case: acked(fake, case))
            assert bot.inbox_count() == 0
            assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
            said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert said and "set aside a Slack Socket Mode message" in said[0], (case, said)
            assert len(said) == 1 and "MARKER" not in said[0]
        # The connection goes on: a genuine event after them is kept.
        await fake.send_envelope(
            {
                "envelope_id": "env-ok",
                "type": "events_api",
                "payload": fixture("message_thread_reply"),
            }
        )
        await fake.until(lambda: acked(fake, "env-ok"))
        assert bot.inbox_count() == 1


# Envelopes slack_sdk's own receive loop trips on before copbot's handler is called: the
# payload not an object (a logged stack, never acknowledged, so Slack sends it again), or
# no type, payload or envelope_id (dropped without a word).
def _envelope(case: str, **fields: Any) -> str:
    return json.dumps({"envelope_id": case, "type": "events_api"} | fields)


UNREADABLE_BY_THE_SDK: dict[str, str] = {
    "payload_a_list": _envelope("payload_a_list", payload=["MARKER"]),
    "payload_a_number": _envelope("payload_a_number", payload=7),
    "payload_null": _envelope("payload_null", payload=None),
    "payload_true": _envelope("payload_true", payload=True),
    "payload_a_string": _envelope("payload_a_string", payload="MARKER"),
    "payload_missing": _envelope("payload_missing"),
    "type_missing": json.dumps({"envelope_id": "type_missing", "payload": {"x": "MARKER"}}),
    "type_a_list": _envelope("type_a_list", type=["events_api"], payload={"x": "MARKER"}),
}
# ...and those with no envelope_id to acknowledge: set aside all the same.
UNACKNOWLEDGEABLE = (
    json.dumps({"type": "events_api", "payload": fixture("message_thread_reply")}),
    _envelope("", payload={"x": "MARKER"}),
    json.dumps({"envelope_id": 7, "type": "events_api", "payload": {"x": "MARKER"}}),
    json.dumps(["MARKER"]),
    json.dumps("MARKER"),
    "42",
    "null",
    '{"envelope_id": "MARKER", "type": ',
    "MARKER",
    "[" * 100_000,
)


async def test_envelopes_the_sdk_cannot_read_are_set_aside_in_one_line_over_the_socket(
    db_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(settings(db_path, fake, socket_mode=True))
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        await fake.until(lambda: fake.socket_connected)
        good = {"type": "events_api", "payload": fixture("message_thread_reply")}
        for case, text in UNREADABLE_BY_THE_SDK.items():
            caplog.clear()
            await fake.send_text(text)
            await fake.until(lambda case=case: acked(fake, case))
            _said_once(caplog)
        for n, text in enumerate(UNACKNOWLEDGEABLE):
            caplog.clear()
            await fake.send_text(text)
            # Messages are read in order: once a later one is acknowledged, this one was read.
            await fake.send_envelope(good | {"envelope_id": f"after-{n}"})
            await fake.until(lambda n=n: acked(fake, f"after-{n}"))
            _said_once(caplog)
        assert bot.inbox_count() == 1  # the genuine event, once: nothing of the rest
        assert fake.socket_connected
        assert len(fake.acks) == len(UNREADABLE_BY_THE_SDK) + len(UNACKNOWLEDGEABLE)


def _said_once(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1 and "set aside a Slack Socket Mode message" in said[0], said
    assert "MARKER" not in said[0]
