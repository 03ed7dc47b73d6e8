"""Each announcement's calendar link is named for its event, on every platform: a screen
reader lists a page's links by name, and a channel of "Add to calendar"s says nothing of
which is which."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from adapters.local.render import message_html
from adapters.slack.blocks import message_blocks
from adapters.teams.cards import card
from bot.event_messages import announcement
from bot.events import Attendance
from tests.test_calendar_feed import event

LONDON = ZoneInfo("Europe/London")
PUBLIC = "https://copbot.example.org"
NOBODY = Attendance((), (), (), ())


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append(("".join(self._text), self._href))
            self._href = None


def links(title: str, event_id: int = 7) -> dict[str, list[tuple[str, str]]]:
    """The links of an event's announcement as each platform shows them: (name, address)."""
    message = announcement(event(event_id, title=title), NOBODY, "North", LONDON, PUBLIC)
    playground = _Links()
    playground.feed(message_html(message, "m1"))
    slack = json.dumps(message_blocks(message), ensure_ascii=False)
    teams = json.dumps(card(message), ensure_ascii=False)
    found = {
        "playground": playground.links,
        "slack": [(n, a) for a, n in re.findall(r"<(https://[^|>]+)\|([^>]+)>", slack)],
        "teams": re.findall(r"\[([^\]]+)\]\((https://[^)]+)\)", teams),
    }
    # Less the zero-width spaces Slack and Teams are sent to keep people's words literal.
    return {p: [(n.replace("\u200b", ""), a) for n, a in ls] for p, ls in found.items()}


@pytest.mark.parametrize("platform", ["playground", "slack", "teams"])
def test_each_events_calendar_link_says_which_event_it_adds(platform: str) -> None:
    first = links("Unconscious bias: a reflection session", 7)[platform]
    second = links("Use of language", 8)[platform]
    assert first == [
        (
            "Add 'Unconscious bias: a reflection session' to your calendar",
            f"{PUBLIC}/calendar/event/7.ics",
        )
    ]
    assert second == [("Add 'Use of language' to your calendar", f"{PUBLIC}/calendar/event/8.ics")]


@pytest.mark.parametrize("platform", ["playground", "slack", "teams"])
def test_a_title_with_brackets_or_markup_still_makes_one_whole_link(platform: str) -> None:
    [(name, address)] = links("[Online] Race] equity **now** _here_ `x`")[platform]
    assert address == f"{PUBLIC}/calendar/event/7.ics"
    assert name == "Add '(Online) Race) equity **now** _here_ `x`' to your calendar"


def test_a_long_title_is_shortened_in_the_links_name() -> None:
    title = "Race equity in IPS: " + "conversations with clients and employers " * 3
    [(name, _)] = links(title.strip())["playground"]
    assert name.startswith("Add 'Race equity in IPS: conversations with clients and")
    assert name.endswith("…' to your calendar") and len(name) < 90
