"""Hostile input on POST /slack/events, one named case per defect found by probing: each used
to get a 500 (with a traceback in the log) or to store a malformed row. Now each is refused
with a 4xx, or acknowledged and set aside with one log line, and nothing is kept."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from storage import sqlite
from tests.slack import signing
from tests.slack.conftest import ADMIN, SlackBot, fixture
from tests.slack.fake_slack import SIGNING_SECRET
from tests.support import authz

JSON = "application/json"
DEEP = '{"a":' * 1000 + "{}" + "}" * 1000  # past Python's recursion limit when parsed
NESTED = "[" * 1400 + "]" * 1400  # as deep, and within Slack's 3,000-character metadata limit
HOLE = "@@DEEP@@"  # where DEEP goes: json.dumps itself would recurse too deep to build it


def changed(name: str, edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """A fixture with one change, so each case differs from a valid payload in one place."""
    payload = copy.deepcopy(fixture(name))
    edit(payload)
    return payload


def event(name: str, **fields: Any) -> str:
    return json.dumps(changed(name, lambda p: p["event"].update(fields)))


def interaction(payload: dict[str, Any]) -> str:
    return signing.interaction_body(payload)[0]


def form_view(**fields: Any) -> str:
    return interaction(changed("view_submission", lambda p: p["view"].update(fields)))


def datetime_value(value: Any) -> str:
    element = {"type": "datetimepicker", "selected_date_time": value}
    return form_view(state={"values": {"when": {"when": element}}})


def one_line_no_traceback(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings copbot logged; none of them carries a traceback or an ERROR."""
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# Signed requests: (body, content type, the status Slack gets)
SIGNED: dict[str, tuple[str, str, int]] = {
    "body_null": ("null", JSON, 400),
    "body_array": ("[1, 2]", JSON, 400),
    "event_a_string": (json.dumps(fixture("message_thread_reply") | {"event": "x"}), JSON, 400),
    "event_a_list": (json.dumps(fixture("message_thread_reply") | {"event": [1]}), JSON, 400),
    "event_nested_1000_deep": (event("message_thread_reply", extra=HOLE), JSON, 400),
    "ts_300_digits": (event("message_thread_reply", ts="1" * 300), JSON, 200),
    "ts_1e308": (event("message_thread_reply", ts=1e308), JSON, 200),
    "ts_null": (event("message_thread_reply", ts=None), JSON, 200),
    "ts_not_a_number": (event("message_thread_reply", ts="abc"), JSON, 200),
    "ts_negative": (event("message_thread_reply", ts="-1700000100.000200"), JSON, 200),
    "user_an_object": (event("message_thread_reply", user={"id": "U1SAM"}), JSON, 200),
    "message_changed_message_a_string": (event("message_changed", message="x"), JSON, 200),
    "member_joined_channel_an_object": (
        event("member_joined_person", channel={"id": "C1NORTH"}),
        JSON,
        200,
    ),
    "deleted_ts_an_object": (event("message_deleted", deleted_ts={"ts": "1"}), JSON, 200),
    "actions_a_dict": (interaction(fixture("block_actions") | {"actions": {"a": 1}}), "", 400),
    "actions_a_string": (interaction(fixture("block_actions") | {"actions": "x"}), "", 400),
    "interaction_nested_1000_deep": (
        interaction(fixture("block_actions") | {"extra": HOLE}),
        "",
        400,
    ),
    "payload_not_json": ("payload=%7Bnot", "", 400),
    "payload_a_json_string": ("payload=%22x%22", "", 400),
    "datetime_x": (datetime_value("x"), "", 200),
    "datetime_1e20": (datetime_value(1e20), "", 200),
    "state_values_blocks_a_list": (form_view(state={"values": {"when": [1]}}), "", 200),
    "private_metadata_nested_1400_deep": (form_view(private_metadata=NESTED), "", 200),
    # Kinds copbot doesn't use, each of which bolt's matchers tripped on (a 500).
    "legacy_attachment_button_without_actions": (
        interaction({"type": "interactive_message", "callback_id": "cb", "user": {"id": "U1"}}),
        "",
        404,
    ),
    "workflow_step_edit_without_its_step": (
        interaction({"type": "workflow_step_edit", "callback_id": "cb", "user": {"id": "U1"}}),
        "",
        404,
    ),
    "option_list_for_a_numbered_action": (
        interaction({"type": "block_suggestion", "action_id": 1, "block_id": "b", "value": "x"}),
        "",
        404,
    ),
}


@pytest.mark.parametrize("case", list(SIGNED))
async def test_signed_hostile_input_is_never_a_500_and_keeps_nothing(
    slack: SlackBot, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, kind, status = SIGNED[case]
    body = body.replace(json.dumps(HOLE), DEEP).replace(quote(json.dumps(HOLE)), quote(DEEP))
    assert HOLE not in body and quote(HOLE) not in body
    caplog.set_level(logging.INFO)
    response = await slack.deliver(body, kind or signing.FORM)
    assert response.status == status
    if case == "private_metadata_nested_1400_deep":
        # Garbled metadata reads as a form opened in a DM: it is copbot's own field, and
        # the answers are still the person's to give.
        assert slack.inbox_count() == 1
    else:
        assert slack.inbox_count() == 0
        [line] = one_line_no_traceback(caplog)
        assert "refused" in line or "set aside" in line
    # The inbox goes on: a genuine event after it is accepted.
    assert (await slack.event(fixture("message_thread_reply"))).status == 200
    assert slack.inbox_count() == (2 if case == "private_metadata_nested_1400_deep" else 1)


async def test_a_lone_surrogate_in_message_text_is_kept_as_a_replacement_character(
    slack: SlackBot,
) -> None:
    """JSON can carry half a UTF-16 pair, which SQLite's UTF-8 cannot store (it was a 500)."""
    body = event("message_thread_reply", text="before \ud800 after")
    assert "\\ud800" in body
    assert (await slack.deliver(body, JSON)).status == 200
    posted = await slack.until(lambda: [e for e in slack.seen if hasattr(e, "author")])
    assert posted[0].text == "before \ufffd after"


# Requests hostile before the signature is checked: (headers changed, raw body, status)
UNSIGNED: dict[str, tuple[dict[str, Any], bytes, int]] = {
    "timestamp_of_400_digits": ({"X-Slack-Request-Timestamp": "9" * 400}, b"{}", 401),
    "signature_not_ascii": ({"X-Slack-Signature": "v0=\u00e9\u00e9"}, b"{}", 401),
    "body_not_utf8": ({}, b'{"a":"\xff\xfe"}', 401),
    # Correctly signed: refused after the check, since Slack sends nothing but UTF-8.
    "charset_bogus": ({"Content-Type": "application/json; charset=bogus"}, b"{}", 400),
    "charset_utf32": ({"Content-Type": "application/json; charset=utf-32"}, b"{}", 400),
}


@pytest.mark.parametrize("case", list(UNSIGNED))
async def test_hostile_headers_and_encodings_before_the_signature_check_are_refused(
    slack: SlackBot, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    changes, body, status = UNSIGNED[case]
    caplog.set_level(logging.INFO)
    headers = signing.headers(SIGNING_SECRET, "{}", JSON) | changes
    response = await slack.client.post("/slack/events", data=body, headers=headers)
    assert response.status == status
    [line] = one_line_no_traceback(caplog)
    assert "signature did not check out" in line if status == 401 else "UTF-8" in line
    assert slack.inbox_count() == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=bogus", "application/json; charset=utf-32", "text/plain"],
)
async def test_signed_bodies_declared_in_another_encoding_are_refused_with_400(
    slack: SlackBot, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed by someone with the secret but not as Slack sends: refused before parsing."""
    caplog.set_level(logging.INFO)
    body, _ = signing.event_body(fixture("message_thread_reply"))
    assert (await slack.deliver(body, content_type)).status == 400
    [line] = one_line_no_traceback(caplog)
    assert "refused a signed Slack request" in line
    assert slack.inbox_count() == 0


# -- one community per copbot --------------------------------------------------------------


def from_elsewhere_event(name: str) -> dict[str, Any]:
    return fixture(name) | {"team_id": "T2OTHER"}


@pytest.mark.parametrize(
    "envelope",
    [
        pytest.param(from_elsewhere_event("message_thread_reply"), id="team_id"),
        pytest.param(
            fixture("message_thread_reply") | {"authorizations": [{"team_id": "T2OTHER"}]},
            id="authorizations",
        ),
        pytest.param(from_elsewhere_event("member_joined_bot"), id="copbot_added"),
    ],
)
async def test_events_from_another_workspace_are_refused_and_leave_no_trace(
    slack: SlackBot, envelope: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = len(slack.fake.calls)
    assert (await slack.event(envelope)).status == 200  # acknowledged: Slack won't resend it
    assert slack.inbox_count() == 0
    assert len(slack.fake.calls) == calls  # not even a name looked up
    [line] = one_line_no_traceback(caplog)
    assert "another workspace" in line and "T2OTHER" not in line


async def test_commands_and_interactivity_from_another_workspace_are_refused(
    slack: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body, kind = signing.command_body(fixture("slash_command") | {"team_id": "T2OTHER"})
    response = await slack.deliver(body, kind)
    assert response.status == 200 and "another Slack workspace" in await response.text()
    elsewhere = {"id": "T2OTHER", "domain": "other"}
    assert (await slack.interact(fixture("block_actions") | {"team": elsewhere})).status == 200
    assert (await slack.interact(fixture("view_submission") | {"team": elsewhere})).status == 200
    assert slack.inbox_count() == 0
    assert slack.fake.of("chat.postEphemeral") == []
    assert len(one_line_no_traceback(caplog)) == 3
    # From copbot's own workspace the same command is accepted.
    assert (await slack.command("help", user=ADMIN)).status == 200
    assert slack.inbox_count() == 1


# -- the authorization matrix ----------------------------------------------------------------


def refusals(slack: SlackBot) -> list[str]:
    """Copbot's refusals for want of a role, in the order Slack was asked to show them."""
    said = [json.dumps(c.args) for c in slack.fake.calls if c.ok]
    return [s for s in said if authz.REFUSED.search(s)]


async def something_to_change(slack: SlackBot) -> None:
    """As the admin: a feedback round (number 1) and an answer to a scheduling."""
    for text in ('feedback open "Session one" min 3', "schedule prompt any every 7 at 10:00"):
        assert (await slack.command(text, user=ADMIN)).status == 200
    await slack.fake.until(lambda: len(slack.fake.of("chat.postEphemeral")) >= 2)
    assert _rows(slack, "select 1 from feedback_rounds")


def _rows(slack: SlackBot, sql: str) -> list[Any]:
    conn = sqlite.connect(slack.db_path)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


async def test_every_privileged_verb_tried_by_staff_is_refused_and_changes_nothing(
    slack: SlackBot,
) -> None:
    await something_to_change(slack)
    verbs = authz.privileged_verbs(slack.core.registry)
    assert verbs
    before = authz.digest(slack.db_path, authz.BOOKKEEPING)
    for n, verb in enumerate(verbs, start=1):
        text = authz.command_text(verb, "<@U1SAM>", f"<@{ADMIN}>")
        assert (await slack.command(text, user="U1SAM")).status == 200
        said = await slack.fake.until(lambda n=n: refusals(slack)[n - 1 :])
        assert f"/cop {verb.name}` is for" in said[-1], said[-1]
    assert authz.changed(before, authz.digest(slack.db_path, authz.BOOKKEEPING)) == []


async def test_privileged_buttons_and_forms_forged_by_staff_are_refused_and_change_nothing(
    slack: SlackBot,
) -> None:
    await something_to_change(slack)
    actions = authz.privileged_actions(slack.core.registry)
    forms = authz.privileged_forms(slack.core.registry)
    assert actions and forms
    before = authz.digest(slack.db_path, authz.BOOKKEEPING)
    n = 0
    for action in actions:
        press = fixture("block_actions")
        press["actions"][0] |= {"action_id": f"{action}:1", "value": "1"}
        press["trigger_id"] = f"t{action}"
        assert (await slack.interact(press)).status == 200
        n += 1
        said = await slack.fake.until(lambda n=n: refusals(slack)[n - 1 :])
        assert "That button is for" in said[-1]
    for form in forms:
        submit = changed("view_submission", lambda p, f=form: p["view"].update(callback_id=f))
        submit["user"] = {"id": "U1SAM", "username": "sam", "name": "sam", "team_id": "T1"}
        submit["view"]["id"] = submit["trigger_id"] = f"V{form}"
        assert (await slack.interact(submit)).status == 200
        n += 1
        said = await slack.fake.until(lambda n=n: refusals(slack)[n - 1 :])
        assert "That form is for" in said[-1]
    assert authz.changed(before, authz.digest(slack.db_path, authz.BOOKKEEPING)) == []
