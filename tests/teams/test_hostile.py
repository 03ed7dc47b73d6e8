"""Whatever arrives at /api/messages, copbot answers with a status, never a 500, and logs
one short line at most."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.teams.conftest import TeamsBot, fixture

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
