"""The real slack-bolt app inside copbot, over HTTP, against a fake Slack Web API."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import metadata
from adapters.slack.startup import SlackUnavailable
from bot.app import CORE, create_app
from bot.interaction import Interaction
from bot.model import (
    BotAddedToChannel,
    ButtonPressed,
    ChannelRef,
    ChannelRenamed,
    FormSubmitted,
    HomeOpened,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
    OutgoingMessage,
    ThreadRef,
    UserRef,
)
from tests.slack import signing
from tests.slack.conftest import ADMIN, SlackBot, Sleeps, fixture, settings
from tests.slack.fake_slack import SIGNING_SECRET, FakeSlack

NORTH = ChannelRef("slack", "C1NORTH", "T1", "north")
ROOT = "1700000000.000100"


def texts(call_args: dict[str, Any]) -> str:
    """Everything a posted message says: its blocks' text and its notification text."""
    parts = [call_args.get("text", "")]
    for block in call_args.get("blocks", []):
        parts.append(block.get("text", {}).get("text", ""))
        parts.extend(
            e.get("text", "") for e in block.get("elements", []) if e.get("type") == "mrkdwn"
        )
    return "\n".join(parts)


async def test_cop_help_is_acknowledged_then_answered_privately_through_settings_alone(
    db_path: Path, fake: FakeSlack
) -> None:
    app = create_app(settings(db_path, fake))  # the adapter built by bot.app.build_adapters
    async with TestClient(TestServer(app)) as client:
        bot = SlackBot(client, fake, db_path, Sleeps())
        assert app[CORE].chat.platforms == ["slack"]
        response = await bot.command("help", trigger="help-trigger")
        assert response.status == 200 and await response.text() == ""
        assert bot.inbox_count() == 1  # committed before Slack heard back
        [answer] = await fake.until(lambda: fake.of("chat.postEphemeral"))
        assert answer.args["channel"] == "C1NORTH" and answer.args["user"] == "U1SAM"
        assert "Here's what you can ask me to do" in texts(answer.args)
        assert "/cop whoami" in texts(answer.args)
        assert "response_url" not in str(fake.calls)
        assert fake.methods()[0] == "auth.test"


async def test_a_thread_reply_and_slacks_retry_of_it_reach_the_core_once(slack: SlackBot) -> None:
    envelope = fixture("message_thread_reply")
    first = await slack.event(envelope)
    assert first.status == 200
    assert slack.inbox_count() == 1
    retry = await slack.event(envelope, retry=1)
    assert retry.status == 200
    assert slack.inbox_count() == 1
    [posted] = await slack.until(lambda: [e for e in slack.seen if isinstance(e, MessagePosted)])
    assert posted.message == MessageRef(NORTH, "1700000100.000200", ROOT)
    assert posted.author == UserRef("slack", "U1SAM") and posted.author.name == "Sam Okafor"
    assert posted.event_id == "Ev02REPLY"


async def test_edits_and_deletes_reach_the_core(slack: SlackBot) -> None:
    for name in ("message_changed", "message_deleted"):
        assert (await slack.event(fixture(name))).status == 200
    edited, deleted = await slack.until(lambda: slack.seen if len(slack.seen) >= 2 else None)
    assert isinstance(edited, MessageEdited)
    assert edited.text == "I hadn't thought about the words we use in referral letters."
    assert isinstance(deleted, MessageDeleted)
    assert deleted.message == MessageRef(NORTH, "1700000100.000200", ROOT)


async def test_an_admins_prompt_is_posted_as_block_kit_in_that_channel(slack: SlackBot) -> None:
    assert (await slack.command("prompt language", user=ADMIN)).status == 200
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    assert post.args["channel"] == "C1NORTH"
    kinds = [b["type"] for b in post.args["blocks"]]
    assert kinds[0] == "section" and "actions" in kinds and "context" in kinds
    assert post.args["blocks"][0]["text"]["type"] == "mrkdwn"
    assert post.args["text"].startswith("Reflection prompt: ")
    [confirmation] = await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    assert "I've posted" in texts(confirmation.args)
    assert confirmation.args["user"] == ADMIN


async def test_staff_cannot_post_prompts(slack: SlackBot) -> None:
    await slack.command("prompt language", user="U1SAM")
    [answer] = await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    assert "for facilitators and admins" in texts(answer.args)
    assert slack.fake.of("chat.postMessage") == []


@pytest.mark.parametrize(
    "tamper",
    ["no signature", "wrong secret", "changed body", "six minutes old", "garbage timestamp"],
)
async def test_requests_not_signed_by_slack_are_refused_and_change_nothing(
    slack: SlackBot, tamper: str
) -> None:
    body, kind = signing.command_body(fixture("slash_command") | {"text": "help"})
    good = signing.headers(SIGNING_SECRET, body, kind)
    sent = body
    if tamper == "no signature":
        headers = {"Content-Type": kind}
    elif tamper == "wrong secret":
        headers = signing.headers("not-the-secret", body, kind)
    elif tamper == "changed body":
        headers, sent = good, body.replace("help", "role+grant+admin")
    elif tamper == "six minutes old":
        headers = signing.headers(SIGNING_SECRET, body, kind, timestamp=int(time.time()) - 360)
    else:
        headers = good | {"X-Slack-Request-Timestamp": "soon"}
    refused = await slack.client.post("/slack/events", data=sent, headers=headers)
    assert refused.status == 401
    assert slack.inbox_count() == 0
    assert slack.fake.methods() == ["auth.test"]
    # The same request, signed properly, is accepted: only the signature made the difference.
    accepted = await slack.client.post("/slack/events", data=body, headers=good)
    assert accepted.status == 200 and slack.inbox_count() == 1


async def test_a_rate_limited_post_is_retried_after_retry_after_and_posted_once(
    slack: SlackBot,
) -> None:
    slack.fake.rate_limit("chat.postMessage", times=1, retry_after=0)
    await slack.command("prompt language", user=ADMIN)
    await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    outcomes = [c.outcome for c in slack.fake.calls if c.method == "chat.postMessage"]
    assert outcomes == ["429", "ok"]


async def test_not_in_channel_tells_the_person_what_to_do(slack: SlackBot) -> None:
    slack.fake.fail("chat.postMessage", "not_in_channel")
    await slack.command("prompt language", user=ADMIN)
    [answer] = await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    assert "I'm not in #north yet; invite me with /invite @copbot, then try again." in texts(
        answer.args
    )
    assert slack.fake.of("chat.postMessage") == []


async def test_other_slack_errors_propagate(slack: SlackBot) -> None:
    from slack_sdk.errors import SlackApiError

    slack.fake.fail("chat.postMessage", "internal_error")
    with pytest.raises(SlackApiError):
        await slack.adapter.post(NORTH, OutgoingMessage.of("hello"))


async def test_posts_to_one_channel_are_a_second_apart(slack: SlackBot) -> None:
    message = OutgoingMessage.of("hello")
    await slack.adapter.post(NORTH, message)
    await slack.adapter.post(ChannelRef("slack", "C3MIDLANDS", "T1"), message)
    assert slack.sleeps.asked == []
    await slack.adapter.reply(ThreadRef(NORTH, ROOT), message)
    assert slack.sleeps.asked == [1.0]
    assert [c.args["channel"] for c in slack.fake.of("chat.postMessage")] == [
        "C1NORTH",
        "C3MIDLANDS",
        "C1NORTH",
    ]
    assert slack.fake.of("chat.postMessage")[2].args["thread_ts"] == ROOT


async def test_a_private_answer_slack_refuses_arrives_by_direct_message(slack: SlackBot) -> None:
    slack.fake.fail("chat.postEphemeral", "channel_not_found")
    await slack.command("help", channel="G0SECRET", channel_name="privategroup")
    [dm] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    assert slack.fake.of("conversations.open")[0].args["users"] == "U1SAM"
    assert dm.args["channel"] == "DU1SAM"
    assert "I couldn't answer you in that channel, so I'm replying here." in texts(dm.args)
    assert "Here's what you can ask me to do" in texts(dm.args)


async def test_forms_open_with_the_trigger_and_come_back_with_values_and_context(
    slack: SlackBot,
) -> None:
    await slack.command("prompt add", user=ADMIN, trigger="trigger-add")
    [opened] = await slack.fake.until(lambda: slack.fake.of("views.open"))
    assert opened.args["trigger_id"] == "trigger-add"
    view = opened.args["view"]
    assert view["type"] == "modal" and view["callback_id"] == "prompt-add"
    assert metadata.decode(view["private_metadata"], "T1").channel == NORTH

    got: list[FormSubmitted] = []

    async def handler(ix: Interaction, event: FormSubmitted) -> None:
        got.append(event)
        await ix.reply("Thanks, noted.")

    slack.core.registry.form("test-form", handler)
    origin = Origin(UserRef("slack", "U1SAM"), NORTH, ThreadRef(NORTH, ROOT), "t")
    payload = copy.deepcopy(fixture("view_submission"))
    payload["view"]["callback_id"] = "test-form"
    payload["view"]["private_metadata"] = metadata.encode("ctx-7", origin)
    response = await slack.interact(payload)
    assert response.status == 200 and await response.text() == ""  # the modal closes
    [submitted] = await slack.until(lambda: got)
    assert submitted.context == "ctx-7" and submitted.value("thoughts").startswith("It felt")
    assert submitted.value("when") == "2025-12-01T10:00:00+00:00"
    assert submitted.origin.user.id == "U2PRIYA" and submitted.origin.thread == ThreadRef(
        NORTH, ROOT
    )
    [thanks] = await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    assert thanks.args["thread_ts"] == ROOT and thanks.args["user"] == "U2PRIYA"


async def test_a_button_press_reaches_its_handler(slack: SlackBot) -> None:
    got: list[ButtonPressed] = []

    async def handler(ix: Interaction, event: ButtonPressed) -> None:
        got.append(event)

    slack.core.registry.action("test-act", handler)
    payload = copy.deepcopy(fixture("block_actions"))
    payload["actions"][0]["action_id"] = "test-act:1"
    assert (await slack.interact(payload)).status == 200
    [pressed] = await slack.until(lambda: got)
    assert pressed.value == "language" and pressed.message == MessageRef(NORTH, ROOT)


async def test_joining_channels_and_opening_home_reach_the_core(slack: SlackBot) -> None:
    for name in ("member_joined_bot", "member_joined_person", "app_home_opened"):
        assert (await slack.event(fixture(name))).status == 200
    await slack.until(lambda: len(slack.seen) >= 3)
    kinds = {type(e) for e in slack.seen}
    assert kinds == {BotAddedToChannel, MemberJoined, HomeOpened}
    [hello] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    assert hello.args["channel"] == "C3MIDLANDS"
    assert "Hello #ips-midlands!" in texts(hello.args)
    # the core answers the home tab with the person's home view
    [home] = await slack.fake.until(lambda: slack.fake.of("views.publish"))
    assert home.args["view"]["type"] == "home"
    assert "Latest reflection prompts" in json.dumps(home.args["view"])


async def test_copbots_own_messages_are_acknowledged_and_dropped(slack: SlackBot) -> None:
    assert (await slack.event(fixture("message_own_bot"))).status == 200
    assert (await slack.event(fixture("message_top_level"))).status == 200
    await slack.until(lambda: slack.seen)
    assert [e.event_id for e in slack.seen] == ["Ev01TOPLEVEL"]
    assert slack.inbox_count() == 1


async def test_slow_name_lookups_never_hold_up_the_acknowledgement(slack: SlackBot) -> None:
    gate = slack.fake.stall("users.info")
    envelope = fixture("message_top_level")
    response = await slack.event(envelope)  # the budget is 1 s; Slack allows 3
    assert response.status == 200
    [posted] = await slack.until(lambda: slack.seen)
    assert posted.author.name == "" and posted.text.startswith("Thanks @U2PRIYA")
    gate.set()
    await slack.fake.until(lambda: len(slack.fake.of("users.info")) == 2)
    again = copy.deepcopy(envelope) | {"event_id": "Ev01AGAIN"}
    await slack.event(again)
    await slack.until(lambda: len(slack.seen) == 2)
    assert slack.seen[1].author.name == "Sam Okafor"  # remembered from the late answers
    assert slack.seen[1].text.startswith("Thanks @Priya Shah")
    assert len(slack.fake.of("users.info")) == 2


async def test_update_delete_permalink_and_home(slack: SlackBot) -> None:
    ref = await slack.adapter.post(NORTH, OutgoingMessage.of("first"))
    await slack.adapter.update(ref, OutgoingMessage.of("second"))
    assert slack.fake.of("chat.update")[0].args["ts"] == ref.id
    link = await slack.adapter.permalink(ref)
    assert link == f"https://example.slack.com/archives/C1NORTH/p{ref.id.replace('.', '')}"
    await slack.adapter.delete(ref)
    slack.fake.fail("chat.delete", "message_not_found")
    await slack.adapter.delete(ref)  # already gone: done, not failed
    await slack.adapter.publish_home(UserRef("slack", "U1SAM"), OutgoingMessage.of("Welcome"))
    [home] = slack.fake.of("views.publish")
    assert home.args["user_id"] == "U1SAM" and home.args["view"]["type"] == "home"


async def test_a_refused_bot_token_stops_copbot_starting_with_a_sentence(
    db_path: Path, fake: FakeSlack
) -> None:
    fake.fail("auth.test", "invalid_auth")
    app = create_app(settings(db_path, fake))
    server = TestServer(app)
    with pytest.raises(
        SlackUnavailable, match=r"Slack refused copbot's bot token \(invalid_auth\)"
    ):
        await server.start_server()
    await server.close()


async def test_slacks_url_check_is_answered_with_its_challenge(slack: SlackBot) -> None:
    body, kind = signing.event_body(
        {
            "token": "XXYYZZ",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = await slack.deliver(body, kind)
    assert response.status == 200
    assert (await response.json())["challenge"].startswith("3eZbrw1a")
    assert slack.inbox_count() == 0


async def test_a_schedule_in_a_channel_archived_since_is_paused_and_its_owner_told(
    slack: SlackBot,
) -> None:
    from datetime import UTC, datetime

    from bot.clock import to_text

    await slack.command("schedule prompt any every tuesday at 10:00", user=ADMIN)
    await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    slack.fake.fail("chat.postMessage", "is_archived")
    # Its time comes.
    await slack.core.db.execute("update jobs set due_at = ?", [to_text(datetime.now(UTC))])
    await slack.core.scheduler.tick()
    [schedule] = await slack.core.scheduler.recurrences("prompt.post")
    assert schedule.paused
    [refused, told] = [c for c in slack.fake.calls if c.method == "chat.postMessage"]
    assert refused.args["channel"] == "C1NORTH" and refused.outcome == "is_archived"
    assert told.args["channel"] == "DUADMIN"  # the owner's direct messages
    assert (
        "#north has been archived, so I can't post there. Unarchive it or pick another "
        "channel. So I've paused the schedule" in texts(told.args)
    )
    assert "`/cop schedule resume 1`" in texts(told.args)


async def test_a_channel_renamed_in_slack_is_named_so_in_its_schedules(slack: SlackBot) -> None:
    await slack.command("schedule prompt any every tuesday at 10:00", user=ADMIN)
    await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral"))
    slack.fake.channels["C1NORTH"] = "ips-north-east"
    assert (await slack.event(fixture("message_channel_name"))).status == 200
    await slack.until(lambda: [e for e in slack.seen if isinstance(e, ChannelRenamed)])
    # What is said there next is filed under the new name too.
    assert (await slack.event(fixture("message_top_level"))).status == 200
    [said] = await slack.until(lambda: [e for e in slack.seen if isinstance(e, MessagePosted)])
    assert said.message.channel.name == "ips-north-east"
    await slack.command("schedule list", user=ADMIN, channel_name="ips-north-east")
    [listed] = await slack.fake.until(lambda: slack.fake.of("chat.postEphemeral")[1:])
    assert "every Tuesday at 10:00, in #ips-north-east;" in texts(listed.args)
    assert "#north" not in texts(listed.args)
    assert not slack.fake.of("chat.postMessage")  # renamed is no reason to say hello again


@pytest.mark.parametrize(
    ("name", "said"), [("ips-cop", "ips-cop"), ("ips `cop`", "copbot"), ("a" * 81, "copbot")]
)
async def test_answers_say_to_invite_copbot_by_the_name_slack_knows_it_by(
    db_path: Path, fake: FakeSlack, name: str, said: str
) -> None:
    """A Slack admin may name the app's bot user otherwise: `/invite @copbot` would find
    nobody. copbot learns its name from auth.test as it starts (a name Slack wouldn't allow,
    which would break the answer's markup, is not taken)."""
    fake.users["UBOT"] = name
    app = create_app(settings(db_path, fake))
    async with TestClient(TestServer(app)) as client:
        slack = SlackBot(client, fake, db_path, Sleeps())
        await slack.until(lambda: fake.of("auth.test"))
        for n, command in enumerate(
            ("archive on", "schedule prompt any every tue at 10:00 in #nowhere")
        ):
            assert (await slack.command(command, user=ADMIN)).status == 200
            answers = await fake.until(lambda n=n: fake.of("chat.postEphemeral")[n:])
            answer = texts(answers[0].args)
            assert f"in Slack: `/invite @{said}`;" in answer, answer
        fake.fail("chat.postMessage", "not_in_channel")
        await slack.command("prompt language", user=ADMIN)
        [*_, refused] = await fake.until(lambda: fake.of("chat.postEphemeral")[2:])
        assert f"invite me with /invite @{said}, then try again" in texts(refused.args)
