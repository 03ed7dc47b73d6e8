"""Private channels on Teams: the real botbuilder asks a fake connector which channels are
private (the team's channel list, ``membershipType``) and who is in one, or in the team
(``pagedmembers``, page by page); search and an admin's export show a private channel's
words to its members only, a standard channel's to its team's members only, and when Teams
can't say, to nobody, with a line saying why."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.model import ChannelRef
from tests.teams.conftest import ADMIN, TeamsBot
from tests.teams.fake_connector import NORTH, TEAM, TENANT

LEADS = "19:leads@thread.tacv2"
PRIYA = {"id": "29:1priya-teams-id", "name": "Priya Shah", "aadObjectId": "aad-priya-0002"}
SAM = {"id": "29:1sam-teams-id", "name": "Sam Okafor", "aadObjectId": "aad-sam-0001"}
# In the organisation, talking with copbot, but not in the team copbot's channels are in.
OUTSIDER = {"id": "29:1kim-teams-id", "name": "Kim Other", "aadObjectId": "aad-kim-0077"}
WORD = "zanzibarian"  # a word only the test's messages hold
UNSURE = "I couldn't check which private channels you're in just now"
PARTLY = "I couldn't check who is in some channels just now"


def account(n: int) -> dict[str, str]:
    return {"id": f"29:1member-{n}", "name": f"Member {n}", "aadObjectId": f"aad-member-{n}"}


def in_channel(
    bot: TeamsBot, channel: str, ident: str, text: str, who: dict[str, str]
) -> dict[str, Any]:
    """A top-level message in a channel of the team, from ``who``."""
    doc = bot.activity("channel_command", id=ident, text=text, **{"from": who})
    doc["conversation"] |= {"id": f"{channel};messageid={ident}"}
    doc["channelData"] |= {"teamsChannelId": channel, "channel": {"id": channel}}
    if not text.startswith("<at>copbot</at>"):
        doc["entities"] = []
    return doc


def in_chat(bot: TeamsBot, ident: str, text: str, who: dict[str, str]) -> dict[str, Any]:
    """A message in ``who``'s 1:1 chat with copbot."""
    return bot.activity(
        "personal_command",
        id=ident,
        text=text,
        **{"from": who},
        conversation={
            "conversationType": "personal",
            "tenantId": TENANT,
            "id": f"a:1personal-chat-with-{who['id']}",
        },
    )


async def answer_in_chat(bot: TeamsBot, ident: str, text: str, who: dict[str, str]) -> str:
    """What copbot answers ``who`` in their 1:1 chat."""
    chat = f"a:1personal-chat-with-{who['id']}"
    before = len([c for c in bot.fake.of("send") if c.conversation == chat])
    assert (await bot.send(in_chat(bot, ident, text, who))).status == 200
    sent = await bot.until(
        lambda: [c for c in bot.fake.of("send") if c.conversation == chat][before:]
    )
    return json.dumps(sent[0].body)


async def leads_kept(bot: TeamsBot, members: list[dict[str, str]], kind: str = "private") -> None:
    """Leads is a private (or shared) channel with these members (and three others, so
    that its list takes several pages); North is standard. Both kept whole in the archive,
    each with one message holding WORD."""
    bot.fake.channels[LEADS] = "Leads"
    bot.fake.kinds[LEADS] = kind
    bot.fake.channel_members[LEADS] = [account(1), account(2), account(3), *members]
    await bot.install()
    for n, channel in enumerate((LEADS, NORTH)):
        on = in_channel(bot, channel, f"170000009000{n}", "<at>copbot</at> archive on", ADMIN)
        assert (await bot.send(on)).status == 200
    query = "select count(*) from channels where archive = 1"
    await bot.until(lambda: bot.rows(query) == [(2,)])
    said = [
        (LEADS, "1700000091000", f"<p>Between us leads: {WORD} budget worries</p>"),
        (NORTH, "1700000091001", f"<p>Open to all: {WORD} job fair</p>"),
    ]
    for channel, ident, text in said:
        assert (await bot.send(in_channel(bot, channel, ident, text, PRIYA))).status == 200
    kept = "select channel_id, private from archive_messages order by channel_id"
    assert await bot.until(lambda: len(bot.rows(kept)) == 2 and bot.rows(kept)) == [
        (LEADS, 1),
        (NORTH, 1),  # open to the team, not to everyone copbot serves
    ]


async def export(bot: TeamsBot, ident: str) -> str:
    """The admin's export, as JSON Lines, through the link copbot sends to their chat."""
    chat = f"a:1personal-chat-with-{ADMIN['id']}"
    before = len(bot.fake.of("send"))
    assert (await bot.send(in_chat(bot, ident, "export jsonl", ADMIN))).status == 200

    def sent() -> list[str]:
        return [json.dumps(c.body) for c in bot.fake.of("send")[before:] if c.conversation == chat]

    [link] = await bot.until(lambda: [s for s in sent() if "/export/" in s])
    # Asked in the chat itself, the link is the answer: nothing says it was sent there.
    assert not [s for s in sent() if "sent you a download link" in s]
    path = "/export/" + link.split("/export/", 1)[1].split(")", 1)[0]
    response = await bot.client.post(path)
    assert response.status == 200
    return await response.text()


async def test_the_kind_of_a_channel_comes_from_the_teams_channel_list(teams: TeamsBot) -> None:
    await leads_kept(teams, [PRIYA])

    def ref(channel_id: str) -> ChannelRef:
        return ChannelRef("teams", channel_id, TENANT)

    assert await teams.adapter.channel_is_private(ref(LEADS)) is True
    # Standard channels and General are open to the team's members only.
    assert await teams.adapter.channel_is_private(ref(NORTH)) is True
    assert await teams.adapter.channel_is_private(ref(TEAM)) is True
    assert await teams.adapter.channel_is_private(ref("19:unknown@thread.tacv2")) is None


async def test_a_member_finds_a_private_channels_messages_and_someone_outside_does_not(
    teams: TeamsBot,
) -> None:
    await leads_kept(teams, [PRIYA])

    # The attack: Sam, in the team but not in Leads, searches a word from it.
    outside = await answer_in_chat(teams, "1700000092000", f"search {WORD}", SAM)
    assert "budget" not in outside and "Leads" not in outside and LEADS not in outside
    assert "job fair" in outside
    inside = await answer_in_chat(teams, "1700000092001", f"search {WORD}", PRIYA)
    assert "budget" in inside and "#Leads" in inside and "job fair" in inside
    assert UNSURE not in inside

    # Leads' members were read page by page (two a page here), once for both searches.
    pages = [c for c in teams.fake.of("pagedmembers") if c.conversation == LEADS]
    assert [c.query.get("continuationToken") for c in pages] == [None, "at:2"]
    assert all(c.query["pageSize"] == "500" for c in pages)


async def test_a_shared_channel_shows_its_words_to_its_direct_members_only(
    teams: TeamsBot,
) -> None:
    """Teams lists a shared channel's direct members only: someone who reaches it through a
    team it is shared with is, to copbot, like Sam here, in a team but not in the channel's
    list. They find none of its words: missed, never shown to someone outside it."""
    await leads_kept(teams, [PRIYA], kind="shared")
    outside = await answer_in_chat(teams, "1700000092100", f"search {WORD}", SAM)
    assert "budget" not in outside and "job fair" in outside
    inside = await answer_in_chat(teams, "1700000092101", f"search {WORD}", PRIYA)
    assert "budget" in inside


@pytest.mark.parametrize("admin_in_leads", [False, True])
async def test_an_admins_export_holds_a_private_channel_only_if_they_are_in_it(
    teams: TeamsBot, admin_in_leads: bool
) -> None:
    await leads_kept(teams, [PRIYA, ADMIN] if admin_in_leads else [PRIYA])
    records = [json.loads(line) for line in (await export(teams, "1700000093000")).splitlines()]
    kept = {(r["channel_id"], r["private"]) for r in records}
    if admin_in_leads:
        assert kept == {(LEADS, True), (NORTH, True)}
    else:
        assert kept == {(NORTH, True)}
        assert not any("budget" in r["text"] for r in records)


async def test_when_teams_cannot_say_who_is_in_a_team_its_channels_words_are_shown_to_nobody(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    await leads_kept(teams, [PRIYA, ADMIN])
    del teams.fake.channel_members[TEAM]  # Teams answers 404 for the team's roster from now on
    with caplog.at_level(logging.INFO):
        said = await answer_in_chat(teams, "1700000094000", f"search {WORD}", PRIYA)
    # The team's roster was the list Teams didn't give: none of the channels it opens (General,
    # North) is shown. Leads' own list came: its members still find it.
    assert "job fair" not in said and "budget" in said
    assert PARTLY in said and UNSURE not in said  # told why, in one line
    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.teams.membership"]
    # Asked once, not again for each channel it opens.
    assert lines == ["Teams did not say who is in a channel (HttpOperationError)"]
    assert WORD not in caplog.text and PRIYA["aadObjectId"] not in caplog.text

    exported = await export(teams, "1700000094001")
    assert "job fair" not in exported and "budget" in exported
    direct = [c for c in teams.fake.of("send") if "/export/" in str(c.body)]
    assert PARTLY in json.dumps(direct[-1].body)


async def test_someone_outside_the_team_finds_none_of_its_channels_words(
    teams: TeamsBot,
) -> None:
    """A private team's standard channel: only its members may read it in Teams."""
    await leads_kept(teams, [PRIYA])
    outside = await answer_in_chat(teams, "1700000095000", f"search {WORD}", OUTSIDER)
    assert "job fair" not in outside and "budget" not in outside
    inside = await answer_in_chat(teams, "1700000095001", f"search {WORD}", SAM)
    assert "job fair" in inside and "budget" not in inside
    roster = [c for c in teams.fake.of("pagedmembers") if c.conversation == TEAM]
    assert roster  # asked Teams who is in the team


async def test_a_channel_whose_members_teams_cannot_give_hides_only_that_channel(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    """One member list Teams won't give (a team copbot was taken out of while it was down,
    an error) leaves out that channel's words, for everyone, and no other channel's."""
    await leads_kept(teams, [PRIYA, ADMIN])
    del teams.fake.channel_members[LEADS]  # Teams answers 404 for Leads' members from now on
    with caplog.at_level(logging.INFO):
        said = await answer_in_chat(teams, "1700000096000", f"search {WORD}", PRIYA)
    assert "job fair" in said  # North, whose team roster Teams gave
    assert "budget" not in said  # Leads: even a member doesn't see it while unchecked
    assert PARTLY in said and UNSURE not in said
    lines = [r.getMessage() for r in caplog.records if r.name == "adapters.teams.membership"]
    assert lines == ["Teams did not say who is in a channel (HttpOperationError)"]
    # The attack: someone outside Leads gains nothing from Teams' silence either.
    outside = await answer_in_chat(teams, "1700000096001", f"search {WORD}", SAM)
    assert "job fair" in outside and "budget" not in outside

    exported = await export(teams, "1700000096002")
    assert "job fair" in exported and "budget" not in exported
    direct = [c for c in teams.fake.of("send") if "/export/" in str(c.body)]
    assert PARTLY in json.dumps(direct[-1].body)
