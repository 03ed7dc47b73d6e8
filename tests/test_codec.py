"""Records are serialised one way, and every stored record survives the trip whole."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import codec, model
from bot.records import ArchiveFilter, ExportLink
from storage.database import Database
from storage.exports import SqliteExportLinkRepository

# Everything copbot writes down as JSON: inbox events, export links' filters, schedules'
# channels, the playground's messages and open forms.
STORED: tuple[type, ...] = (
    *model.INBOUND_EVENT_TYPES,
    ArchiveFilter,
    model.ChannelRef,
    model.OutgoingMessage,
    model.Form,
    model.Channel,
)


@pytest.mark.parametrize("cls", STORED, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_every_stored_record_round_trips_whole(cls: type, data: st.DataObject) -> None:
    value: Any = data.draw(st.from_type(cls))
    assert codec.loads(cls, codec.dumps(value)) == value
    # Fields that compare=False (names) must survive too.
    assert codec.dumps(codec.loads(cls, codec.dumps(value))) == codec.dumps(value)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(event=st.one_of(*(st.from_type(t) for t in model.INBOUND_EVENT_TYPES)))
def test_inbox_events_round_trip_with_their_type(event: model.InboundEvent) -> None:
    decoded = codec.decode_event(codec.encode_event(event))
    assert type(decoded) is type(event) and decoded == event


def test_records_written_before_a_field_existed_still_read() -> None:
    # An export link's filter from before workspaces, and a schedule's channel before kinds.
    old_filter = '{"channel":"north","topic":"","region":"","author":"","since":null,"until":null}'
    assert codec.loads(ArchiveFilter, old_filter) == ArchiveFilter(channel="north")
    old_channel = {"platform": "slack", "id": "C1", "workspace": "T1", "name": "north"}
    assert codec.from_json(model.ChannelRef, old_channel) == model.ChannelRef("slack", "C1", "T1")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(f=st.from_type(ArchiveFilter))
def test_an_export_link_keeps_its_filter_whole(tmp_path_factory: Any, f: ArchiveFilter) -> None:
    db = Database.open(tmp_path_factory.mktemp("links") / "copbot.db")
    try:
        links = SqliteExportLinkRepository(db)
        now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        link = ExportLink("l1", "jsonl", f, "slack:U1", now, now + timedelta(minutes=15))

        async def trip() -> ExportLink | None:
            await links.create(link)
            return await links.use("l1", now)

        assert asyncio.run(trip()) == link
    finally:
        db.close()


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(value=JSON_VALUES, ascii_only=st.booleans(), as_bytes=st.booleans())
def test_request_json_reads_as_json_loads_reads_it(
    value: Any, ascii_only: bool, as_bytes: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    data: bytes | str = text.encode() if as_bytes else text
    # repr, not ==: 1 == 1.0 == True, and each must come back as the type it was.
    assert repr(codec.parse_json(data)) == repr(json.loads(data))


@pytest.mark.parametrize(
    "text",
    [
        '{"text": "\\ud800 alone"}',  # a lone surrogate: json reads it, orjson refuses
        '{"n": NaN, "m": Infinity}',
        '{"big": 1e999}',
    ],
)
def test_what_orjson_refuses_is_read_as_json_loads_reads_it(text: str) -> None:
    got, want = codec.parse_json(text), json.loads(text)
    assert repr(got) == repr(want)  # NaN is not equal to itself, its repr is


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "\ufeff{}", "[1,]", '{"a" 1}'])
def test_text_that_is_not_json_raises_as_json_loads_does(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        codec.parse_json(text)
    # json's own error, where json puts it (orjson's is a subclass, worded its own way).
    assert type(got.value) is json.JSONDecodeError
    assert (got.value.msg, got.value.pos) == (want.value.msg, want.value.pos)


@pytest.mark.parametrize("depth", [1000, 5000])
def test_nesting_past_json_s_limit_is_refused_as_json_loads_refuses_it(depth: int) -> None:
    # orjson alone would read 1,000 levels; json.loads raises, and so must this.
    deep = '{"event": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(RecursionError):
        codec.parse_json(deep)
    with pytest.raises(RecursionError):
        codec.parse_json(deep.encode())


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 1, 9, 30, 0, 5, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        # orjson writes offsets in whole minutes: this one's seconds must not be lost.
        datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(seconds=-37))),
        datetime(2026, 12, 1, 9, 30),
    ],
)
def test_an_event_keeps_its_time_to_the_second_of_its_offset(at: datetime) -> None:
    user = model.UserRef("slack", "U1", "Sam")
    channel = model.ChannelRef("slack", "C1", "T1", "ips-north")
    event = model.MessagePosted("Ev1", model.MessageRef(channel, "1.2", "1.1"), user, "hi", at)
    decoded = codec.decode_event(codec.encode_event(event))
    assert decoded == event and decoded.at.utcoffset() == at.utcoffset()


def test_an_event_orjson_cannot_write_is_written_as_json_writes_it() -> None:
    # A lone surrogate: orjson won't write it, json does (the inbox then refuses it whole).
    user = model.UserRef("slack", "U1", "\ud800")
    event = model.HomeOpened("Ev1", user, datetime(2026, 12, 1, tzinfo=UTC))
    decoded = codec.decode_event(codec.encode_event(event))
    assert isinstance(decoded, model.HomeOpened)
    assert decoded == event and decoded.user.name == "\ud800"  # names don't take part in ==


def test_every_inbox_event_is_written_by_orjson_directly() -> None:
    # What makes accepting an event fast: no event type needs the by-hand encoding.
    slow = [t.__name__ for t in model.INBOUND_EVENT_TYPES if not codec._native(t)]
    assert slow == []
    assert not codec._native(model.OutgoingMessage)  # its blocks are a union: by hand


def test_a_field_orjson_would_leave_out_is_written_by_hand() -> None:
    @dataclasses.dataclass(frozen=True)
    class Hidden:
        shown: str
        _hidden: str

    assert not codec._native(Hidden)
    assert codec.from_json(Hidden, json.loads(codec.dumps(Hidden("a", "b")))) == Hidden("a", "b")
