"""A card copbot sent to someone's 1:1 chat is changed (or taken away) in that chat, through
the way to it Teams gave with that person's own messages: not through a channel of some
team, which may be another tenant's (another organisation's, or another region's Teams),
nor only once copbot is in a team."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.model import ChannelKind, ChannelRef, MessageRef, OutgoingMessage
from bot.settings import TeamsSettings
from tests.teams.conftest import TeamsBot, serve
from tests.teams.fake_connector import TENANT, FakeConnector

OTHER_TENANT = "0a1b2c3d-0000-4000-8000-00000000beef"
KIM = {"id": "29:1kim-teams-id", "name": "Kim Other", "aadObjectId": "aad-kim-0077"}
KIMS_CHAT = "a:1personal-chat-with-kim"


@pytest.fixture
async def elsewhere() -> AsyncIterator[FakeConnector]:
    """The other tenant's Teams, at a service URL of its own."""
    connector = await FakeConnector().start()
    yield connector
    await connector.close()


@pytest.fixture
async def teams(db_path: Path, fake: FakeConnector) -> AsyncIterator[TeamsBot]:
    """copbot serving two tenants."""
    tenants = TeamsSettings(tenants=frozenset({TENANT, OTHER_TENANT}))
    async for bot in serve(db_path, fake, tenants):
        yield bot


async def kim_says_help(bot: TeamsBot, connector: FakeConnector) -> MessageRef:
    """Kim, of the other tenant, writes to copbot in their 1:1 chat; returns copbot's answer."""
    said = bot.activity(
        "personal_command",
        id="1700000007001",
        text="help",
        serviceUrl=connector.url,
        **{"from": KIM},
        conversation={"conversationType": "personal", "tenantId": OTHER_TENANT, "id": KIMS_CHAT},
        channelData={"tenant": {"id": OTHER_TENANT}},
    )
    assert (await bot.send(said)).status == 200
    [answer] = await bot.until(lambda: connector.of("send"))
    chat = ChannelRef("teams", KIMS_CHAT, OTHER_TENANT, "", ChannelKind.DIRECT)
    return MessageRef(chat, answer.activity_id)


async def test_a_card_in_a_chat_is_updated_there_not_through_another_tenants_team(
    teams: TeamsBot, elsewhere: FakeConnector
) -> None:
    await teams.install()  # a team in the first tenant
    sent = await kim_says_help(teams, elsewhere)
    await teams.adapter.update(sent, OutgoingMessage.of("Changed: the session moved to 2pm"))
    [update] = elsewhere.of("update")
    assert update.conversation == KIMS_CHAT
    assert "2pm" in str(update.body)
    assert teams.fake.of("update") == []
    await teams.adapter.delete(sent)
    assert [c.conversation for c in elsewhere.of("delete")] == [KIMS_CHAT]
    assert teams.fake.of("delete") == []


async def test_a_card_in_a_chat_is_updated_before_copbot_is_in_any_team(
    teams: TeamsBot, elsewhere: FakeConnector
) -> None:
    sent = await kim_says_help(teams, elsewhere)
    await teams.adapter.update(sent, OutgoingMessage.of("Changed: the session moved to 2pm"))
    assert [c.conversation for c in elsewhere.of("update")] == [KIMS_CHAT]
