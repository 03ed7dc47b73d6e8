"""Teams configuration: botbuilder's own variable names, failing closed."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, Settings

APP = {"MicrosoftAppId": "app-1", "MicrosoftAppPassword": "secret"}


def test_nothing_set_means_no_teams() -> None:
    assert Settings.from_env({}).teams is None


def test_an_app_id_needs_the_tenants_it_serves() -> None:
    with pytest.raises(ConfigError, match="COPBOT_TEAMS_TENANTS"):
        Settings.from_env(APP)


def test_an_app_id_with_tenants_turns_teams_on_and_the_playground_off() -> None:
    settings = Settings.from_env(APP | {"COPBOT_TEAMS_TENANTS": "t1, t2"})
    assert settings.teams is not None and settings.teams.authenticated
    assert settings.teams.tenants == frozenset({"t1", "t2"})
    assert settings.playground is False


def test_a_single_tenant_app_serves_its_own_tenant() -> None:
    settings = Settings.from_env(
        APP | {"MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": "t9"}
    )
    assert settings.teams is not None and settings.teams.tenants == frozenset({"t9"})


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"MicrosoftAppId": "app-1", "COPBOT_TEAMS_TENANTS": "t"}, "MicrosoftAppPassword"),
        (APP | {"MicrosoftAppType": "Sometimes"}, "MicrosoftAppType"),
        (APP | {"MicrosoftAppType": "SingleTenant"}, "MicrosoftAppTenantId"),
        (
            {"COPBOT_TEAMS": "on", "MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": "t"},
            "MicrosoftAppId",
        ),
        (
            {
                "COPBOT_TEAMS": "on",
                "MicrosoftAppType": "UserAssignedMSI",
                "MicrosoftAppTenantId": "t",
            },
            "MicrosoftAppId",
        ),
        ({"COPBOT_TEAMS": "maybe"}, "COPBOT_TEAMS"),
        ({"COPBOT_TEAMS": "on", "COPBOT_PLAYGROUND": "off"}, "MicrosoftAppId"),
    ],
)
def test_mistakes_are_named(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Settings.from_env(env)


def test_unauthenticated_teams_is_for_local_testing_only() -> None:
    settings = Settings.from_env({"COPBOT_TEAMS": "on"})
    assert settings.teams is not None and not settings.teams.authenticated
    assert settings.playground is True  # the same rules as the playground's
