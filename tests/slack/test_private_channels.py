"""Private channels on Slack: the real slack_sdk asks a fake Slack which channels a person is
in (``users.conversations``, paged) and whether a channel is private; search over HTTP
shows a private channel's messages to its members only."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.feedback_messages import ANSWER_FORM
from bot.model import ChannelRef, UserRef
from bot.ports import Memberships
from bot.services.feedback_answers import CLOSED
from storage import sqlite
from tests.slack.conftest import ADMIN, SlackBot, fixture
from tests.slack.test_contract import texts
from tests.slack.test_feedback_custom import answer_button, press, view_opened

PRIYA = UserRef("slack", "U2PRIYA", "Priya Shah")
LEADS = "C9LEADS"
WORD = "zanzibarian"


async def test_a_persons_channels_are_read_page_by_page(slack: SlackBot) -> None:
    channels = [f"C{n:04d}" for n in range(450)]
    slack.fake.private = {"C0007", "C0300"}
    slack.fake.members[PRIYA.id] = channels
    # One answer for all of them: Slack can't leave some unchecked.
    assert await slack.adapter.channels_visible_to(PRIYA) == Memberships(frozenset(channels))
    calls = slack.fake.of("users.conversations")
    assert [c.args.get("cursor") for c in calls] == [None, "at:200", "at:400"]
    for call in calls:
        assert call.args["user"] == PRIYA.id
        assert call.args["types"] == "public_channel,private_channel"
        assert int(call.args["limit"]) == 200


@pytest.mark.parametrize("error", ["missing_scope", "user_not_found", "ratelimited"])
async def test_an_error_answer_says_nothing_so_the_core_fails_closed(
    slack: SlackBot, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.members[PRIYA.id] = ["C1NORTH", LEADS]
    slack.fake.fail("users.conversations", error)
    with caplog.at_level(logging.INFO, logger="adapters.slack"):
        assert await slack.adapter.channels_visible_to(PRIYA) is None
    [line] = [r for r in caplog.records if r.name == "adapters.slack.membership"]
    assert line.getMessage() == f"Slack didn't say which channels someone is in ({error})"
    assert line.exc_info is None and PRIYA.id not in caplog.text


async def test_whether_a_channel_is_private_comes_from_conversations_info(
    slack: SlackBot,
) -> None:
    slack.fake.channels[LEADS] = "leads"
    slack.fake.private = {LEADS}

    def ref(channel_id: str) -> ChannelRef:
        return ChannelRef("slack", channel_id, "T1")

    assert await slack.adapter.channel_is_private(ref(LEADS)) is True
    assert await slack.adapter.channel_is_private(ref("C1NORTH")) is False
    assert await slack.adapter.channel_is_private(ref("C404")) is None  # channel_not_found


def _archived(slack: SlackBot) -> int:
    conn = sqlite.connect(slack.db_path)
    try:
        return int(conn.execute("select count(*) from archive_messages").fetchall()[0][0])
    finally:
        conn.close()


def _private_flags(slack: SlackBot) -> list[int]:
    conn = sqlite.connect(slack.db_path)
    try:
        return [int(r[0]) for r in conn.execute("select private from archive_entries")]
    finally:
        conn.close()


async def _answer_to(slack: SlackBot, user: str, before: int) -> dict[str, Any]:
    answers = await slack.fake.until(
        lambda: [c for c in slack.fake.of("chat.postEphemeral")[before:] if c.args["user"] == user]
    )
    return answers[0].args  # type: ignore[no-any-return]


async def _leads_kept(slack: SlackBot, private: bool, text: str) -> None:
    """#leads (Priya's; private or not), archived whole, holding Priya's ``text``."""
    fake = slack.fake
    fake.channels[LEADS] = "leads"
    fake.private = {LEADS} if private else set()
    fake.members = {"U2PRIYA": ["C1NORTH", LEADS], "U1SAM": ["C1NORTH"], ADMIN: ["C1NORTH"]}
    kind = {"channel_type": "G"} if private else {}
    joined = fixture("member_joined_bot")
    joined["event"] |= {"channel": LEADS, **kind}
    joined["event_id"] = "Ev99LEADSJOINED"
    assert (await slack.event(joined)).status == 200
    await slack.until(lambda: any(getattr(e, "channel", None) for e in slack.seen))
    name = "privategroup" if private else "leads"
    await slack.command("archive on", user=ADMIN, channel=LEADS, channel_name=name)
    await fake.until(lambda: any("kept in the archive" in texts(c.args) for c in fake.calls))
    message = fixture("message_top_level")
    message["event"] |= {"channel": LEADS, "user": "U2PRIYA", "text": text}
    message["event"] |= {"channel_type": "group"} if private else {}
    message["event"] |= {"ts": "1700000500.000100"}
    message["event_id"] = "Ev99LEADSMSG"
    assert (await slack.event(message)).status == 200
    await slack.until(lambda: _archived(slack) == 1)


async def _search(slack: SlackBot, user: str) -> str:
    before = len(slack.fake.of("chat.postEphemeral"))
    assert (await slack.command(f"search {WORD}", user=user)).status == 200
    return texts(await _answer_to(slack, user, before))


async def test_over_http_only_a_member_of_a_private_channel_finds_its_messages(
    slack: SlackBot,
) -> None:
    await _leads_kept(slack, True, f"Between us leads: {WORD} budget worries")

    # The attack: staff outside #leads search a word from it, and get nothing from it.
    outside = await _search(slack, "U1SAM")
    assert "Nothing in the archive matches" in outside and "budget" not in outside
    inside = await _search(slack, "U2PRIYA")
    assert "budget" in inside and "leads" in inside
    asked = {c.args["user"] for c in slack.fake.of("users.conversations")}
    assert asked == {"U1SAM", "U2PRIYA"}


async def test_a_channel_made_private_in_slack_hides_what_was_kept_before(
    slack: SlackBot,
) -> None:
    """Slack says so with a message in the channel: from then on, its messages kept while
    it was public show only to its members, as Slack's own history does."""
    await _leads_kept(slack, False, f"Said in the open: {WORD} rota")
    assert "rota" in await _search(slack, "U1SAM")  # public: anyone finds it
    slack.fake.private = {LEADS}
    converted = fixture("message_channel_convert_to_private")
    converted["event"] |= {"channel": LEADS}
    assert (await slack.event(converted)).status == 200
    await slack.until(lambda: _private_flags(slack) == [1])
    outside = await _search(slack, "U1SAM")
    assert "Nothing in the archive matches" in outside and "rota" not in outside
    assert "rota" in await _search(slack, "U2PRIYA")


def test_the_manifest_asks_for_the_scopes_users_conversations_needs() -> None:
    from pathlib import Path

    from bot.cli.slack import BOT_SCOPES

    source = (Path(__file__).parents[2] / "adapters" / "slack" / "membership.py").read_text()
    assert "client.users_conversations(" in source and "client.conversations_info(" in source
    # Public channels need channels:read; private ones groups:read.
    assert {"channels:read", "groups:read"} <= set(BOT_SCOPES)


async def test_a_private_channels_feedback_round_is_for_its_members_only(
    slack: SlackBot,
) -> None:
    fake = slack.fake
    fake.channels[LEADS] = "leads"
    fake.private = {LEADS}
    fake.members = {"U2PRIYA": ["C1NORTH", LEADS], "U1SAM": ["C1NORTH"], ADMIN: [LEADS]}
    opened = await slack.command(
        'feedback open "Leads budget worries"', ADMIN, LEADS, "privategroup"
    )
    assert opened.status == 200
    [announced] = await fake.until(
        lambda: [c for c in fake.of("chat.postMessage") if c.args["channel"] == LEADS]
    )
    round_id = answer_button(announced)["value"]

    # Sam, outside #leads, asks for the forms in a direct message: not offered.
    envelope = fixture("message_im")
    envelope["event"]["text"] = "feedback"
    assert (await slack.event(envelope)).status == 200
    [listing] = await fake.until(
        lambda: [c for c in fake.of("chat.postMessage") if c.args["channel"] == "DU1SAM"]
    )
    assert "Leads budget" not in texts(listing.args)
    assert "no feedback rounds open" in texts(listing.args)

    # His press with the round's id gets the words of a round that isn't there; no form.
    before = len(fake.calls)
    await press(slack, "U1SAM", "DU1SAM", "1700000600.000100", round_id)
    [refused] = await fake.until(
        lambda: [c for c in fake.calls[before:] if CLOSED in texts(c.args)]
    )
    assert "Leads budget" not in texts(refused.args)
    assert fake.of("views.open") == []

    # Priya, a member, gets the form.
    trigger = await press(slack, "U2PRIYA", LEADS, str(announced.answer["ts"]), round_id)
    assert (await view_opened(slack, trigger))["callback_id"] == ANSWER_FORM
