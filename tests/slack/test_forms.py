"""Slack forms never lose work: a problem keeps the modal open with errors beside the fields;
an accepted form thanks the person in the modal itself."""

from __future__ import annotations

import copy
import json
from typing import Any

from adapters.slack import metadata
from bot.interaction import Interaction
from bot.model import ChannelRef, Form, FormSubmitted, LongText, Origin, UserRef
from tests.slack.conftest import SlackBot, fixture

NORTH = ChannelRef("slack", "C1NORTH", "T1", "north")


def _submission(meta: str, text: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("view_submission"))
    payload["view"]["callback_id"] = "note"
    payload["view"]["private_metadata"] = meta
    payload["view"]["state"]["values"] = {
        "thoughts": {"thoughts": {"type": "plain_text_input", "value": text}}
    }
    return payload


async def test_a_form_with_a_problem_stays_open_with_the_error_beside_its_field(
    slack: SlackBot,
) -> None:
    got: list[FormSubmitted] = []

    async def check(event: FormSubmitted) -> dict[str, str]:
        return {} if len(event.value("thoughts")) > 5 else {"thoughts": "Say a little more."}

    async def handler(ix: Interaction, event: FormSubmitted) -> None:
        got.append(event)

    slack.core.registry.form("note", handler, check=check)
    meta = metadata.encode("", Origin(UserRef("slack", "U2PRIYA"), NORTH))
    before = slack.inbox_count()
    response = await slack.interact(_submission(meta, "Hm"))
    assert response.status == 200
    assert json.loads(await response.text()) == {
        "response_action": "errors",
        "errors": {"thoughts": "Say a little more."},
    }
    assert slack.inbox_count() == before and got == []  # nothing kept, nothing run
    assert not slack.fake.of("chat.postEphemeral")  # no field names dumped into the chat

    response = await slack.interact(_submission(meta, "It felt like a safe space."))
    assert response.status == 200 and await response.text() == ""  # accepted: it closes
    await slack.until(lambda: got)


async def test_an_accepted_form_says_thank_you_in_the_modal(slack: SlackBot) -> None:
    async def handler(ix: Interaction, event: FormSubmitted) -> None:
        return None

    slack.core.registry.form("note", handler)
    form = Form("note", "Note", (LongText("thoughts", "Thoughts"),), thanks="Thank you, noted.")
    await slack.adapter.open_form(
        Origin(UserRef("slack", "U2PRIYA"), NORTH, handle="trigger-1"), form
    )
    [opened] = await slack.fake.until(lambda: slack.fake.of("views.open"))
    response = await slack.interact(
        _submission(opened.args["view"]["private_metadata"], "Some thoughts")
    )
    answer = json.loads(await response.text())
    assert answer["response_action"] == "update"
    assert answer["view"]["type"] == "modal"
    assert "Thank you, noted." in json.dumps(answer["view"]["blocks"])
