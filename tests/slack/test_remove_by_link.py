"""`/cop remove LINK` on Slack, through bolt and the fake Web API: an admin removes an
anonymous reply by its permalink (chat.delete, and its archive record gone); staff, a link
to a message that isn't an anonymous reply, and a link copbot can't read are refused, each
with its own words, and nothing is deleted."""

from __future__ import annotations

import json

import pytest

from bot.model import ChannelRef, MessageRef
from bot.services.anonymous_replies import NOT_ANONYMOUS, REMOVED, UNREADABLE
from tests.slack.conftest import ADMIN, SlackBot
from tests.slack.test_anonymous_replies_proof import (
    archived,
    fake,
    post_prompt,
    posted_replies,
    press_reply,
    quick,
    reply_submission,
)

__all__ = ["fake", "quick"]  # fixtures, shared with the proof

NORTH = ChannelRef("slack", "C1NORTH", "T1")


async def anonymous_reply(bot: SlackBot) -> tuple[str, str]:
    """A prompt in #north with one anonymous reply under it: (prompt ts, reply ts)."""
    root = await post_prompt(bot)
    view = await press_reply(bot, "U1SAM", root)
    assert (await bot.interact(reply_submission("U1SAM", view, "unsigned words"))).status == 200
    await bot.fake.until(lambda: posted_replies(bot, root))
    [post] = [c for c in bot.fake.of("chat.postMessage") if c.args.get("thread_ts") == root]
    await bot.until(lambda: [r for r in archived(bot) if r[2]])
    return root, str(post.answer["ts"])


def said_to(bot: SlackBot, user: str) -> str:
    return json.dumps(
        [c.args for c in bot.fake.of("chat.postEphemeral") if c.args.get("user") == user]
    )


async def test_an_admin_removes_an_anonymous_reply_by_its_permalink(quick: SlackBot) -> None:
    root, reply = await anonymous_reply(quick)
    link = await quick.core.chat.permalink(MessageRef(NORTH, reply, root))
    assert link.startswith("https://example.slack.com/archives/C1NORTH/p")
    assert (await quick.command(f"remove {link}", user=ADMIN)).status == 200
    [deleted] = await quick.fake.until(lambda: quick.fake.of("chat.delete"))
    assert deleted.args["channel"] == "C1NORTH" and deleted.args["ts"] == reply
    await quick.fake.until(lambda: REMOVED in said_to(quick, ADMIN))
    assert not [r for r in archived(quick) if r[2]]


@pytest.mark.parametrize(
    ("user", "link", "words"),
    [
        ("U1SAM", "REPLY", "is for facilitators and admins"),
        (ADMIN, "PROMPT", NOT_ANONYMOUS),
        (ADMIN, "https://example.slack.com/archives/C1NORTH/nothing-here", UNREADABLE),
        (ADMIN, "https://example.org/archives/C1NORTH/p1700000000000100", UNREADABLE),
    ],
    ids=["staff", "not-anonymous", "garbled", "not-slack"],
)
async def test_removing_is_refused_kindly_and_deletes_nothing(
    quick: SlackBot, user: str, link: str, words: str
) -> None:
    root, reply = await anonymous_reply(quick)
    if link == "REPLY":
        link = await quick.core.chat.permalink(MessageRef(NORTH, reply, root))
    elif link == "PROMPT":
        link = await quick.core.chat.permalink(MessageRef(NORTH, root))
    before = archived(quick)
    assert (await quick.command(f"remove {link}", user=user)).status == 200
    await quick.fake.until(lambda: words[:40] in said_to(quick, user))
    assert not quick.fake.of("chat.delete")
    assert archived(quick) == before


async def test_a_private_channels_reply_is_removed_only_by_its_members(quick: SlackBot) -> None:
    quick.fake.private = {"C1NORTH"}
    quick.fake.members = {"U1SAM": ["C1NORTH"], "U2PRIYA": ["C1NORTH"], ADMIN: []}
    root, reply = await anonymous_reply(quick)
    link = await quick.core.chat.permalink(MessageRef(NORTH, reply, root))
    before = archived(quick)
    # An admin who isn't in the private channel learns nothing from the link.
    assert (await quick.command(f"remove {link}", user=ADMIN)).status == 200
    await quick.fake.until(lambda: NOT_ANONYMOUS[:40] in said_to(quick, ADMIN))
    assert not quick.fake.of("chat.delete")
    assert archived(quick) == before
