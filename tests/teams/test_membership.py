"""Who sees which Teams channels, over time: a team's channels open to its roster only,
member lists kept for a minute, failures kept a few seconds and hiding only the channels
they open, a team's channel list asked at most once a minute, and a channel of unknown
kind open to its members only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from adapters.teams.conversations import Conversations, Place
from adapters.teams.membership import ChannelMembership
from bot.model import ChannelRef, UserRef
from bot.ports import Memberships
from bot.records import Conversation
from tests.support.fakes import ManualClock

TEAM = "19:general@thread.tacv2"
LEADS = "19:leads@thread.tacv2"
NEW = "19:new@thread.tacv2"
# A team copbot was taken out of while it was down: Teams no longer says who is in it.
GONE_TEAM = "19:gone-general@thread.tacv2"
GONE = "19:gone-private@thread.tacv2"
PRIYA = UserRef("teams", "aad-priya")
SAM = UserRef("teams", "aad-sam")
OUTSIDER = UserRef("teams", "aad-other-team")


@dataclass
class Store:
    rows: list[Conversation] = field(default_factory=list)

    async def save(self, conversation: Conversation) -> None:
        self.rows.append(conversation)

    async def get(self, kind: str, key: str) -> Conversation | None:
        return None

    async def person_in_chat(self, conversation: str) -> Conversation | None:
        return None

    async def channels(self) -> list[Conversation]:
        return []

    async def forget_channel(self, key: str) -> None:
        pass


@dataclass
class Teams:
    """What Teams would say, and what it was asked."""

    kinds: dict[str, str] = field(default_factory=dict)
    in_channels: dict[str, set[str]] = field(default_factory=dict)
    down: bool = False
    refused: set[str] = field(default_factory=set)  # conversations Teams won't list
    asked: list[str] = field(default_factory=list)

    async def channel_kinds(self, place: Place) -> dict[str, str]:
        self.asked.append(f"channels of {place.team}")
        if self.down:
            raise ConnectionError("down")
        return dict(self.kinds)

    async def members(self, place: Place, channel_id: str) -> frozenset[str]:
        self.asked.append(f"members of {channel_id}")
        if self.down or channel_id in self.refused:
            raise ConnectionError("down")
        return frozenset(self.in_channels.get(channel_id, set()))


async def setup(*channels: str) -> tuple[ChannelMembership, Teams, ManualClock, Conversations]:
    conversations = Conversations(Store())  # type: ignore[arg-type]
    place = Place("https://teams.test/", "tenant", "28:bot", TEAM)
    for channel in (TEAM, *channels):
        await conversations.remember_channel(channel, "", place)
    teams = Teams(
        kinds={TEAM: "standard", LEADS: "private"},
        in_channels={TEAM: {PRIYA.id, SAM.id}, LEADS: {PRIYA.id}},  # TEAM: the team's roster
    )
    clock = ManualClock()
    return ChannelMembership(teams, conversations, clock), teams, clock, conversations


async def seen(membership: ChannelMembership, user: UserRef) -> frozenset[str]:
    """The channels ``user`` sees, Teams having said for every one."""
    answer = await membership.channels_visible_to(user)
    assert answer is not None and answer.unchecked == frozenset()
    return answer.channels


async def test_a_member_list_is_kept_for_a_minute() -> None:
    membership, teams, clock, _ = await setup(LEADS)
    assert await seen(membership, PRIYA) == {TEAM, LEADS}
    assert await seen(membership, SAM) == {TEAM}
    assert teams.asked == [f"members of {TEAM}", f"channels of {TEAM}", f"members of {LEADS}"]
    teams.in_channels[LEADS].add(SAM.id)  # Sam joins Leads
    assert await seen(membership, SAM) == {TEAM}  # still the list of before
    clock.advance(timedelta(seconds=61))
    assert await seen(membership, SAM) == {TEAM, LEADS}
    assert teams.asked[-1] == f"members of {LEADS}"


async def test_a_failure_is_kept_only_a_few_seconds() -> None:
    membership, teams, clock, _ = await setup(LEADS)
    assert await membership.channel_is_private(ChannelRef("teams", LEADS)) is True
    teams.down = True
    failed = Memberships(frozenset(), frozenset({TEAM, LEADS}))
    assert await membership.channels_visible_to(PRIYA) == failed
    asked = len(teams.asked)
    teams.down = False
    # Not asked again at once: each search would ask every list Teams won't give.
    assert await membership.channels_visible_to(SAM) == failed
    assert len(teams.asked) == asked
    clock.advance(timedelta(seconds=16))
    assert await seen(membership, PRIYA) == {TEAM, LEADS}  # asked again


async def test_a_teams_channel_list_is_asked_at_most_once_a_minute() -> None:
    membership, teams, clock, conversations = await setup(LEADS)
    place = Place("https://teams.test/", "tenant", "28:bot", TEAM)
    await conversations.remember_channel(NEW, "", place)  # created after the list was read
    assert await membership.channel_is_private(ChannelRef("teams", LEADS)) is True
    assert await membership.channel_is_private(ChannelRef("teams", NEW)) is None
    assert await membership.channel_is_private(ChannelRef("teams", NEW)) is None
    assert teams.asked == [f"channels of {TEAM}"]
    teams.kinds[NEW] = "standard"
    clock.advance(timedelta(seconds=61))
    # Standard: open to the team, not to everyone copbot serves, so private to the core.
    assert await membership.channel_is_private(ChannelRef("teams", NEW)) is True
    assert teams.asked == [f"channels of {TEAM}", f"channels of {TEAM}"]


async def test_a_channel_of_unknown_kind_is_open_to_its_members_only() -> None:
    membership, teams, _, _ = await setup(LEADS, NEW)
    teams.in_channels[NEW] = {SAM.id}
    assert await seen(membership, SAM) == {TEAM, NEW}
    assert await seen(membership, PRIYA) == {TEAM, LEADS}
    # General never needs asking: its id is the team's, and it is open to the team only.
    assert await membership.channel_is_private(ChannelRef("teams", TEAM)) is True


async def test_someone_outside_the_team_sees_none_of_its_channels() -> None:
    membership, teams, clock, _ = await setup(LEADS)
    assert await seen(membership, OUTSIDER) == frozenset()
    teams.in_channels[TEAM].add(OUTSIDER.id)  # they join the team: its standard channels open
    clock.advance(timedelta(seconds=61))
    assert await seen(membership, OUTSIDER) == {TEAM}


async def test_a_list_teams_wont_give_hides_only_the_channels_it_opens() -> None:
    membership, teams, clock, conversations = await setup(LEADS)
    gone = Place("https://teams.test/", "tenant", "28:bot", GONE_TEAM)
    for channel in (GONE_TEAM, GONE):
        await conversations.remember_channel(channel, "", gone)
    teams.kinds |= {GONE_TEAM: "standard", GONE: "private"}
    teams.refused = {GONE_TEAM, GONE}
    assert await membership.channels_visible_to(PRIYA) == Memberships(
        frozenset({TEAM, LEADS}), frozenset({GONE_TEAM, GONE})
    )
    # Each list asked once: not again for every channel it opens.
    assert teams.asked.count(f"members of {GONE_TEAM}") == 1
    # Asked again a little later, and once Teams answers, the channel is answered for.
    teams.refused = {GONE_TEAM}
    teams.in_channels[GONE] = {PRIYA.id}
    clock.advance(timedelta(seconds=16))
    assert await membership.channels_visible_to(PRIYA) == Memberships(
        frozenset({TEAM, LEADS, GONE}), frozenset({GONE_TEAM})
    )
