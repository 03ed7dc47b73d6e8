"""Recorded Slack payloads in, neutral events out (adapters/slack/translate.py and text.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import metadata
from adapters.slack.schema import Malformed, clean
from adapters.slack.text import command_text, plain_text
from adapters.slack.translate import (
    Lookups,
    Me,
    Names,
    event_teams,
    from_block_actions,
    from_command,
    from_event,
    from_view_submission,
    interaction_teams,
    lookups_for_event,
    lookups_for_interaction,
)
from bot.model import (
    BotAddedToChannel,
    ButtonPressed,
    ChannelKind,
    ChannelRef,
    ChannelRenamed,
    ChannelVisibilityChanged,
    CommandReceived,
    FormSubmitted,
    HomeOpened,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    ThreadRef,
    UserRef,
)

FIXTURES = Path(__file__).parent / "fixtures"
ME = Me("UBOT", "BBOT", "T1", "copbot")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NORTH = ChannelRef("slack", "C1NORTH", "T1", "north")
NAMES = Names(
    users={"U1SAM": "Sam Okafor", "U2PRIYA": "Priya Shah", "U9ADMIN": "Alex Morgan"},
    channels={"C1NORTH": "north", "C3MIDLANDS": "ips-midlands"},
)
ROOT = "1700000000.000100"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def event(name: str, names: Names = NAMES) -> Any:
    return from_event(load(name), ME, names, NOW)


def at(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


# -- messages -----------------------------------------------------------------------------


def test_a_top_level_message_has_no_thread_and_reads_as_plain_text() -> None:
    posted = event("message_top_level")
    assert isinstance(posted, MessagePosted)
    assert posted.event_id == "Ev01TOPLEVEL"
    assert posted.message == MessageRef(NORTH, "1700000000.000100")
    assert posted.thread is None and not posted.is_direct
    assert posted.author == UserRef("slack", "U1SAM") and posted.author.name == "Sam Okafor"
    assert posted.message.channel.name == "north"
    assert posted.text == (
        "Thanks @Priya Shah, see #london & the IPS page (https://www.nhs.uk/ips) <3 "
        "https://example.org"
    )
    assert posted.at == at("1700000000.000100") and not posted.from_bot


def test_a_thread_reply_carries_its_root() -> None:
    posted = event("message_thread_reply")
    assert isinstance(posted, MessagePosted)
    assert posted.message == MessageRef(NORTH, "1700000100.000200", ROOT)
    assert posted.thread == ThreadRef(NORTH, ROOT)


def test_a_reply_also_sent_to_the_channel_is_still_a_thread_reply() -> None:
    posted = event("message_thread_broadcast")
    assert isinstance(posted, MessagePosted)
    assert posted.message == MessageRef(NORTH, "1700000150.000300", ROOT)
    assert posted.author.id == "U2PRIYA" and posted.author.name == "Priya Shah"


def test_an_edit_carries_the_new_text_and_the_thread_from_message() -> None:
    edited = event("message_changed")
    assert isinstance(edited, MessageEdited)
    assert edited.event_id == "Ev04CHANGED"
    assert edited.message == MessageRef(NORTH, "1700000100.000200", ROOT)
    assert edited.text == "I hadn't thought about the words we use in referral letters."
    assert edited.editor == UserRef("slack", "U1SAM")
    assert edited.at == at("1700000200.000000")
    # Who posted it and when: kept as such, should the edit come before the message.
    assert edited.posted_by is not None and edited.posted_by.id == "U1SAM"
    assert edited.posted_at == at("1700000100.000200")


def test_an_edit_of_another_bots_message_names_no_poster() -> None:
    """A bot's messages are never archived: an edit arriving before one must not be kept
    as a person's message either."""
    body = load("message_changed")
    for part in ("message", "previous_message"):
        body["event"][part] |= {"user": "U9JIRA", "bot_id": "B9JIRA"}
    edited = from_event(body, ME, NAMES, NOW)
    assert isinstance(edited, MessageEdited) and edited.posted_by is None


def test_a_channel_made_private_or_public_says_so() -> None:
    made_private = event("message_channel_convert_to_private")
    assert made_private == ChannelVisibilityChanged(
        "Ev12CONVERTED", NORTH, True, at("1700000960.000100")
    )
    body = load("message_channel_convert_to_private")
    body["event"]["subtype"] = "channel_convert_to_public"
    made_public = from_event(body, ME, NAMES, NOW)
    assert isinstance(made_public, ChannelVisibilityChanged) and not made_public.private


@pytest.mark.parametrize("subtype", ["channel_name", "group_name"])
def test_a_renamed_channel_is_remembered_by_its_new_name_without_a_hello(subtype: str) -> None:
    # Slack says so in the channel, as a message: copbot's record of the channel (and the
    # schedules described by it) take the new name; the notice itself is not kept.
    body = load("message_channel_name")
    body["event"]["subtype"] = subtype
    renamed = from_event(body, ME, NAMES, NOW)
    assert renamed == ChannelRenamed("Ev13RENAMED", NORTH, at("1700000970.000100"))
    assert isinstance(renamed, ChannelRenamed) and renamed.channel.name == "ips-north-east"
    body["event"]["name"] = ""  # no new name to go by: nothing to remember
    assert from_event(body, ME, NAMES, NOW) is None


def test_a_link_preview_arriving_is_not_an_edit() -> None:
    assert event("message_changed_unfurl") is None


def test_a_delete_carries_deleted_ts_and_the_thread_of_the_previous_message() -> None:
    deleted = event("message_deleted")
    assert isinstance(deleted, MessageDeleted)
    assert deleted.message == MessageRef(NORTH, "1700000100.000200", ROOT)
    assert deleted.at == at("1700000400.000700")


def test_copbots_own_post_deleted_in_slack_is_a_delete() -> None:
    """An anonymous reply is copbot's post: a workspace admin who deletes it in Slack
    takes it out of the archive too."""
    body = load("message_deleted")
    body["event"]["previous_message"] |= {"user": "UBOT", "bot_id": "BBOT"}
    deleted = from_event(body, ME, NAMES, NOW)
    assert isinstance(deleted, MessageDeleted)
    assert deleted.message == MessageRef(NORTH, "1700000100.000200", ROOT)


def test_a_thread_root_deleted_under_its_replies_is_a_delete() -> None:
    deleted = event("message_tombstone")
    assert isinstance(deleted, MessageDeleted)
    assert deleted.message == MessageRef(NORTH, "1700000500.000100")


def test_another_bots_message_is_from_a_bot_and_copbots_own_are_dropped() -> None:
    other = event("message_other_bot")
    assert isinstance(other, MessagePosted) and other.from_bot
    assert other.author == UserRef("slack", "B0CALENDAR") and other.author.name == "Calendar"
    assert event("message_own_bot") is None
    own_edit = load("message_changed")
    own_edit["event"]["message"] |= {"user": "UBOT", "bot_id": "BBOT"}
    assert from_event(own_edit, ME, NAMES, NOW) is None


def test_a_direct_message_to_copbot_is_a_command_with_or_without_cop() -> None:
    said = event("message_im")
    assert isinstance(said, CommandReceived) and said.text == "hello copbot"
    assert said.origin.channel == ChannelRef("slack", "D0SAMBOT", "T1", kind=ChannelKind.DIRECT)
    assert said.origin.user == UserRef("slack", "U1SAM")
    for typed in (
        "/cop search privilege",
        "COP search privilege",
        "search privilege",
        f"<@{ME.user_id}> search privilege",  # as copbot's answers write it, @copbot first
    ):
        envelope = load("message_im")
        envelope["event"]["text"] = typed
        command = from_event(envelope, ME, NAMES, NOW)
        assert isinstance(command, CommandReceived) and command.text == "search privilege"
    envelope = load("message_im")
    envelope["event"]["text"] = "role grant facilitator <@U2PRIYA>"
    command = from_event(envelope, ME, NAMES, NOW)
    assert isinstance(command, CommandReceived)
    assert command.text == "role grant facilitator <@slack:U2PRIYA>"


def test_slacks_own_notices_are_ignored() -> None:
    assert event("message_channel_join") is None
    assert event("app_home_messages_tab") is None


def test_unknown_names_fall_back_to_ids() -> None:
    posted = event("message_top_level", Names())
    assert isinstance(posted, MessagePosted)
    assert posted.author.name == "" and posted.author.display == "U1SAM"
    assert posted.text.startswith("Thanks @U2PRIYA, see #london")


def test_what_each_event_needs_looked_up() -> None:
    assert lookups_for_event(load("message_top_level")) == Lookups(
        frozenset({"U1SAM", "U2PRIYA"}), frozenset({"C1NORTH"})
    )
    assert lookups_for_event(load("message_changed")).users == {"U1SAM"}
    assert lookups_for_event(load("member_joined_bot")) == Lookups(
        frozenset({"UBOT", "U2PRIYA"}), frozenset({"C3MIDLANDS"})
    )
    assert lookups_for_interaction(load("block_actions")) == Lookups(
        frozenset({"U1SAM"}), frozenset({"C1NORTH"})
    )


# -- commands -------------------------------------------------------------------------------


def test_app_mention_is_a_command_with_the_text_after_the_mention() -> None:
    command = event("app_mention")
    assert isinstance(command, CommandReceived)
    assert command.event_id == "Ev12MENTION"
    assert command.text == "role grant facilitator <@slack:U2PRIYA> in <#C1NORTH|north> & more"
    assert command.origin.user == UserRef("slack", "U9ADMIN")
    assert command.origin.thread == ThreadRef(NORTH, ROOT)


def test_a_slash_command_becomes_a_command_with_its_trigger_id() -> None:
    command = from_command(load("slash_command"), NAMES, NOW)
    assert isinstance(command, CommandReceived)
    trigger = "13345224609.738474920.8088930838d88f008e0"
    assert command.event_id == f"cmd:{trigger}"
    assert "U9ADMIN" not in command.event_id
    assert command.text == "role grant facilitator <@slack:U2PRIYA> for <#C1NORTH|north> & <more>"
    assert command.origin.channel == NORTH and command.origin.channel.name == "north"
    assert command.origin.user == UserRef("slack", "U9ADMIN")
    assert command.origin.user.name == "Alex Morgan"
    assert command.origin.thread is None and command.origin.handle == trigger
    assert command.at == NOW


def test_a_slash_command_in_a_dm_is_direct_and_without_a_lookup_uses_the_handle() -> None:
    command = from_command(load("slash_command_dm"), Names(), NOW)
    assert command is not None and command.origin.channel.is_direct
    assert command.origin.channel.name == ""
    assert command.origin.user.name == "sam.okafor"
    assert command.text == "help"


def test_text_for_people_and_text_for_commands() -> None:
    text = "hi <@U1|sam> <!here> <!subteam^S1|@facilitators> <mailto:a@b.org|a@b.org> <#C1|>"
    assert plain_text(text, {"U1": "Sam O"}, {"C1": "north"}) == (
        "hi @Sam O @here @facilitators a@b.org #north"
    )
    assert command_text(text) == "hi <@slack:U1> @here @facilitators a@b.org <#C1|>"
    assert plain_text("&amp;lt;b&amp;gt; &lt;i&gt;") == "&lt;b&gt; <i>"
    assert plain_text("see <http://example.org|example.org>") == "see example.org"


# -- interactivity ---------------------------------------------------------------------------


def test_a_button_press_names_the_message_its_thread_and_the_trigger() -> None:
    pressed = from_block_actions(load("block_actions"), NAMES, NOW)
    assert isinstance(pressed, ButtonPressed)
    assert pressed.event_id == "action:5432109876.738474920.bbbb"
    assert pressed.action_id == "prompt-suggest" and pressed.value == "language"
    assert pressed.message == MessageRef(NORTH, ROOT)
    # The thread's first message is in the channel: the answer is too, where it was pressed.
    assert pressed.origin.thread is None
    assert pressed.origin.user.name == "Sam Okafor"
    assert pressed.origin.handle == "5432109876.738474920.bbbb"
    assert pressed.at == at("1700001400.123456")


def test_a_button_on_a_reply_in_a_thread_is_answered_in_that_thread() -> None:
    body = load("block_actions")
    reply = "1700000000.000200"
    body["container"] = body["container"] | {"message_ts": reply}
    body["message"] = body["message"] | {"ts": reply}
    pressed = from_block_actions(body, NAMES, NOW)
    assert pressed is not None and pressed.origin.thread == ThreadRef(NORTH, ROOT)


def test_a_button_in_the_home_tab_answers_by_direct_message() -> None:
    body = load("block_actions")
    body["container"] = {"type": "view", "view_id": "VHOME1"}
    del body["channel"], body["message"]
    pressed = from_block_actions(body, Names(), NOW)
    assert pressed is not None and pressed.message is None
    assert pressed.origin.channel.is_direct and pressed.origin.user.name == "sam.okafor"


def test_a_form_submission_brings_back_values_context_and_origin() -> None:
    submitted = from_view_submission(load("view_submission"), Names(), NOW)
    assert isinstance(submitted, FormSubmitted)
    assert submitted.event_id == "view:V0FORM1" and submitted.form_id == "feedback"
    assert submitted.context == "event:42"
    assert submitted.values == (
        ("topic", "language"),
        ("useful", "4"),
        ("thoughts", "It felt like a safe space.\nMore please."),
        ("note", ""),
        ("when", "2025-12-01T10:00:00+00:00"),
    )
    assert submitted.origin.channel == NORTH and submitted.origin.channel.name == "north"
    assert submitted.origin.thread == ThreadRef(NORTH, ROOT)
    assert submitted.origin.user == UserRef("slack", "U2PRIYA")


def test_a_modal_copbot_did_not_open_answers_by_direct_message() -> None:
    body = load("view_submission")
    body["view"]["private_metadata"] = "not json"
    submitted = from_view_submission(body, Names(), NOW)
    assert submitted is not None and submitted.origin.channel.is_direct
    assert submitted.origin.channel.workspace == "T1" and submitted.context == ""


# -- membership and home ------------------------------------------------------------------------


def test_copbot_joining_a_channel_is_bot_added_with_the_channels_name() -> None:
    added = event("member_joined_bot")
    assert isinstance(added, BotAddedToChannel)
    assert added.channel == ChannelRef("slack", "C3MIDLANDS", "T1")
    assert added.channel.name == "ips-midlands"
    assert added.by == UserRef("slack", "U2PRIYA")


def test_someone_else_joining_is_member_joined() -> None:
    joined = event("member_joined_person")
    assert isinstance(joined, MemberJoined)
    assert joined.user == UserRef("slack", "U3NEW") and joined.channel == NORTH


def test_opening_the_home_tab() -> None:
    opened = event("app_home_opened")
    assert isinstance(opened, HomeOpened)
    assert opened.event_id == "Ev15HOME" and opened.user == UserRef("slack", "U1SAM")


@pytest.mark.parametrize("name", [p.stem for p in sorted(FIXTURES.glob("*.json"))])
def test_no_event_id_ever_holds_a_user_id(name: str) -> None:
    body = load(name)
    if name.startswith("slash_command"):
        found: Any = from_command(body, NAMES, NOW)
    elif body.get("type") == "block_actions":
        found = from_block_actions(body, NAMES, NOW)
    elif body.get("type") == "view_submission":
        found = from_view_submission(body, NAMES, NOW)
    else:
        found = from_event(body, ME, NAMES, NOW)
    if found is not None:
        assert not any(user in found.event_id for user in ("U1SAM", "U2PRIYA", "U9ADMIN", "U3NEW"))


# -- what doesn't fit ------------------------------------------------------------------------


def read_event(payload: dict[str, Any]) -> Any:
    """What the adapter does: the lookups first, then the translation."""
    lookups_for_event(payload)
    return from_event(payload, ME, NAMES, NOW)


def with_event(name: str, **fields: Any) -> dict[str, Any]:
    payload = load(name)
    payload["event"] |= fields
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(with_event("member_joined_person", channel={"id": "C1"}), id="channel_obj"),
        pytest.param(with_event("message_deleted", deleted_ts={"ts": "1"}), id="deleted_ts_obj"),
        pytest.param(with_event("message_thread_reply", ts=None), id="ts_null"),
        pytest.param(with_event("message_thread_reply", ts="abc"), id="ts_abc"),
        pytest.param(with_event("message_thread_reply", ts="-1700000000.1"), id="ts_negative"),
        pytest.param(with_event("message_thread_reply", ts="1" * 300), id="ts_300_digits"),
        pytest.param(with_event("message_thread_reply", ts=1e308), id="ts_1e308"),
        pytest.param(with_event("message_thread_reply", user={"id": "U1"}), id="user_obj"),
        pytest.param(with_event("message_thread_reply", text=7), id="text_a_number"),
        pytest.param(with_event("message_changed", message="x"), id="message_a_string"),
        pytest.param(with_event("app_mention", channel=["C1"]), id="mention_channel_list"),
    ],
)
def test_a_payload_that_does_not_fit_is_malformed_not_stored_as_its_string_form(
    payload: dict[str, Any],
) -> None:
    with pytest.raises(Malformed) as refused:
        read_event(payload)
    assert "{" not in str(refused.value) and "abc" not in str(refused.value)  # names, not values


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("block_actions", {"actions": [{"action_id": "a", "value": {"x": 1}}]}),
        ("block_actions", {"container": {"type": "message", "channel_id": {"id": "C1"}}}),
        ("block_actions", {"user": {"id": 5}}),
    ],
)
def test_interactivity_that_does_not_fit_is_malformed(name: str, edit: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        from_block_actions(load(name) | edit, NAMES, NOW)


@pytest.mark.parametrize("value", ["x", 1e20, 10**20, True, -5])
def test_a_date_time_that_is_not_a_time_is_malformed(value: Any) -> None:
    payload = load("view_submission")
    element = {"type": "datetimepicker", "selected_date_time": value}
    payload["view"]["state"] = {"values": {"when": {"when": element}}}
    with pytest.raises(Malformed):
        from_view_submission(payload, NAMES, NOW)


def test_a_lone_surrogate_becomes_a_replacement_character_and_pairs_survive() -> None:
    assert clean("a\ud800b") == "a\ufffdb"
    assert clean("\U0001f600") == "\U0001f600"
    assert clean("a\ud83d\ude00") == "a\U0001f600"  # a pair JSON spelled as two escapes
    posted = from_event(with_event("message_top_level", text="x\udfff"), ME, NAMES, NOW)
    assert isinstance(posted, MessagePosted) and posted.text == "x\ufffd"
    posted.text.encode("utf-8")  # storable


def test_garbled_or_deep_form_metadata_reads_as_a_direct_message() -> None:
    for text in ("[" * 1400 + "]" * 1400, '{"channel": {"id": "C1"}}', "null", "{"):
        origin = metadata.decode(text, "T1")
        assert origin.channel.is_direct and origin.channel.id == "" and origin.thread is None


def test_whose_workspace() -> None:
    assert not ME.foreign(*event_teams(load("message_thread_reply")))
    assert ME.foreign(*event_teams(load("message_thread_reply") | {"team_id": "T2"}))
    assert ME.foreign(*event_teams({"team_id": "T1", "authorizations": [{"team_id": "T2"}]}))
    assert not ME.foreign(*event_teams({"authorizations": [{"team_id": "T1"}]}))
    assert ME.foreign(*interaction_teams(load("block_actions") | {"team": {"id": "T2"}}))
    assert not Me("UBOT", "BBOT", "").foreign("T2")  # identity unknown: nothing to compare
