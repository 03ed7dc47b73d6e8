"""A link whose words come from people (a name in search's "open NAME's message", an
event's title, a channel's name) stays one whole link, to the right address, on every
platform, whatever characters those words hold."""

from __future__ import annotations

import json
import re

import pytest

from adapters.local.render import message_html
from adapters.slack.blocks import message_blocks
from adapters.slack.text import unescape
from adapters.teams.cards import card, message_activity
from bot.markup import escape
from bot.model import Context, OutgoingMessage, Text
from tests.test_event_links import _Links

ADDRESS = "https://example.slack.com/archives/C1/p1"
NAMES = [
    "Sam [he/him]",
    "Sam] Okafor",
    "[Sam",
    "Sam | Leeds",
    "Sam <IPS> & co",
    "*Sam* _Okafor_ `x`",
    "Sam (Leeds)",
]


def _message(name: str, text_only: bool) -> OutgoingMessage:
    line = f"**#north** · {escape(name)} · [open {escape(name)}'s message]({ADDRESS})"
    if text_only:
        return OutgoingMessage.of(line)
    return OutgoingMessage((Text(line), Context("Only you can see these results.")))


def _texts(value: object) -> list[str]:
    """Every text a Teams activity or card shows."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in ([v] if k == "text" else _texts(v))]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _found(platform: str, message: OutgoingMessage, text_only: bool) -> list[tuple[str, str]]:
    if platform == "playground":
        links = _Links()
        links.feed(message_html(message, "m1"))
        found = links.links
    elif platform == "slack":
        sent = json.dumps(message_blocks(message), ensure_ascii=False)
        found = [(unescape(w), a) for a, w in re.findall(r"<(https://[^|>]+)\|([^>]+)>", sent)]
    else:
        shown = message_activity(message) if text_only else card(message)
        found = [
            (w, a)
            for text in _texts(shown)
            # As markdown reads it: a link's words hold no unpaired bracket.
            for w, a in re.findall(r"\[([^\[\]]+)\]\((https://[^)]+)\)", text)
        ]
    return [(w.replace("\u200b", ""), a) for w, a in found]


@pytest.mark.parametrize("text_only", [True, False], ids=["text", "card"])
@pytest.mark.parametrize("platform", ["playground", "slack", "teams"])
@pytest.mark.parametrize("name", NAMES)
def test_a_links_words_from_people_keep_the_link_whole(
    platform: str, name: str, text_only: bool
) -> None:
    found = _found(platform, _message(name, text_only), text_only)
    if platform == "teams":
        # Teams ends a link's words at any bracket: people's show as parentheses there.
        name = name.replace("[", "(").replace("]", ")")
    assert found == [(f"open {name}'s message", ADDRESS)]


@pytest.mark.parametrize("platform", ["playground", "slack", "teams"])
def test_a_prompts_reading_keeps_its_link_whole_whatever_its_title_or_address(
    platform: str,
) -> None:
    from bot.records import Prompt, Resource
    from bot.services.prompts import PromptPublisher

    title = "Race *equality* [a guide] | NHS"
    address = "https://en.example.org/wiki/Equality_Act_(2010)"
    prompt = Prompt(
        "p1",
        "language",
        "A prompt",
        "Some words.",
        (),
        "A note.",
        resources=(Resource(title, address),),
    )
    shown = PromptPublisher(None, None, None).message(  # type: ignore[arg-type]
        prompt, None, with_buttons=False
    )
    found = _found(platform, shown, text_only=False)
    if platform == "teams":
        title = title.replace("[", "(").replace("]", ")")
    assert found == [(title, address.replace("(", "%28").replace(")", "%29"))]
