"""Socket Mode: the same bolt app, reached over a WebSocket copbot opens to (fake) Slack.

The envelope acknowledgement goes back only after the event is committed, exactly as the
HTTP 200 does; a redelivered envelope (same event_id) is acknowledged and not stored twice.
"""

from __future__ import annotations

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
