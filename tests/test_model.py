from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import codec
from bot.model import (
    BotAddedToChannel,
    Button,
    ButtonPressed,
    Buttons,
    ChannelKind,
    ChannelRef,
    CommandReceived,
    Context,
    Fields,
    FormSubmitted,
    HomeOpened,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    MessageRef,
    Origin,
    OutgoingMessage,
    Role,
    Text,
    ThreadRef,
    UserRef,
)

texts = st.text(max_size=40)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_.", min_size=1, max_size=12)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
channels = st.builds(
    ChannelRef,
    st.sampled_from(["slack", "teams", "local"]),
    ids,
    ids,
    texts,
    st.sampled_from(list(ChannelKind)),
)
users = st.builds(UserRef, st.sampled_from(["slack", "teams", "local"]), ids, texts)
messages = st.builds(MessageRef, channels, ids, st.none() | ids)
origins = st.builds(Origin, users, channels, st.none() | st.builds(ThreadRef, channels, ids), texts)
events = st.one_of(
    st.builds(MessagePosted, ids, messages, users, texts, moments, st.booleans()),
    st.builds(MessageEdited, ids, messages, texts, moments, st.none() | users),
    st.builds(MessageDeleted, ids, messages, moments),
    st.builds(CommandReceived, ids, origins, texts, moments),
    st.builds(ButtonPressed, ids, origins, ids, texts, moments, st.none() | messages),
    st.builds(
        FormSubmitted, ids, origins, ids, st.lists(st.tuples(ids, texts)).map(tuple), moments, texts
    ),
    st.builds(BotAddedToChannel, ids, channels, moments, st.none() | users),
    st.builds(MemberJoined, ids, channels, users, moments),
    st.builds(HomeOpened, ids, users, moments),
)


@given(events)
def test_every_inbound_event_survives_the_inbox_encoding(event: object) -> None:
    decoded = codec.decode_event(codec.encode_event(event))  # type: ignore[arg-type]
    assert decoded == event
    assert type(decoded) is type(event)
    # names are not part of identity equality, so check they survive too
    assert codec.encode_event(decoded) == codec.encode_event(event)  # type: ignore[arg-type]


def test_outgoing_messages_round_trip_with_every_block() -> None:
    message = OutgoingMessage(
        (
            Text("**hi**"),
            Fields((("When", "Tuesday"), ("Where", "#north"))),
            Buttons((Button("prompt.suggest", "Suggest a prompt", "x"),)),
            Context("small print"),
        )
    )
    assert codec.loads(OutgoingMessage, codec.dumps(message)) == message


def test_identities_are_platform_and_id() -> None:
    user = UserRef.parse("teams:29f1c8e2-aaaa", "Ade")
    assert (user.platform, user.id, user.identity) == (
        "teams",
        "29f1c8e2-aaaa",
        "teams:29f1c8e2-aaaa",
    )
    # a display name is not part of who someone is
    assert user == UserRef("teams", "29f1c8e2-aaaa", "Someone else")
    for bad in ["U123", ":U1", "slack:", "sl4ck:U1", ""]:
        with pytest.raises(ValueError, match="platform:id"):
            UserRef.parse(bad)


def test_roles_are_ordered_and_parse_friendly() -> None:
    assert Role.STAFF < Role.FACILITATOR < Role.ADMIN
    assert Role.parse(" Admin ") is Role.ADMIN
    with pytest.raises(ValueError, match="staff, facilitator, admin"):
        Role.parse("boss")


def test_threads_and_direct_messages_are_fields_not_payload_digging() -> None:
    channel = ChannelRef("slack", "D1", "T1", kind=ChannelKind.DIRECT)
    reply = MessageRef(channel, "2.0", thread_root="1.0")
    posted = MessagePosted("e", reply, UserRef("slack", "U1"), "hi", datetime.now(UTC))
    assert posted.is_direct
    assert posted.thread == ThreadRef(channel, "1.0")
    assert MessageRef(channel, "1.0").thread is None
    assert MessageRef(channel, "1.0").as_thread == ThreadRef(channel, "1.0")


def test_plain_text_is_derived_from_blocks() -> None:
    message = OutgoingMessage.of("Hello", Fields((("Region", "North"),)), Context("note"))
    assert message.plain_text == "Hello\nRegion: North\nnote"
    assert OutgoingMessage.of("x").plain_text == "x"


@pytest.mark.parametrize("platform", ["slack", "teams", "local"])
def test_names_from_any_platform_are_one_line_without_control_characters(platform: str) -> None:
    from bot.model import ChannelRef, UserRef

    assert UserRef(platform, "U1", "Sam\x00 \x9bOkafor\r\n").name == "Sam Okafor"
    assert UserRef(platform, "U1", "Sam\tOkafor").display == "Sam Okafor"
    assert ChannelRef(platform, "C1", "T1", "ips\x1b-north\x85").label == "#ips-north"
    ordinary = "Zoë 👩🏽‍⚕️ O’Neill"  # not printable to Python (a joiner), and kept as it is
    assert UserRef(platform, "U1", ordinary).name == ordinary
