"""Teams without MicrosoftAppId lets anyone who reaches copbot act as anyone. copbot runs it
only for trying copbot on this machine alone, and otherwise refuses to start, in one
sentence naming the settings that are missing."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, Settings

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
UNAUTHENTICATED = {"COPBOT_TEAMS": "on"}
MISSING = "set MicrosoftAppId, MicrosoftAppPassword and COPBOT_TEAMS_TENANTS"


@pytest.mark.parametrize(
    ("env", "why"),
    [
        # Slack configured, the playground left on auto: this ran Teams unauthenticated.
        (SLACK, "Slack is set up too"),
        (SLACK | {"COPBOT_PLAYGROUND": "auto"}, "Slack is set up too"),
        (SLACK | {"COPBOT_PLAYGROUND": "on"}, "Slack is set up too"),
        (SLACK | {"SLACK_API_URL": "https://slack.example.org/api/"}, "Slack is set up too"),
        (
            {"COPBOT_PUBLIC_URL": "https://copbot.example.nhs.uk"},
            "COPBOT_PUBLIC_URL is https://copbot.example.nhs.uk, not this machine",
        ),
        ({"COPBOT_PUBLIC_URL": "http://10.0.0.5:3978"}, "not this machine"),
        ({"COPBOT_PLAYGROUND": "off"}, "COPBOT_PLAYGROUND=off forbids that"),
    ],
)
def test_teams_without_credentials_is_refused_beyond_this_machine(
    env: dict[str, str], why: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(UNAUTHENTICATED | env)
    message = str(refused.value)
    assert message.startswith("COPBOT_TEAMS=on without MicrosoftAppId lets anyone act as anyone")
    assert why in message and MISSING in message and "\n" not in message


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"COPBOT_PLAYGROUND": "on"},
        {"COPBOT_PUBLIC_URL": "http://127.0.0.1:3978"},
        {"COPBOT_PUBLIC_URL": "http://localhost:3978"},
        {"COPBOT_PUBLIC_URL": "http://[::1]:3978"},
        # A fake Slack on this machine (the tests' own) is not a real workspace.
        SLACK | {"SLACK_API_URL": "http://127.0.0.1:9/api/"},
    ],
)
def test_teams_without_credentials_runs_on_this_machine_alone(env: dict[str, str]) -> None:
    settings = Settings.from_env(UNAUTHENTICATED | env)
    assert settings.teams is not None and not settings.teams.authenticated


def test_teams_with_credentials_runs_beside_slack_as_before() -> None:
    env = SLACK | {
        "MicrosoftAppId": "00000000-0000-0000-0000-00000000b0b0",
        "MicrosoftAppPassword": "secret",
        "COPBOT_TEAMS_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "COPBOT_PUBLIC_URL": "https://copbot.example.nhs.uk",
    }
    settings = Settings.from_env(env)
    assert settings.teams is not None and settings.teams.authenticated and settings.slack
