"""What people type in chat commands, past any sensible size: a specific, friendly refusal
that doesn't quote it all back, and nothing changes."""

from __future__ import annotations

import pytest

from bot.model import Role
from tests.support.harness import ALEX, GENERAL, PRIYA, Harness

LONG_ID = "test:" + "U" * 5000


@pytest.fixture
async def sched(bot: Harness) -> Harness:
    await bot.join(GENERAL)
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by="test")
    return bot


async def _nothing_scheduled(bot: Harness) -> bool:
    return "#1" not in await bot.reply_text("schedule list", PRIYA)


async def test_an_identity_of_thousands_of_characters_is_refused(bot: Harness) -> None:
    for command in (f"role grant admin {LONG_ID}", f"role grant facilitator <@{LONG_ID}>"):
        text = await bot.reply_text(command, ALEX)
        assert "longer than anyone's identity" in text and len(text) < 600
    assert await bot.core.roles.role_of(LONG_ID) is Role.STAFF
    assert "5,005 characters" in await bot.reply_text(f"role revoke admin {LONG_ID}", ALEX)


@pytest.mark.parametrize(
    ("days", "says"),
    [
        (" ".join(["monday"] * 2000), "2,000 days, more than a week has"),
        (",".join(["tue"] * 14), "14 days, more than a week has"),
        ("x" * 5000, "couldn't read `xxxx"),
    ],
)
async def test_a_schedule_of_thousands_of_days_is_refused(
    sched: Harness, days: str, says: str
) -> None:
    text = await sched.reply_text(f"schedule prompt any every {days} at 10:00", PRIYA)
    assert says in text and len(text) < 600
    assert await _nothing_scheduled(sched)


async def test_a_schedule_with_a_huge_time_or_channel_is_refused_briefly(sched: Harness) -> None:
    text = await sched.reply_text("schedule prompt any every monday at " + "1" * 5000, PRIYA)
    assert "as a time" in text and len(text) < 600
    text = await sched.reply_text(
        "schedule prompt any every monday at 10:00 in #" + "n" * 5000, PRIYA
    )
    assert "name one channel" in text and len(text) < 600
    assert await _nothing_scheduled(sched)


@pytest.mark.parametrize("number", ["9" * 5000, "#" + "1" * 25, "²", "#１"], ids=len)
async def test_cancelling_a_schedule_number_of_thousands_of_digits_is_refused(
    sched: Harness, number: str
) -> None:
    await sched.reply_text("schedule prompt any every monday at 10:00", PRIYA)
    text = await sched.reply_text(f"schedule cancel {number}", PRIYA)
    assert "isn't a schedule number" in text and len(text) < 600
    assert "#1" in await sched.reply_text("schedule list", PRIYA)  # still there
