"""Teams without an app id (local testing) takes only what a local emulator sends: no
request from a web page (Origin), JSON only, addressed to copbot's own host, and naming a
serviceUrl on this machine (or one COPBOT_TEAMS_SERVICE_URLS allows). Whatever is refused
changes nothing; with an app id none of this applies (the token decides)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.teams.unauthenticated import LocalOnly, site_of
from bot.settings import ConfigError, Settings
from tests.teams.conftest import TeamsBot
from tests.teams.test_auth import TRUSTED
from tests.teams.test_auth import secured as secured  # the fixture
from tests.teams.test_contract import command


def snapshot(bot: TeamsBot) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    tables = bot.rows(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
    )
    return {name: bot.rows(f'select * from "{name}"') for (name,) in tables}


async def install_quietly(bot: TeamsBot) -> dict[str, list[tuple[Any, ...]]]:
    """Install copbot in the team and wait until the installation is all taken in."""
    await bot.install()
    pending = "select count(*) from inbox where state = 'pending'"
    await bot.until(lambda: bot.rows(pending) == [(0,)])
    await bot.until(lambda: bot.rows("select count(*) from channels") == [(2,)])
    return snapshot(bot)


async def post(bot: TeamsBot, activity: dict[str, Any], headers: dict[str, str]) -> int:
    body = json.dumps(activity).encode()
    response = await bot.client.post("/api/messages", data=body, headers=headers)
    return response.status


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        # What a page on evil.example made to resolve to 127.0.0.1 sends, without asking.
        (
            {"Content-Type": "text/plain", "Origin": "http://evil.example", "Host": "evil.example"},
            403,
        ),
        (JSON | {"Origin": "http://evil.example"}, 403),
        (JSON | {"Origin": "null"}, 403),
        (JSON | {"Host": "evil.example"}, 421),
        (JSON | {"Host": "copbot.test.evil.example"}, 421),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({}, 415),
    ],
)
async def test_a_request_a_web_page_could_send_is_refused_and_changes_nothing(
    teams: TeamsBot, headers: dict[str, str], status: int
) -> None:
    before = await install_quietly(teams)
    calls = len(teams.fake.calls)
    optout = command(teams, "optout", "1700000200000")
    assert await post(teams, optout, headers) == status
    assert snapshot(teams) == before
    assert len(teams.fake.calls) == calls
    # The same activity as an emulator sends it is taken: the refusal was the headers'.
    assert await post(teams, optout, JSON) == 200
    assert snapshot(teams) != before


@pytest.mark.parametrize(
    "service_url",
    [
        "http://evil.example/",
        "https://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7:8080/",
        "http://127.0.0.1@evil.example/",
        "http://127.0.0.1\\@evil.example/",
        "http://localhost.evil.example/",
        "file:///etc/passwd",
        "",
        None,
    ],
)
async def test_a_service_url_off_this_machine_is_refused_and_never_called(
    teams: TeamsBot, service_url: str | None
) -> None:
    before = await install_quietly(teams)
    calls = len(teams.fake.calls)
    activity = command(teams, "whoami", "1700000201000") | {"serviceUrl": service_url}
    assert await post(teams, activity, JSON) == 403
    assert snapshot(teams) == before
    assert len(teams.fake.calls) == calls
    installed = teams.activity("installed_in_team", id="reinstall") | {"serviceUrl": service_url}
    assert await post(teams, installed, JSON) == 403
    assert snapshot(teams) == before


def test_loopback_service_urls_on_any_port_are_called_back() -> None:
    local = LocalOnly.of("", ())
    for url in (
        "http://127.0.0.1:56150/",
        "http://localhost:3978",
        "https://LOCALHOST/_connector",
        "http://[::1]:8080/",
        "http://127.0.0.2:1/",
    ):
        assert local.calls_back(url), url
    assert not local.calls_back("http://0.0.0.0:56150/")
    assert not local.calls_back("http://[::ffff:10.0.0.1]/")


def test_a_service_url_the_setting_allows_is_called_back_and_only_that_one() -> None:
    settings = Settings.from_env(
        {"COPBOT_TEAMS": "on", "COPBOT_TEAMS_SERVICE_URLS": "http://emulator.lan:56150"}
    )
    assert settings.teams is not None
    local = LocalOnly.of("", settings.teams.service_urls)
    assert local.calls_back("http://Emulator.lan:56150/_connector/")
    assert not local.calls_back("http://emulator.lan:56151/")
    assert not local.calls_back("https://emulator.lan:56150/")
    assert not local.calls_back("http://evil.example/")
    assert site_of("http://emulator.lan/") == "http://emulator.lan:80"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"COPBOT_TEAMS_SERVICE_URLS": "emulator.lan:56150"}, "has 'emulator.lan:56150'"),
        ({"COPBOT_TEAMS_SERVICE_URLS": "http://a@evil.example"}, "has 'http://a@evil.example'"),
        ({"COPBOT_TEAMS_SERVICE_URLS": "http://x:port"}, "has 'http://x:port'"),
        (
            {
                "COPBOT_TEAMS_SERVICE_URLS": "http://emulator.lan:56150",
                "MicrosoftAppId": "00000000-0000-0000-0000-00000000b0b0",
                "MicrosoftAppPassword": "secret",
                "COPBOT_TEAMS_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            },
            "for Teams without MicrosoftAppId only",
        ),
    ],
)
def test_a_bad_service_urls_setting_is_refused_in_words(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Settings.from_env({"COPBOT_TEAMS": "on"} | env)


async def test_with_an_app_id_the_token_decides_not_these_rules(secured: TeamsBot) -> None:
    """botbuilder checks the token's serviceurl claim; nothing here gets in its way."""
    activity = secured.activity("channel_top_level")
    token = TRUSTED.token(secured.fake.url)
    headers = {"Authorization": f"Bearer {token}", "Origin": "https://teams.example"}
    assert await post(secured, activity, JSON | headers) == 200
    assert secured.inbox_count() == 1
