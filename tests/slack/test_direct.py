"""copbot's direct conversation on Slack: anything said there is for copbot, /cop or not."""

from __future__ import annotations

import json

from tests.slack.conftest import SlackBot, fixture


async def test_help_in_a_direct_message_is_answered_there(slack: SlackBot) -> None:
    envelope = fixture("message_im")
    envelope["event"]["text"] = "help"
    response = await slack.event(envelope)
    assert response.status == 200
    [answer] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    # In Sam's direct conversation with copbot (the fake Slack names it DU1SAM).
    [opened] = slack.fake.of("conversations.open")
    assert opened.args["users"] == "U1SAM" and answer.args["channel"] == "DU1SAM"
    assert "Here's what you can ask me to do" in json.dumps(answer.args)
