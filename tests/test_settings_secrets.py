"""Settings never show their secrets: repr() reaches logs, tracebacks and debuggers."""

from __future__ import annotations

from bot.settings import Settings

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-bot-token-do-not-show",
    "SLACK_SIGNING_SECRET": "signing-secret-do-not-show",
    "SLACK_APP_TOKEN": "xapp-1-app-token-do-not-show",
    "MicrosoftAppPassword": "microsoft-password-do-not-show",
    "COPBOT_SECRET_KEY": "k" * 40 + "-secret-key-do-not-show",
}


def test_the_repr_of_fully_configured_settings_holds_no_secret() -> None:
    env = {
        **SECRETS,
        "MicrosoftAppId": "00000000-0000-0000-0000-000000000001",
        "COPBOT_TEAMS_TENANTS": "00000000-0000-0000-0000-0000000000aa",
        "COPBOT_PUBLIC_URL": "https://copbot.example.nhs.uk",
    }
    settings = Settings.from_env(env)
    assert settings.slack is not None and settings.teams is not None
    shown = repr(settings) + repr(settings.slack) + repr(settings.teams) + str(settings)
    for name, secret in SECRETS.items():
        assert secret not in shown, name
    # What isn't secret still shows, so the repr stays useful.
    assert "00000000-0000-0000-0000-000000000001" in shown
