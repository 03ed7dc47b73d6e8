from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings


def test_defaults_need_no_configuration() -> None:
    s = Settings.from_env({})
    assert s.db_path == Path("copbot.db")
    assert s.timezone.key == "Europe/London"
    assert s.admins == frozenset()
    assert s.playground and s.slack is None
    assert s.schedule_grace == timedelta(minutes=15)


def test_values_are_read_and_normalised() -> None:
    s = Settings.from_env(
        {
            "COPBOT_DB": "/data/cop.db",
            "COPBOT_TIMEZONE": "Europe/Dublin",
            "COPBOT_ADMINS": " slack:U1 , Teams:29F1C8E2-0000-4000-8000-00000000000A ,,",
            "COPBOT_SCHEDULE_GRACE_MINUTES": "30",
            "COPBOT_PUBLIC_URL": "https://bot.example.org/",
        },
        db="/override.db",
    )
    assert s.db_path == Path("/override.db")
    assert s.timezone.key == "Europe/Dublin"
    assert s.admins == {"slack:U1", "teams:29f1c8e2-0000-4000-8000-00000000000a"}
    assert s.schedule_grace == timedelta(minutes=30)
    assert s.public_url == "https://bot.example.org"


def test_the_playground_is_off_once_a_real_platform_is_connected() -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert not Settings.from_env(slack).playground
    assert Settings.from_env({**slack, "COPBOT_PLAYGROUND": "on"}).playground


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COPBOT_TIMEZONE": "Mars/Olympus"}, "COPBOT_TIMEZONE 'Mars/Olympus' is not a time zone"),
        ({"COPBOT_ADMINS": "slack:U1,alex"}, "COPBOT_ADMINS has 'alex', which is not an identity"),
        ({"COPBOT_SCHEDULE_GRACE_MINUTES": "-5"}, "must be a whole number from 1 to 10,080"),
        ({"COPBOT_SCHEDULE_GRACE_MINUTES": "99999999999999"}, "from 1 to 10,080, not '9999"),
        ({"COPBOT_RETENTION_DAYS": "1000000"}, "COPBOT_RETENTION_DAYS must be a whole number"),
        ({"COPBOT_RETENTION_DAYS": "²"}, "COPBOT_RETENTION_DAYS must be a whole number"),
        ({"COPBOT_PUBLIC_URL": "https://[::1"}, "is not a web address copbot can be reached at"),
        ({"COPBOT_PUBLIC_URL": "http://x:99999"}, "is not a web address copbot can be reached at"),
        ({"COPBOT_PUBLIC_URL": "https:///north"}, "is not a web address copbot can be reached at"),
        ({"COPBOT_PLAYGROUND": "maybe"}, "COPBOT_PLAYGROUND must be on, off or auto"),
        ({"COPBOT_REGIONS": ",,"}, "COPBOT_REGIONS names no region"),
        ({"COPBOT_REGIONS": " , "}, "COPBOT_REGIONS names no region"),
        ({"COPBOT_PUBLIC_URL": "bot.example.org"}, "COPBOT_PUBLIC_URL must start with https://"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN (xoxb-…) is missing"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is missing"),
        ({"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_SIGNING_SECRET": "s"}, "starting with xoxb-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "x"}, "starting with xapp-"),
    ],
)
def test_malformed_configuration_is_one_clear_sentence(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env(env)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_an_empty_time_zone_means_the_default() -> None:
    assert Settings.from_env({"COPBOT_TIMEZONE": " "}).timezone.key == "Europe/London"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MicrosoftAppPassword", "'s3cret~value'"),
        ("MicrosoftAppId", '"00000000-0000-0000-0000-000000000001"'),
        ("SLACK_BOT_TOKEN", '"xoxb-s3cret"'),
        ("COPBOT_SECRET_KEY", "'" + "k" * 40 + "'"),
        ("COPBOT_PUBLIC_URL", '"https://copbot.example.org"'),
        ("COPBOT_TIMEZONE", "'Europe/London'"),
    ],
)
def test_a_setting_in_quotes_is_named_and_its_value_never_shown(name: str, value: str) -> None:
    # docker run --env-file keeps the quotes a shell or systemd would take away.
    with pytest.raises(ConfigError) as e:
        Settings.from_env({name: value})
    assert str(e.value).startswith(f"{name} is written in quotes")
    assert value.strip("'\"") not in str(e.value)


def test_a_quote_inside_a_value_is_no_quoting() -> None:
    s = Settings.from_env({"COPBOT_REGIONS": "King's Lynn,North"})
    assert s.regions == ("King's Lynn", "North")


def test_another_programs_variable_in_quotes_is_none_of_copbots_business() -> None:
    s = Settings.from_env({"SLACK_WEBHOOK_URL": '"https://hooks.example/x"', "COPBOT_X": "'y'"})
    assert s.slack is None
