"""Neutral messages and forms as Block Kit, within Slack's limits (adapters/slack/blocks.py)."""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from adapters.slack import metadata
from adapters.slack.blocks import (
    SHORTENED,
    fallback_text,
    home_view,
    message_blocks,
    message_payload,
    modal,
    mrkdwn,
    split_mrkdwn,
)
from adapters.slack.translate import submission_values
from bot.markup import escape as escape_markup
from bot.model import (
    Button,
    Buttons,
    ButtonStyle,
    ChannelRef,
    Choice,
    Context,
    DateTimeField,
    Fields,
    Form,
    LongText,
    Origin,
    OutgoingMessage,
    Rating,
    ShortText,
    Text,
    ThreadRef,
    UserRef,
)

LONDON = ZoneInfo("Europe/London")
TOKEN = re.compile(r"<[^>]*>")
LINK_TOKEN = re.compile(r"^<https?://[^\s|<>]+\|[^<>]+>$")
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")

# Text that tries hard to be a Slack control sequence.
nasty = st.lists(
    st.sampled_from(
        [*"<>&|!@#[]()`*_~ \n:/.^x", "http", "https://", "channel", "here", "U1", "C1", "amp;"]
    ),
    max_size=60,
).map("".join) | st.text(max_size=60)


def test_markup_becomes_slack_mrkdwn() -> None:
    assert mrkdwn("**Bold** and _italic_ and `code`") == "*Bold* and _italic_ and `code`"
    assert mrkdwn("Read [the guide](https://example.org/a?b=1&c=2) now") == (
        "Read <https://example.org/a?b=1&amp;c=2|the guide> now"
    )
    assert mrkdwn("Tom & Jerry <3 > 2") == "Tom &amp; Jerry &lt;3 &gt; 2"
    assert mrkdwn("`<!channel>` stays code") == "`&lt;!channel&gt;` stays code"
    assert mrkdwn("**see [this](https://x.org)**") == "*see <https://x.org|this>*"
    assert mrkdwn("[a|b](https://x.org/a|b<c>)") == "<https://x.org/a%7Cb%3Cc%3E|a|b>"


@given(nasty)
@example("<!channel> <@U123> <#C1|north> <https://evil.example|click>")
@example("[x](https://ok.example/<!channel>)")
@example("&lt;!here&gt;")
def test_no_text_becomes_a_mention_or_a_link_it_did_not_ask_for(text: str) -> None:
    out = mrkdwn(text)
    tokens = TOKEN.findall(out)
    assert all(LINK_TOKEN.match(t) for t in tokens), tokens
    asked_for = LINK.findall(CODE.sub("C", text.replace("\x00", "")))
    assert len(tokens) == len(asked_for)
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", out)
    assert out.count("<") == out.count(">") == len(tokens)


@given(nasty)
def test_escaped_text_formats_nothing_and_links_nothing(text: str) -> None:
    out = mrkdwn(escape_markup(text))
    assert TOKEN.findall(out) == []  # no link, mention or <!channel>
    # every *, _ and ` stands alone between zero-width spaces, so none pairs up
    bare = (
        out.replace("\u200b*\u200b", "").replace("\u200b_\u200b", "").replace("\u200b`\u200b", "")
    )
    assert not set("*_`") & set(bare)
    assert bare.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") == re.sub(
        "[*_`]", "", text.replace("\x00", "")
    )


@given(st.text(max_size=300))
def test_any_text_block_is_valid_block_kit(text: str) -> None:
    blocks = message_blocks(OutgoingMessage((Text(text), Context(text))))
    for block in blocks:
        inner = (
            block["text"]["text"] if block["type"] == "section" else block["elements"][0]["text"]
        )
        assert inner.strip() and len(inner) <= 3000


def test_long_text_is_split_at_lines_then_words_within_slacks_limit() -> None:
    lines = [f"Line {n}: " + "reflection " * 20 for n in range(60)]
    text = "\n".join(lines)
    sections = [b["text"]["text"] for b in message_blocks(OutgoingMessage.of(text))]
    assert len(sections) > 1 and all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections) == text  # split only where lines meet
    one_line = "word " * 1500
    pieces = split_mrkdwn(one_line, 3000)
    assert len(pieces) == 3 and all(len(p) <= 3000 for p in pieces)
    assert " ".join(pieces).split() == one_line.split()
    ampersands = split_mrkdwn("&" * 4000, 3000)
    assert all(len(p) <= 3000 for p in ampersands)
    assert "".join(ampersands) == "&amp;" * 4000


def test_more_than_50_blocks_are_cut_with_a_note() -> None:
    message = OutgoingMessage(tuple(Text(f"Point {n}") for n in range(70)))
    blocks = message_blocks(message)
    assert len(blocks) == 50
    assert blocks[48]["text"]["text"] == "Point 48"
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": SHORTENED}]}
    assert len(home_view(message)["blocks"]) == 70


def test_fields_go_ten_to_a_section_and_fit() -> None:
    pairs = (*((f"Key {n}", f"Value {n} & more") for n in range(23)), ("Long", "x" * 5000))
    sections = message_blocks(OutgoingMessage((Fields(pairs),)))
    assert [len(s["fields"]) for s in sections] == [10, 10, 4]
    assert sections[0]["fields"][0] == {"type": "mrkdwn", "text": "*Key 0*\nValue 0 &amp; more"}
    assert all(len(f["text"]) <= 2000 for s in sections for f in s["fields"])
    assert sections[-1]["fields"][-1]["text"].endswith("…")


def test_buttons_fit_slacks_limits() -> None:
    buttons = tuple(Button(f"act:{n}", f"Option {n}", str(n)) for n in range(30))
    long = Button("rsvp", "R" * 100, "v" * 3000, ButtonStyle.PRIMARY)
    blocks = message_blocks(
        OutgoingMessage((Buttons((*buttons, long, Button("no", "No", style=ButtonStyle.DANGER))),))
    )
    assert [len(b["elements"]) for b in blocks] == [25, 7]
    first = blocks[0]["elements"][0]
    assert first == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Option 0", "emoji": True},
        "action_id": "act:0",
        "value": "0",
    }
    big = blocks[1]["elements"][5]
    assert len(big["text"]["text"]) == 75 and big["text"]["text"].endswith("…")
    assert len(big["value"]) == 2000 and big["style"] == "primary"
    assert blocks[1]["elements"][6]["style"] == "danger" and "value" not in blocks[1]["elements"][6]
    twice = message_blocks(OutgoingMessage((Buttons((Button("a", "A"), Button("a", "B"))),)))
    assert len(twice) == 2  # Slack wants action ids unique within a block


def test_the_notification_text_is_mrkdwn_and_at_most_4000_characters() -> None:
    message = OutgoingMessage.of("**Hello** <team>", "x " * 5000)
    payload = message_payload(message)
    assert payload["text"].startswith("*Hello* &lt;team&gt;")
    assert len(payload["text"]) <= 4000 and payload["text"].endswith("…")
    assert fallback_text(OutgoingMessage((Buttons((Button("a", "A"),)),))) != ""
    json.dumps(payload)


# -- forms --------------------------------------------------------------------------------------

FORM = Form(
    "feedback",
    "How was today's north community of practice session?",
    (
        Choice(
            "topic",
            "Topic",
            (("language", "Use of language"), ("bias", "Unconscious bias")),
            initial="bias",
        ),
        Rating("useful", "How useful was it?", scale=5),
        ShortText("name", "A title", max_length=80, placeholder="A few words", initial="Draft"),
        LongText("thoughts", "What stayed with you?", required=False),
        DateTimeField("when", "When", initial="2026-07-01T10:00"),
    ),
    submit_label="Send my feedback anonymously please",
    intro="Nobody, admins included, can see **who** said what.",
    context="event:42",
)
ORIGIN = Origin(
    UserRef("slack", "U1"),
    ChannelRef("slack", "C1NORTH", "T1", "north"),
    ThreadRef(ChannelRef("slack", "C1NORTH", "T1", "north"), "1700000000.000100"),
    "trigger",
)


def test_a_form_becomes_a_modal() -> None:
    view = modal(FORM, metadata.encode(FORM.context, ORIGIN), LONDON)
    assert view["type"] == "modal" and view["callback_id"] == "feedback"
    assert view["title"]["text"] == "How was today's north c…" and len(view["title"]["text"]) == 24
    assert len(view["submit"]["text"]) == 24 and view["submit"]["text"].endswith("…")
    intro, topic, useful, name, thoughts, when = view["blocks"]
    assert intro["text"]["text"] == "Nobody, admins included, can see *who* said what."
    assert topic["block_id"] == topic["element"]["action_id"] == "topic"
    assert topic["element"]["type"] == "static_select"
    assert topic["element"]["initial_option"] == topic["element"]["options"][1]
    assert "optional" not in topic
    assert [o["value"] for o in useful["element"]["options"]] == ["1", "2", "3", "4", "5"]
    assert useful["element"]["type"] == "radio_buttons"
    assert name["element"] == {
        "type": "plain_text_input",
        "multiline": False,
        "max_length": 80,
        "placeholder": {"type": "plain_text", "text": "A few words", "emoji": True},
        "initial_value": "Draft",
        "action_id": "name",
    }
    assert thoughts["element"]["multiline"] is True and thoughts["optional"] is True
    assert when["element"]["type"] == "datetimepicker"
    assert when["element"]["initial_date_time"] == 1782896400  # 10:00 BST is 09:00 UTC
    came_from = metadata.decode(view["private_metadata"], "T1")
    assert came_from.context == "event:42"
    assert came_from.channel == ORIGIN.channel and came_from.channel.name == "north"
    assert came_from.thread == ORIGIN.thread


def test_what_people_enter_in_the_modal_comes_back_as_values() -> None:
    view = modal(FORM, metadata.encode(FORM.context, ORIGIN), LONDON)
    entered: dict[str, Any] = {
        "topic": {
            "type": "static_select",
            "selected_option": view["blocks"][1]["element"]["options"][0],
        },
        "useful": {"type": "radio_buttons", "selected_option": {"value": "5"}},
        "name": {"type": "plain_text_input", "value": " Words matter "},
        "thoughts": {"type": "plain_text_input", "value": None},
        "when": {"type": "datetimepicker", "selected_date_time": 1782896400},
    }
    state = {
        block["block_id"]: {block["element"]["action_id"]: entered[block["block_id"]]}
        for block in view["blocks"]
        if block["type"] == "input"
    }
    assert submission_values(state) == (
        ("topic", "language"),
        ("useful", "5"),
        ("name", "Words matter"),
        ("thoughts", ""),
        ("when", "2026-07-01T09:00:00+00:00"),
    )


def test_metadata_that_would_not_fit_is_refused_rather_than_cut() -> None:
    with pytest.raises(ValueError, match="too long"):
        metadata.encode("x" * 3000, ORIGIN)
