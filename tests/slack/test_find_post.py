"""Finding copbot's own post again (after a restart, for an announcement in doubt): the real
slack_sdk against the fake, the mark carried in message metadata."""

from __future__ import annotations

from dataclasses import replace

from bot.model import ChannelRef, OutgoingMessage
from tests.slack.conftest import SlackBot
from tests.slack.fake_slack import BOT_ID, BOT_USER

NORTH = ChannelRef("slack", "C1NORTH", "T1", "north")


async def test_a_marked_post_is_found_among_the_channels_newest_messages(
    slack: SlackBot,
) -> None:
    posted = await slack.adapter.post(
        NORTH, replace(OutgoingMessage.of("Regional session on Thursday"), mark="event-announce:7")
    )
    [call] = slack.fake.of("chat.postMessage")
    assert call.args["metadata"]["event_payload"] == {"mark": "event-announce:7"}
    # Later messages push it down the channel, past the first page of history.
    for n in range(120):
        slack.fake.history["C1NORTH"].append({"type": "message", "ts": f"1800000000.{n:06d}"})
    found = await slack.adapter.find_post(NORTH, "event-announce:7")
    assert found is not None and found.id == posted.id
    assert len(slack.fake.of("conversations.history")) == 2
    assert await slack.adapter.find_post(NORTH, "event-announce:8") is None


async def test_someone_elses_message_with_the_same_mark_is_not_copbots_post(
    slack: SlackBot,
) -> None:
    metadata = {"event_type": "copbot_post", "event_payload": {"mark": "event-announce:7"}}
    slack.fake.history["C1NORTH"] = [
        {"type": "message", "ts": "1.000100", "user": "U1SAM", "metadata": metadata},
        {"type": "message", "ts": "1.000200", "user": BOT_USER, "bot_id": BOT_ID},
    ]
    assert await slack.adapter.find_post(NORTH, "event-announce:7") is None
    # Nor is a post of copbot's that carries no mark.
    await slack.adapter.post(NORTH, OutgoingMessage.of("A reflection prompt"))
    assert await slack.adapter.find_post(NORTH, "event-announce:7") is None
