"""An anonymous form submitted from a direct message, through the real Slack wiring: nothing
in copbot's database file or its WAL points at the person."""

from __future__ import annotations

import copy

from adapters.slack import metadata
from bot.model import (
    ChannelKind,
    ChannelRef,
    FormSubmitted,
    Origin,
    ThreadRef,
    UserRef,
)
from tests.slack.conftest import SlackBot, fixture
from tests.test_anonymity import FORM, WORDS, listen, stored_bytes


async def test_slack_anonymous_form_from_a_direct_message(slack: SlackBot) -> None:
    got: list[FormSubmitted] = []
    listen(slack.core, got)
    dm = ChannelRef("slack", "D0PRIYADM", "T1", "", ChannelKind.DIRECT)
    person = UserRef("slack", "U2PRIYA", "Priya Shah")
    await slack.adapter.open_form(
        Origin(person, dm, ThreadRef(dm, "1700000000.000900"), "trigger-priya-77"), FORM
    )
    [opened] = await slack.fake.until(lambda: slack.fake.of("views.open"))
    payload = copy.deepcopy(fixture("view_submission"))
    payload["trigger_id"] = "trigger-priya-78"
    payload["view"]["callback_id"] = "feedback"
    payload["view"]["private_metadata"] = opened.args["view"]["private_metadata"]
    payload["view"]["state"]["values"] = {
        "thoughts": {"thoughts": {"type": "plain_text_input", "value": WORDS}}
    }
    response = await slack.interact(payload)
    assert response.status == 200
    [event] = await slack.until(lambda: got)

    assert event.origin.user.is_anonymous and event.origin.handle == ""
    assert event.origin.channel.id != "D0PRIYADM" and event.origin.thread is None
    stored = stored_bytes(slack.db_path)
    assert WORDS.encode() in stored  # the answer is kept, so the scan below means something
    for trace in (b"U2PRIYA", b"priya", b"Priya", b"D0PRIYADM", b"1700000000.000900"):
        assert trace not in stored, trace
    # Nobody to answer in private: nothing was sent to her.
    assert not slack.fake.of("chat.postEphemeral") and not slack.fake.of("chat.postMessage")


def test_slack_forms_say_they_are_anonymous_only_when_they_are() -> None:
    origin = Origin(UserRef("slack", "U1"), ChannelRef("slack", "C1", "T1"))
    assert metadata.decode(metadata.encode("", origin, anonymous=True), "T1").anonymous
    assert not metadata.decode(metadata.encode("", origin), "T1").anonymous
