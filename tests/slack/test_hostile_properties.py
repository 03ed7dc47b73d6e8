"""Property tests on POST /slack/events: random headers, bodies, encodings, JSON types and
depths, signed and unsigned, for events, slash commands and interactivity. None gets a 500,
none leaves a malformed row in the channels or archive tables, and the server keeps answering.

One copbot serves every example of a test (that is the point: it must survive them all), so
the function-scoped fixture health check is off on purpose. The example budget is fixed and
derandomized so the file runs in seconds and the same way every time.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import sqlite
from tests.slack import signing
from tests.slack.conftest import ADMIN, SlackBot, fixture
from tests.slack.fake_slack import SIGNING_SECRET

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ALLOWED = {200, 400, 401, 404, 413}

EVENTS = (
    "message_thread_reply",
    "message_top_level",
    "message_changed",
    "message_deleted",
    "message_tombstone",
    "member_joined_person",
    "member_joined_bot",
    "app_mention",
    "app_home_opened",
)
INTERACTIONS = ("block_actions", "view_submission")

SLACK_ID = re.compile(r"[A-Z0-9]+")
SLACK_TS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,9})?")
DEEP = "@@DEEP{}@@"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["", "1" * 300, "-1", "abc", "\ud800", "C1NORTH", "U1SAM", "1700000100.000200", 1e308]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
) | st.sampled_from([DEEP.format(n) for n in (50, 1000, 5000)])


def deepen(text: str) -> str:
    """Each deep-nesting marker, as JSON text nested that many levels (json.dumps can't)."""
    return re.sub(r'"@@DEEP(\d+)@@"', lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), text)


def paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    if isinstance(value, dict) and len(prefix) < 4:
        for key, inner in value.items():
            found.append((*prefix, key))
            found.extend(paths(inner, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, names: tuple[str, ...]) -> dict[str, Any]:
    """A recorded payload with a few fields replaced by random JSON, or removed."""
    payload = copy.deepcopy(fixture(draw(st.sampled_from(names))))
    # Fresh ids, so an example is not taken for an earlier one's retry and is really stored.
    payload["event_id"] = f"Ev{uuid.uuid4().hex}"
    payload["trigger_id"] = f"{time.time_ns()}.1.{uuid.uuid4().hex[:6]}"
    if "ts" in payload.get("event", {}):  # a new message each time, not an earlier one again
        payload["event"]["ts"] = f"{draw(st.integers(1_700_000_000, 1_800_000_000))}.000100"
    if isinstance(payload.get("view"), dict):
        payload["view"]["id"] = f"V{uuid.uuid4().hex[:10].upper()}"
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths(payload)))
        parent = payload
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent.get(key), dict) else {}
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        else:
            parent.pop(path[-1], None)
    return payload


def signed_headers(body: bytes, content_type: str) -> dict[str, str]:
    stamp = int(time.time())
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def malformed_rows(slack: SlackBot) -> list[tuple[Any, ...]]:
    """Rows whose ids are not Slack ids: what type confusion used to store."""
    conn = sqlite.connect(slack.db_path)
    try:
        channels = conn.execute("select workspace, id from channels").fetchall()
        archived = conn.execute(
            "select workspace, channel_id, thread_id, message_id, author_id from archive_messages"
        ).fetchall()
    finally:
        conn.close()
    bad = [r for r in channels if not (SLACK_ID.fullmatch(r[0]) and SLACK_ID.fullmatch(r[1]))]
    for workspace, channel, thread, message, author in archived:
        ok = (
            SLACK_ID.fullmatch(workspace)
            and SLACK_ID.fullmatch(channel)
            and SLACK_TS.fullmatch(thread)
            and SLACK_TS.fullmatch(message)
            and re.fullmatch(r"slack:[A-Z0-9]+", author or "")
        )
        if not ok:
            bad.append((workspace, channel, thread, message, author))
    return bad


def query(slack: SlackBot, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite.connect(slack.db_path)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


async def rows(slack: SlackBot, sql: str) -> list[tuple[Any, ...]]:
    # In a thread: a read waiting on the writer's checkpoint must not stall the event loop.
    return await asyncio.to_thread(query, slack, sql)


async def until_rows(slack: SlackBot, sql: str) -> None:
    async with asyncio.timeout(10):
        while not await rows(slack, sql):
            await asyncio.sleep(0.01)


async def archive_everything(slack: SlackBot) -> None:
    """Once per server: copbot joins C1NORTH and archives it, so that messages accepted from
    the examples really reach the archive table (whose rows are then checked)."""
    if getattr(slack, "archiving", False):
        return
    joined = fixture("member_joined_bot")
    joined["event"]["channel"] = "C1NORTH"
    assert (await slack.event(joined)).status == 200
    await until_rows(slack, "select 1 from channels where bot_member = 1")
    assert (await slack.command("archive on", user=ADMIN)).status == 200
    await until_rows(slack, "select 1 from channels where archive = 1")
    assert (await slack.event(fixture("message_top_level"))).status == 200
    await until_rows(slack, "select 1 from archive_messages")
    slack.archiving = True  # type: ignore[attr-defined]


async def still_answering(slack: SlackBot) -> None:
    assert (await slack.client.get("/healthz")).status == 200
    assert await asyncio.to_thread(malformed_rows, slack) == []


@EXAMPLES
@given(payload=mutated(EVENTS))
async def test_signed_events_of_any_shape(slack: SlackBot, payload: dict[str, Any]) -> None:
    await archive_everything(slack)
    body = deepen(json.dumps(payload)).encode()
    response = await slack.client.post(
        "/slack/events", data=body, headers=signed_headers(body, "application/json")
    )
    assert response.status in ALLOWED
    await still_answering(slack)


@EXAMPLES
@given(payload=mutated(INTERACTIONS), wrap=st.booleans())
async def test_signed_interactivity_of_any_shape(
    slack: SlackBot, payload: dict[str, Any], wrap: bool
) -> None:
    await archive_everything(slack)
    text = deepen(json.dumps(payload))
    # Also the payload itself as any JSON value, not only an object.
    body = urlencode({"payload": text if wrap else json.dumps(payload.get("type"))}).encode()
    response = await slack.client.post(
        "/slack/events", data=body, headers=signed_headers(body, signing.FORM)
    )
    assert response.status in ALLOWED
    await still_answering(slack)


@EXAMPLES
@given(
    fields=st.dictionaries(
        st.sampled_from(sorted(fixture("slash_command"))),
        st.text(max_size=20) | st.sampled_from(["", "C1NORTH", "\x00", "%ff", "1" * 300]),
    ),
    raw_tail=st.binary(max_size=20),
)
async def test_signed_slash_commands_of_any_shape(
    slack: SlackBot, fields: dict[str, str], raw_tail: bytes
) -> None:
    await archive_everything(slack)
    form = fixture("slash_command") | fields | {"trigger_id": f"t{uuid.uuid4().hex}"}
    body = urlencode(form).encode() + b"&x=" + raw_tail  # and bytes that may not be UTF-8
    response = await slack.client.post(
        "/slack/events", data=body, headers=signed_headers(body, signing.FORM)
    )
    assert response.status in ALLOWED
    await still_answering(slack)


content_types = st.sampled_from(
    ["application/json", signing.FORM, "text/plain", "", "application/json; charset=utf-8"]
) | st.builds(
    "application/json; charset={}".format,
    st.sampled_from(["bogus", "utf-32", "latin-1", "UTF-8", ""]),
)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
    max_size=40,
) | st.sampled_from(["9" * 400, "v0=" + "é" * 64, "-1", "1e308", "v0="])


@EXAMPLES
@given(
    body=st.binary(max_size=300) | st.builds(lambda p: json.dumps(p).encode(), mutated(EVENTS)),
    content_type=content_types,
    timestamp=header_text | st.builds(lambda: str(int(time.time()))),
    signature=header_text,
    sign=st.booleans(),
)
async def test_any_request_whether_signed_or_not(
    slack: SlackBot, body: bytes, content_type: str, timestamp: str, signature: str, sign: bool
) -> None:
    await archive_everything(slack)
    headers = (
        signed_headers(body, content_type)
        if sign
        else {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
    )
    encoded = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    response = await slack.client.post("/slack/events", data=body, headers=encoded)
    assert response.status in ALLOWED
    if not sign:
        assert response.status == 401
    await still_answering(slack)
