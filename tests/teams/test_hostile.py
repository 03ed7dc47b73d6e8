"""Whatever arrives at /api/messages, copbot answers with a status, never a 500, and logs
one short line at most."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import authz
from tests.teams.conftest import ADMIN_AAD, TeamsBot, fixture
from tests.teams.test_contract import command

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = [
    "type",
    "id",
    "from",
    "conversation",
    "channelData",
    "entities",
    "value",
    "text",
    "serviceUrl",
    "recipient",
    "name",
    "timestamp",
    "attachments",
    "membersAdded",
]


@st.composite
def activities(draw: st.DrawFn) -> dict[str, Any]:
    base = fixture(
        draw(
            st.sampled_from(
                [
                    "channel_command",
                    "channel_reply",
                    "message_update",
                    "installed_in_team",
                    "form_submit",
                    "adaptive_card_action",
                    "task_fetch",
                    "task_submit",
                    "installation_update_add",
                ]
            )
        )
    )
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        base[key] = draw(JSON)
    return base


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(activity=activities())
async def test_mangled_activities_never_get_a_500(
    teams: TeamsBot, activity: dict[str, Any]
) -> None:
    if isinstance(activity.get("serviceUrl"), str) or "serviceUrl" not in activity:
        activity["serviceUrl"] = teams.fake.url
    response = await teams.send(activity)
    assert response.status in (200, 400, 403), response.status


async def test_a_mangled_activity_logs_one_line_without_content(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    activity = fixture("channel_reply") | {"from": "secret-words", "serviceUrl": teams.fake.url}
    response = await teams.send(activity)
    assert response.status in (200, 400)
    assert "secret-words" not in caplog.text
    assert "Traceback" not in caplog.text


# -- the authorization matrix ----------------------------------------------------------------

SAM = {"id": "29:1sam-teams-id", "name": "Sam Okafor", "aadObjectId": "aad-sam-0001"}


def refusals(teams: TeamsBot) -> list[str]:
    """Copbot's refusals for want of a role, in the order they were sent to Teams."""
    said = [json.dumps(c.body) for c in teams.fake.calls]
    return [s for s in said if authz.REFUSED.search(s)]


async def something_to_change(teams: TeamsBot) -> None:
    """As the admin: copbot installed, and feedback round number 1 open."""
    await teams.install()
    text = 'feedback open "Session one" min 3'
    assert (await teams.send(command(teams, text, "1700000090000"))).status == 200
    await teams.until(lambda: teams.rows("select 1 from feedback_rounds"))


async def test_every_privileged_verb_tried_by_staff_is_refused_and_changes_nothing(
    teams: TeamsBot,
) -> None:
    await something_to_change(teams)
    verbs = authz.privileged_verbs(teams.core.registry)
    assert verbs
    before = authz.digest(teams.db_path, authz.BOOKKEEPING)
    for n, verb in enumerate(verbs, start=1):
        text = authz.command_text(verb, "teams:aad-sam-0001", f"teams:{ADMIN_AAD}")
        activity = command(teams, text, f"17000001{n:05d}", who=SAM)
        assert (await teams.send(activity)).status == 200
        said = await teams.until(lambda n=n: refusals(teams)[n - 1 :])
        assert f"@copbot {verb.name} is for" in said[-1], said[-1]
    assert authz.changed(before, authz.digest(teams.db_path, authz.BOOKKEEPING)) == []


async def test_privileged_buttons_and_forms_forged_by_staff_are_refused_and_change_nothing(
    teams: TeamsBot,
) -> None:
    await something_to_change(teams)
    actions = authz.privileged_actions(teams.core.registry)
    forms = authz.privileged_forms(teams.core.registry)
    assert actions and forms
    before = authz.digest(teams.db_path, authz.BOOKKEEPING)
    for n, action in enumerate(actions, start=1):
        data = {"copbot": "action", "action": f"{action}:1", "value": "1"}
        press = teams.activity(
            "adaptive_card_action",
            id=f"17000002{n:05d}",
            value={"action": {"type": "Action.Execute", "verb": action, "data": data}},
            **{"from": SAM},
        )
        answer = await (await teams.send(press)).json()
        assert "That button is for" in json.dumps(answer), answer
    for n, form in enumerate(forms, start=1):
        submit = teams.activity("form_submit", id=f"17000003{n:05d}")
        submit["value"] |= {"form": form, "context": "1", "f.title": "Taken over"}
        assert (await teams.send(submit)).status == 200
        said = await teams.until(lambda n=n: refusals(teams)[len(actions) + n - 1 :])
        assert "That form is for" in said[-1], said[-1]
    assert authz.changed(before, authz.digest(teams.db_path, authz.BOOKKEEPING)) == []


@pytest.mark.parametrize("channel", ["webchat", "directline", "emulator", "", None])
async def test_only_activities_from_teams_itself_are_taken(
    teams: TeamsBot, channel: str | None
) -> None:
    """Web Chat and Direct Line clients write their own "from" and tenant: such an activity,
    claiming to be the admin, changes nothing and is kept nowhere."""
    await teams.install()
    before = teams.inbox_count(), teams.rows("select count(*) from teams_conversations")
    forged = command(teams, "role grant admin <at>Mallory</at>", "1700000099001")
    forged["channelId"] = channel
    response = await teams.send(forged)
    assert response.status == 403
    assert (teams.inbox_count(), teams.rows("select count(*) from teams_conversations")) == before
    assert teams.rows("select count(*) from roles") == [(0,)]


# Card data and entities of the wrong types, each where copbot reads it: Teams passes a
# card's data on as the card wrote it, and anyone may write a card.
MISSHAPEN = [
    ("adaptive_card_action", {"value": {"action": "Going"}}),
    ("adaptive_card_action", {"value": {"action": {"type": "Action.Execute", "data": [1]}}}),
    ("task_submit", {"value": {"data": {"copbot": "form", "form": "prompt-add", "fields": 5}}}),
    ("task_submit", {"value": {"data": {"copbot": "form", "form": "x", "datetimes": True}}}),
    ("task_fetch", {"value": {"data": {"copbot": "form", "form": "x", "fields": 1.5}}}),
    ("form_submit", {"value": {"copbot": "form", "form": "prompt-add", "fields": 7}}),
    ("form_submit", {"value": {"copbot": "form", "form": "prompt-add", "datetimes": 7}}),
    (
        "channel_command",
        {
            "entities": [
                {"type": "mention", "mentioned": "Mallory"},
                {"type": "mention", "mentioned": {"id": "28:00000000-0000-0000-0000-00000000b0b0"}},
                {"type": "mention", "mentioned": {"id": "29:1someone-without-aad"}},
            ]
        },
    ),
]


@pytest.mark.parametrize(("name", "changes"), MISSHAPEN)
async def test_card_data_and_mentions_of_the_wrong_types_are_answered_never_a_5xx(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture, name: str, changes: dict[str, Any]
) -> None:
    caplog.set_level(logging.INFO)
    response = await teams.send(teams.activity(name, **changes))
    assert response.status in (200, 400), response.status
    assert "could not accept a Teams activity" not in caplog.text


NAMELESS = [None, {"id": "29:1nameless", "name": "Someone"}]


@pytest.mark.parametrize("sender", NAMELESS, ids=["no from", "no aad id"])
@pytest.mark.parametrize(
    "name", ["channel_command", "personal_command", "adaptive_card_action", "form_submit"]
)
async def test_a_command_press_or_form_from_no_one_teams_names_is_not_taken(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture, name: str, sender: dict[str, str] | None
) -> None:
    """Teams names every person by their Entra id: without one there is no one to check the
    role of, or to answer. Nothing is kept, and nothing goes wrong."""
    caplog.set_level(logging.INFO)
    await teams.install()
    calls, kept = len(teams.fake.calls), teams.inbox_count()
    activity = teams.activity(name, id="1700000770001")
    activity.pop("from")
    if sender is not None:
        activity["from"] = sender
    response = await teams.send(activity)
    assert response.status == 200
    assert teams.inbox_count() == kept
    assert teams.fake.calls[calls:] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
