"""Records are serialised one way, and every stored record survives the trip whole."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
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
