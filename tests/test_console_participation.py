"""Participation: replies by topic, region and month, with every group of fewer than
five people hidden, anonymous replies never counted as people, private channels only
for their members."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.participation import Row, count
from bot.model import Role
from bot.records import ArchivedMessage
from tests.support.console import Console, console_app
from tests.support.fakes import FakeAdapter
from tests.support.harness import ALEX, PRIYA


@pytest.fixture
async def console(db_path: Path) -> AsyncIterator[Console]:
    adapter = FakeAdapter(private_channels={"C-secret": {"priya"}})
    async with console_app(db_path, adapter=adapter) as c:
        await c.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
        n = 0

        async def say(
            channel: str, topic: str, region: str, author: str, *, private: bool = False
        ) -> None:
            nonlocal n
            n += 1
            await c.core.archive.capture(
                ArchivedMessage("test", "T1", channel, channel, "t", f"m{n}", author, author or "Anonymous",
                                not author, f"reply {n}", c.clock.now(), topic=topic, region=region,
                                private=private)
            )  # fmt: skip

        for who in ("a", "b", "c", "d", "e", "f", "a"):  # 6 people, 7 replies
            await say("north", "language", "north", f"test:{who}")
        for who in ("a", "b", "c", "d", "", "", ""):  # 4 people and 3 anonymous replies
            await say("south", "privilege", "south", f"test:{who}" if who else "")
        for who in ("p", "q", "r", "s", "t"):  # a private channel's 5 people
            await say("C-secret", "discomfort", "london", f"test:{who}", private=True)
        yield c


def _table(page: str, heading: str) -> dict[str, str]:
    section = page.split(f">{heading}</h2>", 1)[1].split("</section>", 1)[0]
    return dict(re.findall(r'<tr><td>([^<]+)</td><td class="number">(\d+)</td></tr>', section))


def _hidden(page: str, heading: str) -> str:
    section = page.split(f">{heading}</h2>", 1)[1].split("</section>", 1)[0]
    found = re.search(r"not counted: ([^<]*)\.</p>", section)
    return found.group(1) if found else ""


async def test_groups_of_fewer_than_five_people_are_hidden(console: Console) -> None:
    page = await (await console.get("/console/participation", await console.sign_in(ALEX))).text()
    library = await console.core.prompts.current()
    language = library.topic("language")
    privilege = library.topic("privilege")
    assert language and privilege
    assert _table(page, "By topic") == {language.title: "7"}
    # Four people and three anonymous replies: not five people, so not counted.
    assert _hidden(page, "By topic") == privilege.title
    assert _table(page, "By region") == {"North": "7"}
    assert _hidden(page, "By region") == "South"
    assert "Bar chart of replies: " + language.title + ": 7" in page
    assert re.search(r"\b14\b", page) is None  # no total that would give the hidden count away


async def test_a_private_channel_counts_only_for_its_members(console: Console) -> None:
    alex = await (await console.get("/console/participation", await console.sign_in(ALEX))).text()
    priya = await (await console.get("/console/participation", await console.sign_in(PRIYA))).text()
    assert "London" not in alex
    assert _table(priya, "By region") == {"London": "5", "North": "7"}


def _people(topic: str, region: str, month: str, n: int, start: int = 0) -> list[Row]:
    return [(topic, region, month, f"{topic}-1", f"test:{i}", 1) for i in range(start, start + n)]


def test_every_breakdown_adds_up_to_the_same_total_so_nothing_hidden_can_be_worked_out() -> None:
    rows = _people("language", "north", "2026-11", 6) + _people("privilege", "north", "2026-11", 3)
    topic, region, month, _ = count(rows, 5).values()
    assert topic.shown == (("language", 6),) and topic.hidden == ("privilege",)
    # North has 9 people, but three of its replies are in a hidden topic: left out here too.
    assert region.shown == (("north", 6),) and month.shown == (("2026-11", 6),)


def test_a_group_left_too_small_by_another_hidden_group_is_hidden_too() -> None:
    # South's five people: three in a topic with too few people, so South keeps two.
    rows = (
        _people("language", "north", "2026-11", 6)
        + _people("language", "south", "2026-11", 2, start=10)
        + _people("privilege", "south", "2026-11", 3, start=20)
    )
    topic, region, _, _ = count(rows, 5).values()
    assert region.shown == (("north", 6),) and region.hidden == ("south",)
    assert topic.shown == (("language", 6),)


def test_anonymous_replies_are_nobody() -> None:
    rows = [
        *_people("language", "north", "2026-11", 4),
        ("language", "north", "2026-11", "language-1", "", 9),
    ]
    assert [c.shown for c in count(rows, 5).values()] == [(), (), (), ()]


def test_a_prompt_with_too_few_people_is_left_out_of_its_topic_too() -> None:
    rows = _people("language", "north", "2026-11", 6) + [
        ("language", "north", "2026-11", "language-2", f"test:{i}", 1) for i in range(2)
    ]
    counted = count(rows, 5)
    assert counted["prompt"].shown == (("language-1", 6),)
    assert counted["prompt"].hidden == ("language-2",)
    assert counted["topic"].shown == (("language", 6),)  # not 8: that would give 2 away
