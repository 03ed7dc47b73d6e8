"""Teams activities (shaped like Microsoft's documented examples) in, neutral events out."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.teams import cards
from adapters.teams import text as teams_text
from adapters.teams.text import command_text, own_name, plain_text
from adapters.teams.translate import (
    Known,
    from_activity,
    split_conversation,
    team_change,
    team_events,
)
from bot.model import (
    BotAddedToChannel,
    BotRemovedFromChannel,
    ButtonPressed,
    ChannelKind,
    ChannelRef,
    ChannelRenamed,
    CommandReceived,
    DateTimeField,
    Form,
    FormSubmitted,
    LongText,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Origin,
    ShortText,
    ThreadRef,
    UserRef,
    too_long,
)

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NORTH = "19:north@thread.tacv2"
TEAM = "19:general@thread.tacv2"
BOT = "28:00000000-0000-0000-0000-00000000b0b0"
KNOWN = Known(me=BOT, channels={NORTH: "North", TEAM: "General"})


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_a_mention_of_copbot_in_a_channel_is_a_command() -> None:
    event = from_activity(fixture("channel_command"), KNOWN, NOW)
    assert isinstance(event, CommandReceived)
    assert event.text == "prompt language"
    assert event.event_id == f"msg:{NORTH}:1700000000001"
    assert event.origin.user == UserRef("teams", "aad-sam-0001")
    assert event.origin.user.name == "Sam Okafor"
    # Channel names come from what copbot stored, never from the activity (it has none).
    assert event.origin.channel == ChannelRef("teams", NORTH, TENANT)
    assert event.origin.channel.name == "North"


def test_people_mentioned_in_a_command_are_named_by_aad_object_id() -> None:
    known = Known(me=BOT, people={"29:1priya-teams-id": "aad-priya-0002"})
    event = from_activity(fixture("role_grant_mention"), known, NOW)
    assert isinstance(event, CommandReceived)
    assert event.text == "role grant facilitator <@teams:aad-priya-0002>"


def test_a_person_copbot_cannot_name_stays_a_name_the_core_refuses() -> None:
    event = from_activity(fixture("role_grant_mention"), KNOWN, NOW)
    assert isinstance(event, CommandReceived)
    assert event.text == "role grant facilitator @Priya Shah"


# How Teams writes a quoted reply: its own copy of the message quoted, above the words.
QUOTE = (
    '<blockquote itemscope="" itemtype="http://schema.skype.com/Reply" itemid="1700000000050">'
    '<strong itemprop="mri" itemid="8:orgid:aad-priya-0002">Priya Shah</strong>'
    '<span itemprop="time" itemid="1700000000050"></span>'
    '<p itemprop="preview">What I said about my client</p></blockquote>'
)


def test_a_quoted_reply_starting_with_copbot_is_a_command_without_the_quote() -> None:
    activity = fixture("channel_command")
    activity["text"] = QUOTE + activity["text"]
    event = from_activity(activity, KNOWN, NOW)
    assert isinstance(event, CommandReceived)
    assert event.text == "prompt language"
    update = fixture("message_update") | {"entities": activity["entities"]}
    update["text"] = activity["text"]
    edited = from_activity(update, KNOWN, NOW)
    assert isinstance(edited, MessageEdited) and edited.asked == "prompt language"


def test_a_quoted_reply_keeps_only_its_own_words() -> None:
    # The quote is Teams' copy of someone else's message, which may since have been deleted
    # or its author opted out: never kept again under this reply.
    activity = fixture("channel_reply")
    activity["text"] = "Same here"
    activity["attachments"] = [{"contentType": "text/html", "content": QUOTE + "<p>Same here</p>"}]
    activity["entities"] = []
    event = from_activity(activity, KNOWN, NOW)
    assert isinstance(event, MessagePosted)
    assert event.text == "Same here"


def test_a_reply_in_a_thread_is_plain_text_tied_to_its_root() -> None:
    event = from_activity(fixture("channel_reply"), KNOWN, NOW)
    assert isinstance(event, MessagePosted)
    assert event.message.thread_root == "1700000000001"
    assert event.message.id == "1700000000100"
    assert event.text == (
        "I've been thinking about naming & @Priya Shah said it well.\n"
        "See this (https://example.org/x)"
    )
    assert "<" not in event.text and "&amp;" not in event.text
    assert event.at == datetime(2026, 11, 30, 10, 0, 0, 123000, tzinfo=UTC)


def test_a_top_level_channel_message_roots_its_own_thread() -> None:
    event = from_activity(fixture("channel_top_level"), KNOWN, NOW)
    assert isinstance(event, MessagePosted)
    assert event.message.thread_root is None
    assert event.text == "A new topic for the channel"


def test_the_whole_text_is_the_command_in_the_personal_chat_with_or_without_cop() -> None:
    event = from_activity(fixture("personal_command"), KNOWN, NOW)
    assert isinstance(event, CommandReceived)
    assert event.text == "search privilege"
    assert event.origin.channel.kind is ChannelKind.DIRECT
    bare = fixture("personal_command") | {"text": "help"}
    again = from_activity(bare, KNOWN, NOW)
    assert isinstance(again, CommandReceived) and again.text == "help"


@pytest.mark.parametrize("said", ["@copbot help", "copbot help", "Copbot: help", "cop help"])
def test_the_personal_chat_takes_a_command_written_as_copbot_says_to(said: str) -> None:
    # Every answer says "type @copbot help"; in the 1:1 chat that arrives as plain text.
    event = from_activity(fixture("personal_command") | {"text": said}, KNOWN, NOW)
    assert isinstance(event, CommandReceived) and event.text == "help"


@pytest.mark.parametrize("said", ["@IPS CoP help", "@ips cop: help", "@copbot help", "help"])
def test_the_personal_chat_takes_a_command_written_with_the_apps_own_name(said: str) -> None:
    renamed = replace(KNOWN, name="IPS CoP")
    event = from_activity(fixture("personal_command") | {"text": said}, renamed, NOW)
    assert isinstance(event, CommandReceived) and event.text == "help"


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("IPS CoP", "IPS CoP"),
        (" North CoP ", "North CoP"),
        ("`x`", None),
        ("a" * 31, None),
        ("<b>x</b>", None),
        ("@x", None),
        ("", None),
        (7, None),
    ],
)
def test_copbots_name_comes_from_a_mention_of_it_alone(name: object, taken: str | None) -> None:
    mention = {"type": "mention", "mentioned": {"id": "28:bot", "name": name}}
    someone = {"type": "mention", "mentioned": {"id": "29:sam", "name": "Sam"}}
    called = name.strip() if isinstance(name, str) else "copbot"
    assert own_name([someone, mention], "28:bot", called) == taken
    assert own_name([someone], "28:bot", called) is None
    assert own_name("x", "28:bot", called) is None


@pytest.mark.parametrize("called", ["copbot", "", None, 7])
def test_a_mention_naming_copbot_otherwise_than_teams_does_is_not_taken(called: object) -> None:
    """A mention's entity comes with the message, as the sender's client (or Graph) wrote
    it: one person's word for copbot's name would be in every answer, for everyone."""
    mention = {"type": "mention", "mentioned": {"id": "28:bot", "name": "copbot optout"}}
    assert own_name([mention], "28:bot", called) is None


def test_an_edit_of_a_bots_message_names_no_poster() -> None:
    # A bot's messages are never archived, so an early edit of one must not be kept.
    activity = fixture("message_update")
    activity["from"] = activity["from"] | {"role": "bot"}
    edited = from_activity(activity, KNOWN, NOW)
    assert isinstance(edited, MessageEdited) and edited.posted_by is None


def test_an_edit_says_what_it_asks_copbot_when_it_starts_with_a_mention_of_it() -> None:
    # Edited into a command, a message leaves the archive (the core decides: see
    # Registry.conversation); named in passing, copbot is asked nothing.
    command = fixture("channel_command")
    update = fixture("message_update") | {"entities": command["entities"]}
    update["text"] = command["text"]
    edited = from_activity(update, KNOWN, NOW)
    assert isinstance(edited, MessageEdited) and edited.asked == "prompt language"
    update["text"] = "<p>Thanks <at>copbot</at>, that helped</p>"
    edited = from_activity(update, KNOWN, NOW)
    assert isinstance(edited, MessageEdited) and edited.asked is None
    assert edited.posted_by is not None


def test_an_edit_and_a_second_edit_of_the_same_message_are_different_events() -> None:
    first = from_activity(fixture("message_update"), KNOWN, NOW)
    assert isinstance(first, MessageEdited)
    assert first.message.id == "1700000000100"
    assert first.message.thread_root == "1700000000001"
    assert first.text == "I've been thinking about naming, edited"
    # A Teams message's id is when it was posted, in milliseconds.
    assert first.posted_at == datetime(2023, 11, 14, 22, 13, 20, 100000, tzinfo=UTC)
    assert first.posted_by is not None and first.posted_by == first.editor
    garbled = from_activity(fixture("message_update") | {"id": "9" * 40}, KNOWN, NOW)
    assert isinstance(garbled, MessageEdited) and garbled.posted_at is None
    # Teams reuses the message's activity id for every edit.
    second = from_activity(
        fixture("message_update")
        | {"timestamp": "2026-11-30T10:07:00.000Z", "text": "<p>edited again</p>"},
        KNOWN,
        NOW,
    )
    assert isinstance(second, MessageEdited)
    assert second.event_id != first.event_id
    # A redelivery of the first edit is recognised as the same event.
    redelivered = from_activity(fixture("message_update"), KNOWN, NOW)
    assert redelivered is not None and redelivered.event_id == first.event_id


def test_a_soft_delete_deletes_and_an_undelete_is_ignored() -> None:
    event = from_activity(fixture("message_delete"), KNOWN, NOW)
    assert isinstance(event, MessageDeleted)
    assert event.message.id == "1700000000100"
    undelete = fixture("message_delete")
    undelete["channelData"]["eventType"] = "undeleteMessage"
    assert from_activity(undelete, KNOWN, NOW) is None


def test_copbots_own_messages_are_ignored() -> None:
    own = fixture("channel_top_level") | {"from": {"id": BOT, "name": "copbot"}}
    assert from_activity(own, KNOWN, NOW) is None


def test_a_card_button_is_a_button_press_on_the_card() -> None:
    event = from_activity(fixture("card_button"), KNOWN, NOW)
    assert isinstance(event, ButtonPressed)
    assert (event.action_id, event.value) == ("rsvp:yes", "event-7")
    assert event.message is not None and event.message.id == "1700000000001"
    assert event.event_id == f"act:{NORTH}:1700000000400"


def test_action_execute_is_a_button_press_too() -> None:
    event = from_activity(fixture("adaptive_card_action"), KNOWN, NOW)
    assert isinstance(event, ButtonPressed)
    assert (event.action_id, event.value) == ("prompt:another", "language")


def test_a_form_submission_goes_back_where_the_form_was_opened() -> None:
    event = from_activity(fixture("form_submit"), KNOWN, NOW)
    assert isinstance(event, FormSubmitted)
    assert event.form_id == "prompt-suggest"
    assert event.values == (("topic", "language"), ("text", "Talk about names"))
    assert event.context == "ctx-1"
    assert event.origin.channel == ChannelRef("teams", NORTH, TENANT)
    assert event.origin.thread == ThreadRef(event.origin.channel, "1700000000001")
    assert event.origin.user.id == "aad-sam-0001"


def test_an_anonymous_form_submission_holds_nothing_of_the_person() -> None:
    activity = fixture("form_submit_anonymous")
    event = from_activity(activity, KNOWN, NOW)
    assert isinstance(event, FormSubmitted)
    assert event.origin.user.is_anonymous
    assert event.values == (("rating", "4"), ("comment", "Good session"))
    assert event.event_id == "act:1700000000600"
    text = repr(event)
    for trace in ("aad-sam", "29:1sam", "Sam Okafor", "a:1personal"):
        assert trace not in text


def test_a_form_card_round_trips_to_the_same_values() -> None:
    form = Form(
        "event",
        "Schedule a session",
        (ShortText("title", "Title"), LongText("notes", "Notes"), DateTimeField("when", "When")),
    )
    channel = ChannelRef("teams", NORTH, TENANT)
    card = cards.form_card(form, Origin(UserRef("teams", "aad-sam-0001"), channel))
    data = dict(card["actions"][0]["data"])
    data |= {"f.title": "North", "f.notes": "x" * 5000, "f.when.date": "2026-12-01"}
    data["f.when.time"] = "10:00"
    activity = fixture("form_submit") | {"value": data}
    event = from_activity(activity, KNOWN, NOW)
    assert isinstance(event, FormSubmitted)
    assert dict(event.values) == {"title": "North", "notes": "x" * 5000, "when": "2026-12-01T10:00"}
    # Never cut short: over its field's 3,000, it is refused in words before it is kept.
    assert cards.too_long_values(data) == {"notes": too_long("x" * 5000, 3000)}
    del data["f.notes"]
    assert cards.too_long_values(data) == {}


def test_anonymous_form_cards_carry_nothing_of_where_they_were_opened() -> None:
    form = Form("feedback", "Feedback", (ShortText("c", "Comment"),), anonymous=True)
    direct = ChannelRef("teams", "a:1personal-chat-with-sam", TENANT, kind=ChannelKind.DIRECT)
    card = cards.form_card(form, Origin(UserRef("teams", "aad-sam-0001"), direct))
    assert "a:1personal" not in json.dumps(card)
    assert "aad-sam" not in json.dumps(card)


def test_copbot_added_to_a_one_to_one_chat_greets_but_an_app_upgrade_does_not() -> None:
    # Every new version of the app package reaches each person's chat as "add-upgrade":
    # a hello then, to everyone, would repeat itself at every upgrade.
    chat = {"conversationType": "personal", "tenantId": TENANT, "id": "a:1personal-chat-sam"}
    added = fixture("installation_update_add") | {"conversation": chat, "action": "add"}
    event = from_activity(added, KNOWN, NOW)
    assert isinstance(event, BotAddedToChannel) and event.channel.is_direct
    assert from_activity(added | {"action": "add-upgrade"}, KNOWN, NOW) is None
    assert from_activity(added | {"action": "remove"}, KNOWN, NOW) is None


def test_installation_in_a_team_adds_every_channel_and_greets_only_in_general() -> None:
    change = team_change(fixture("installed_in_team"))
    assert change is not None and change.kind == "installed" and change.team == TEAM
    events = team_events(change, {TEAM: "General", NORTH: "North"}, "f:install-1", NOW)
    assert all(isinstance(e, BotAddedToChannel) for e in events)
    greeted = {e.channel.id: e.greet for e in events if isinstance(e, BotAddedToChannel)}
    assert greeted == {TEAM: True, NORTH: False}
    assert {e.channel.name for e in events if isinstance(e, BotAddedToChannel)} == {
        "General",
        "North",
    }


@pytest.mark.parametrize(
    ("name", "kind", "event_type"),
    [
        ("channel_created", "channel_created", BotAddedToChannel),
        ("channel_renamed", "channel_renamed", ChannelRenamed),
        ("channel_deleted", "channel_deleted", BotRemovedFromChannel),
        ("removed_from_team", "removed", BotRemovedFromChannel),
    ],
)
def test_channel_and_team_changes_are_followed(name: str, kind: str, event_type: type) -> None:
    change = team_change(fixture(name))
    assert change is not None and change.kind == kind
    events = team_events(change, {"19:midlands@thread.tacv2": "Midlands"}, "x", NOW)
    assert events and all(isinstance(e, event_type) for e in events)
    if kind == "channel_renamed":
        assert events[0].channel.name == "IPS Midlands"  # type: ignore[union-attr]


def test_thread_conversation_ids_split_into_channel_and_root() -> None:
    assert split_conversation(f"{NORTH};messageid=17") == (NORTH, "17")
    assert split_conversation(NORTH) == (NORTH, None)
    assert split_conversation("a:1chat") == ("a:1chat", None)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_plain_text_never_leaves_tags_or_raises(html: str) -> None:
    text = plain_text(html)
    assert "<at>" not in text and "</p>" not in text


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(max_size=100))
def test_command_text_never_raises(html: str) -> None:
    command_text(f"<at>copbot</at> {html}", [BOT, None, "aad-1"], BOT)


def test_the_same_message_id_in_two_channels_is_two_events() -> None:
    north = from_activity(fixture("channel_top_level"), KNOWN, NOW)
    general = fixture("channel_top_level")
    general["channelData"]["channel"]["id"] = TEAM
    general["conversation"]["id"] = f"{TEAM};messageid=1700000000200"
    other = from_activity(general, KNOWN, NOW)
    assert north is not None and other is not None
    assert north.event_id != other.event_id


def test_a_button_that_opens_a_form_asks_for_a_dialog_and_others_do_not() -> None:
    from bot.model import Button, Buttons, OutgoingMessage

    message = OutgoingMessage(
        (Buttons((Button("a.form", "Suggest", opens_form=True), Button("a.plain", "Yes"))),)
    )
    [row] = cards.card(message)["body"]
    form, plain = row["actions"]
    assert form["data"]["msteams"] == {"type": "task/fetch"}
    assert "msteams" not in plain["data"]


def test_a_task_fetch_is_a_press_whose_handle_names_its_invoke() -> None:
    from adapters.teams.translate import invoke_of

    event = from_activity(fixture("task_fetch"), replace(KNOWN, invoke="tok-1"), NOW)
    assert isinstance(event, ButtonPressed)
    assert (event.action_id, event.value) == ("prompt.suggest", "language")
    assert event.origin.user.id == "aad-sam-0001"
    assert invoke_of(event.origin.handle) == "tok-1"
    plain = from_activity(fixture("card_button"), replace(KNOWN, invoke=""), NOW)
    assert isinstance(plain, ButtonPressed) and invoke_of(plain.origin.handle) == ""


def test_a_task_submit_is_a_form_and_an_anonymous_one_names_nobody() -> None:
    from adapters.teams.translate import anonymous_submission

    event = from_activity(fixture("task_submit"), KNOWN, NOW)
    assert isinstance(event, FormSubmitted)
    assert dict(event.values)["text"] == "What do we call people?"
    assert event.origin.user.id == "aad-sam-0001" and not anonymous_submission(
        fixture("task_submit")
    )
    anonymous = fixture("task_submit")
    anonymous["value"]["data"] = fixture("form_submit_anonymous")["value"]
    assert anonymous_submission(anonymous)
    hidden = from_activity(anonymous, KNOWN, NOW)
    assert isinstance(hidden, FormSubmitted)
    assert hidden.origin.user.is_anonymous and hidden.origin.handle == ""
    assert "aad-sam" not in hidden.event_id and NORTH not in hidden.event_id


@pytest.mark.parametrize(
    "handle", ["", "not json", "{", '{"invoke": 7}', '["invoke"]', '{"conversation":"a"}']
)
def test_a_handle_without_an_invoke_names_none(handle: str) -> None:
    from adapters.teams.translate import invoke_of

    assert invoke_of(handle) == ""


def test_a_dialog_shows_problems_beside_their_fields_and_keeps_what_was_written() -> None:
    from bot.model import Choice, Rating

    form = Form(
        "f",
        "A form",
        (
            Rating("r", "Rate"),
            Choice("c", "Pick", (("a", "A"), ("b", "B"))),
            LongText("t", "Say"),
            DateTimeField("d", "When"),
        ),
        context="ctx",
    )
    origin = Origin(UserRef("teams", "aad-x"), ChannelRef("teams", NORTH, TENANT))
    values = {"r": "3", "c": "b", "t": "half written", "d": "2026-12-01T10:30"}
    doc = cards.dialog(form, origin, {"t": "Too short."}, values)
    card = doc["task"]["value"]["card"]["content"]
    by_id = {b.get("id"): i for i, b in enumerate(card["body"])}
    body = card["body"]
    assert body[by_id["f.r"]]["value"] == "3" and body[by_id["f.c"]]["value"] == "b"
    assert body[by_id["f.t"]]["value"] == "half written"
    assert body[by_id["f.d.date"]]["value"] == "2026-12-01"
    assert body[by_id["f.d.time"]]["value"] == "10:30"
    assert body[by_id["f.t"] + 1] == {
        "type": "TextBlock",
        "text": "Too short.",
        "color": "Attention",
        "wrap": True,
        "spacing": "None",
    }
    data = card["actions"][0]["data"]
    assert cards.form_spec(data, "ctx") == form  # shown again from the dialog's own data
    assert cards.form_spec(data | {"spec": {"__type__": "Form", "fields": 3}}, "ctx") is None


@given(
    st.text(alphabet=st.characters(blacklist_characters="\u200b", max_codepoint=0x2FF))
    | st.text(alphabet=st.sampled_from("ab `*_[]()\\\n"))
)
def test_what_people_wrote_shows_as_written_and_never_as_teams_markup(text: str) -> None:
    """Teams honours no backslash escape: what people wrote must not become a link or bold
    in copbot's own message, and must read as they wrote it."""
    from bot.markup import escape

    shown = cards.markdown(escape(text))
    assert shown.replace("\u200b", "") == text
    assert "](" not in shown and "**" not in shown and "__" not in shown


def test_a_link_in_an_anonymous_reply_is_no_link_on_teams() -> None:
    from bot.markup import escape

    phishing = "[Reset your NHS password here](https://evil.example/login) **URGENT from IT**"
    shown = cards.markdown(f"**Anonymous participant**\n{escape(phishing)}")
    assert shown.startswith("**Anonymous participant**\n")  # copbot's own markup stays
    assert "](https://evil.example" not in shown and "**URGENT" not in shown


SIMPLE_TAGS = ["<p>", "</p>", "<div>", "</div>", "<br>", "<br/>", "<br />"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=20),
            st.sampled_from(SIMPLE_TAGS),
        ),
        max_size=12,
    )
)
def test_a_simple_message_reads_as_the_html_parser_reads_it(parts: list[str]) -> None:
    # Paragraphs of plain words take a shorter way than the HTML parser: it must be taken,
    # and give the same text. An empty <span> sends the same message the parser's way.
    html = "".join(parts)
    assert teams_text._SIMPLE.fullmatch(html)
    assert plain_text(html) == plain_text(html + "<span></span>")


# What _SIMPLE matched when it was written one alternative a character: the runs-of-words
# form must match exactly the same messages.
ONE_A_CHARACTER = re.compile(r"(?:[^<&]|</?(?:p|div)>|<br ?/?>)*")


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text(alphabet="<>/pdivbr &x\n", max_size=24))
def test_the_simple_form_matches_what_it_always_matched(html: str) -> None:
    assert bool(teams_text._SIMPLE.fullmatch(html)) == bool(ONE_A_CHARACTER.fullmatch(html))
