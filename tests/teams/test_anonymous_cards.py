"""What an anonymous form says of itself on Teams: the promise in the form's own words,
once, as on Slack and in the playground."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.teams import cards
from bot.feedback import DEFAULT_QUESTIONS, Round, RoundState, Ticket
from bot.feedback_messages import answer_form
from bot.model import ChannelRef, Form, MessageRef, Origin, UserRef
from bot.services.anonymous_replies import reply_form
from bot.signing import Signer
from tests.support.fakes import ManualClock

CHANNEL = ChannelRef("teams", "19:north@thread.tacv2", "tenant")
ORIGIN = Origin(UserRef("teams", "aad-sam", "Sam"), CHANNEL)


def forms() -> dict[str, Form]:
    round_ = Round(
        1, "Workshop 3", DEFAULT_QUESTIONS, 5, RoundState.OPEN, datetime(2026, 1, 5, tzinfo=UTC)
    )
    signer = Signer(b"k" * 32, ManualClock())
    return {
        "feedback": answer_form(round_, Ticket.issue(b"r" * 32, 1, "teams:aad-sam")),
        "reply": reply_form(MessageRef(CHANNEL, "p1"), timedelta(minutes=2), signer),
    }


@pytest.mark.parametrize("name", ["feedback", "reply"])
def test_an_anonymous_form_says_it_is_anonymous_once_in_its_own_words(name: str) -> None:
    form = forms()[name]
    for card in (
        cards.form_card(form, ORIGIN, dialog=True),
        cards.opener_activity(form, "sealed")["attachments"][0]["content"],
    ):
        said = json.dumps(card["body"])
        assert said.count("nobody, admins included, can see who") == 1
        # A reply is a reply: the card doesn't call it an answer.
        assert "Your answers are" not in said
