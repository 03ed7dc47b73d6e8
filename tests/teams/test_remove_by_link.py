"""`@copbot remove LINK` on Teams, through botbuilder and the fake connector: an admin
removes an anonymous reply by its link (deleted through the connector, its archive record
gone); staff and a link copbot can't read are refused, and nothing is deleted."""

from __future__ import annotations

import html
import json

import pytest

from bot.model import ChannelRef, MessageRef
from bot.services.anonymous_replies import REMOVED, UNREADABLE
from tests.teams.conftest import ADMIN, TeamsBot
from tests.teams.fake_connector import NORTH, TENANT
from tests.teams.test_anonymous_replies_proof import (
    archived,
    post_prompt,
    posted_replies,
    press_reply,
    quick,
)
from tests.teams.test_feedback_proof import account, submit

__all__ = ["quick"]  # the fixture, shared with the proof

PRIYA = "aad-priya-0002"
NORTH_REF = ChannelRef("teams", NORTH, TENANT)


async def anonymous_reply(bot: TeamsBot) -> tuple[str, str]:
    """A prompt in North with one anonymous reply under it: (prompt id, reply id)."""
    await bot.install()
    root = await post_prompt(bot)
    data = await press_reply(bot, PRIYA, root)
    await submit(bot, PRIYA, root, data, {"text": "unsigned words"})
    await bot.until(lambda: posted_replies(bot, root) and archived(bot))
    [post] = [c for c in bot.fake.of("send") if c.conversation == f"{NORTH};messageid={root}"]
    return root, post.activity_id


def command(bot: TeamsBot, link: str, who: dict[str, str], ident: str) -> dict[str, object]:
    shown = html.escape(link)  # Teams sends a pasted link as an anchor
    return bot.activity(
        "channel_command",
        id=ident,
        text=f'<at>copbot</at> remove <a href="{shown}">{shown}</a>',
        **{"from": who},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={ident}",
        },
    )


def said(bot: TeamsBot) -> str:
    return json.dumps([c.body for c in bot.fake.of("send")])


async def test_an_admin_removes_an_anonymous_reply_by_its_link(quick: TeamsBot) -> None:
    root, reply = await anonymous_reply(quick)
    link = await quick.core.chat.permalink(MessageRef(NORTH_REF, reply, root))
    assert link.startswith("https://teams.microsoft.com/l/message/")
    assert (await quick.send(command(quick, link, ADMIN, "1700000009300"))).status == 200
    [deleted] = await quick.until(lambda: quick.fake.of("delete"))
    assert deleted.activity_id == reply
    await quick.until(lambda: REMOVED in said(quick))
    assert not archived(quick)


@pytest.mark.parametrize(
    ("who", "link", "words"),
    [
        (account(PRIYA), "REPLY", "is for facilitators and admins"),
        (ADMIN, "https://teams.microsoft.com/l/message/19%3Anorth/1?tenantId=other", UNREADABLE),
    ],
    ids=["staff", "other-tenant"],
)
async def test_removing_is_refused_and_deletes_nothing(
    quick: TeamsBot, who: dict[str, str], link: str, words: str
) -> None:
    root, reply = await anonymous_reply(quick)
    if link == "REPLY":
        link = await quick.core.chat.permalink(MessageRef(NORTH_REF, reply, root))
    before = archived(quick)
    assert (await quick.send(command(quick, link, who, "1700000009400"))).status == 200
    await quick.until(lambda: words[:30] in said(quick))
    assert not quick.fake.of("delete")
    assert archived(quick) == before
