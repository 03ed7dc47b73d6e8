"""Teams configuration: botbuilder's own variable names, failing closed."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, Settings

APP = {"MicrosoftAppId": "app-1", "MicrosoftAppPassword": "secret"}
T1, T2 = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0d3f5e4c-1111-4a2b-9c3d-2e4f6a8b0c1d"


def test_nothing_set_means_no_teams() -> None:
    assert Settings.from_env({}).teams is None


def test_an_app_id_needs_the_tenants_it_serves() -> None:
    with pytest.raises(ConfigError, match="COPBOT_TEAMS_TENANTS"):
        Settings.from_env(APP)


def test_an_app_id_with_tenants_turns_teams_on_and_the_playground_off() -> None:
    settings = Settings.from_env(APP | {"COPBOT_TEAMS_TENANTS": f"{T1}, {T2}"})
    assert settings.teams is not None and settings.teams.authenticated
    assert settings.teams.tenants == frozenset({T1, T2})
    assert settings.playground is False


def test_a_single_tenant_app_serves_its_own_tenant() -> None:
    settings = Settings.from_env(
        APP | {"MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": T1}
    )
    assert settings.teams is not None and settings.teams.tenants == frozenset({T1})


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


@pytest.mark.parametrize(
    "env",
    [
        {"COPBOT_TEAMS_TENANTS": "contoso.onmicrosoft.com"},
        {"COPBOT_TEAMS_TENANTS": f"{T1}, contoso"},
        {"MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": "contoso.onmicrosoft.com"},
        {"COPBOT_TEAMS_TENANTS": T1, "MicrosoftAppTenantId": "{" + T2 + "}"},
    ],
)
def test_a_tenant_named_other_than_by_its_id_stops_copbot_in_one_line(
    env: dict[str, str],
) -> None:
    # Teams names the tenant by its id in every activity: a domain here would have copbot
    # start, then refuse every activity.
    with pytest.raises(ConfigError, match="which is not a tenant id; write the Directory"):
        Settings.from_env(APP | env)


def test_a_tenant_id_in_capitals_is_the_same_tenant() -> None:
    # Teams writes tenant ids in lower case; some tools show them in capitals.
    settings = Settings.from_env(
        APP | {"MicrosoftAppType": "SingleTenant", "MicrosoftAppTenantId": f" {T1.upper()} "}
    )
    assert settings.teams is not None and settings.teams.tenants == frozenset({T1})
    assert settings.teams.tenant_id == T1


def test_without_an_app_id_tenants_are_compared_in_lower_case_as_activities_write_them() -> None:
    local = {"COPBOT_TEAMS": "on", "COPBOT_TEAMS_TENANTS": f"{T1.upper()}, Emulator-Tenant"}
    settings = Settings.from_env(local)
    assert settings.teams is not None and not settings.teams.authenticated
    assert settings.teams.tenants == frozenset({T1, "emulator-tenant"})
