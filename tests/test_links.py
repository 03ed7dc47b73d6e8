"""Each platform's message links read back into the message they name (for `/cop remove`),
and anything else read as nothing."""

from __future__ import annotations

import pytest

from adapters.local import links as local
from adapters.slack import links as slack
from adapters.teams import links as teams
from bot.model import ChannelRef, MessageRef

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://ips-cop.slack.com/archives/C1NORTH/p1700000000000200"
            "?thread_ts=1700000000.000100&cid=C1NORTH",
            MessageRef(
                ChannelRef("slack", "C1NORTH", "T1"), "1700000000.000200", "1700000000.000100"
            ),
        ),
        (
            "<https://ips-cop.slack.com/archives/C1NORTH/p1700000000000200?thread_ts=1700000000.000100&amp;cid=C1NORTH>",
            MessageRef(
                ChannelRef("slack", "C1NORTH", "T1"), "1700000000.000200", "1700000000.000100"
            ),
        ),
        (
            "https://example.slack.com/archives/C1NORTH/p1700000000000100",
            MessageRef(ChannelRef("slack", "C1NORTH", "T1"), "1700000000.000100"),
        ),
        ("http://ips-cop.slack.com/archives/C1NORTH/p1700000000000100", None),
        ("https://slack.com.evil.example/archives/C1NORTH/p1700000000000100", None),
        ("https://ips-cop.slack.com/archives/DU1SAM/p1700000000000100", None),
        ("https://ips-cop.slack.com/archives/C1NORTH/p17000", None),
        ("not a link", None),
    ],
)
def test_slack_links(link: str, expected: MessageRef | None) -> None:
    assert slack.message_at(link, "T1") == expected


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://teams.microsoft.com/l/message/19%3Anorth%40thread.tacv2/1700000000200"
            f"?tenantId={TENANT}&parentMessageId=1700000000100&createdTime=1700000000200",
            MessageRef(
                ChannelRef("teams", "19:north@thread.tacv2", TENANT),
                "1700000000200",
                "1700000000100",
            ),
        ),
        (
            "https://teams.microsoft.com/l/message/19%3Anorth%40thread.tacv2/1700000000200"
            "?tenantId=someone-else&parentMessageId=1700000000100",
            None,
        ),
        (
            f"https://teams.microsoft.com/l/message/a%3A1dm/1700000000200?tenantId={TENANT}",
            None,
        ),
        (f"https://teams.example.com/l/message/19%3Ax/1?tenantId={TENANT}", None),
        (  # a tenant id in capitals is the same tenant, written as activities write it
            "https://teams.microsoft.com/l/message/19%3Anorth%40thread.tacv2/1700000000200"
            f"?tenantId={TENANT.upper()}",
            MessageRef(ChannelRef("teams", "19:north@thread.tacv2", TENANT), "1700000000200"),
        ),
    ],
)
def test_teams_links(link: str, expected: MessageRef | None) -> None:
    assert teams.message_at(link, {TENANT}) == expected


@pytest.mark.parametrize(
    ("link", "address", "expected"),
    [
        (
            "/?channel=north&thread=m7#m10",
            "",
            MessageRef(ChannelRef("local", "north"), "m10", "m7"),
        ),
        (
            "http://127.0.0.1:8080/?channel=north#m7",
            "",
            MessageRef(ChannelRef("local", "north"), "m7"),
        ),
        (
            "https://cop.example/?channel=north#m7",
            "cop.example",
            MessageRef(ChannelRef("local", "north"), "m7"),
        ),
        ("https://elsewhere.example/?channel=north#m7", "cop.example", None),
        ("https://elsewhere.example/?channel=north#m7", "", None),
        ("/?channel=@sam#m7", "", None),
        ("/?channel=north#7", "", None),
        ("/other?channel=north#m7", "", None),
    ],
)
def test_playground_links(link: str, address: str, expected: MessageRef | None) -> None:
    assert local.message_at(link, ["north", "general"], address) == expected
