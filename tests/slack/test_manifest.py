"""``copbot slack manifest``: a Slack app manifest that matches what the adapter does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.cli.slack import BOT_EVENTS, BOT_SCOPES, manifest, to_yaml

ADAPTER = Path(__file__).resolve().parents[2] / "adapters" / "slack"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["slack", "manifest", *args])
    return result.exit_code, result.output


def test_the_manifest_is_yaml_with_one_url_for_everything() -> None:
    code, output = run("--url", "https://bot.example.org/")
    assert code == 0
    doc = yaml.safe_load(output)
    endpoint = "https://bot.example.org/slack/events"
    assert doc["display_information"]["name"] == "copbot"
    assert doc["features"]["bot_user"] == {"display_name": "copbot", "always_online": True}
    assert doc["features"]["app_home"]["home_tab_enabled"] is True
    assert doc["features"]["app_home"]["messages_tab_enabled"] is True
    [command] = doc["features"]["slash_commands"]
    assert command["command"] == "/cop" and command["url"] == endpoint
    assert command["should_escape"] is True and command["description"] and command["usage_hint"]
    assert doc["oauth_config"]["scopes"]["bot"] == [
        "app_mentions:read",
        "channels:history",
        "channels:read",
        "groups:history",
        "groups:read",
        "im:history",
        "im:write",
        "chat:write",
        "commands",
        "users:read",
    ]
    events = doc["settings"]["event_subscriptions"]
    assert events["request_url"] == endpoint
    assert events["bot_events"] == [
        "message.channels",
        "message.groups",
        "message.im",
        "app_mention",
        "member_joined_channel",
        "member_left_channel",
        "channel_left",
        "group_left",
        "app_home_opened",
    ]
    assert doc["settings"]["interactivity"] == {"is_enabled": True, "request_url": endpoint}
    assert doc["settings"]["socket_mode_enabled"] is False


def test_the_endpoint_itself_as_url_is_not_doubled() -> None:
    code, output = run("--url", "https://bot.example.org/slack/events")
    assert code == 0
    doc = yaml.safe_load(output)
    assert doc["settings"]["event_subscriptions"]["request_url"] == (
        "https://bot.example.org/slack/events"
    )


def test_every_scope_asked_for_is_used_by_an_event_or_a_call() -> None:
    # A scope for group DMs without their event would be access copbot never uses.
    doc = yaml.safe_load(run("--url", "https://bot.example.org")[1])
    assert "mpim:history" not in doc["oauth_config"]["scopes"]["bot"]


def test_socket_mode_needs_no_public_address() -> None:
    code, output = run("--socket-mode")
    assert code == 0
    doc = yaml.safe_load(output)
    assert doc["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in doc["settings"]["event_subscriptions"]
    assert "request_url" not in doc["settings"]["interactivity"]
    assert "url" not in doc["features"]["slash_commands"][0]
    assert "http" not in output


def test_a_url_with_socket_mode_is_said_to_be_left_out() -> None:
    result = CliRunner().invoke(
        cli, ["slack", "manifest", "--socket-mode", "--url", "https://bot.example.org"]
    )
    assert result.exit_code == 0
    assert "Slack sends nothing to https://bot.example.org" in result.stderr
    doc = yaml.safe_load(result.stdout)
    assert doc["settings"]["socket_mode_enabled"] is True and "http" not in result.stdout


@pytest.mark.parametrize(
    "url", ["ftp://bot.example.org", "bot.example.org", "https://", "https://a b"]
)
def test_a_bad_url_is_one_line(url: str) -> None:
    code, output = run("--url", url)
    assert code == 1
    assert output.strip().splitlines() == [
        f"Error: --url must be a web address starting with https:// (or http://), not '{url}'"
    ]


def test_no_url_and_no_socket_mode_is_one_line() -> None:
    code, output = run()
    assert code == 1 and len(output.strip().splitlines()) == 1 and "--url" in output


def test_the_yaml_writer_round_trips_awkward_strings() -> None:
    value = {
        "a": ['say "hi"', "colon: here", "# not a comment", "yes", "", "ünïcode", "multi\nline"],
        "nested": {"empty": [], "none": {}, "n": 3, "flag": False},
        "list of maps": [{"x": 1, "y": ["z"]}],
    }
    assert yaml.safe_load(to_yaml(value)) == value


def test_the_manifest_matches_what_the_adapter_listens_to_and_calls() -> None:
    source = "\n".join(p.read_text() for p in ADAPTER.glob("*.py"))
    # The route the adapter mounts is where the manifest sends Slack.
    assert 'PATH = "/slack/events"' in source
    # Every Web API method the adapter calls needs one of the manifest's scopes.
    needs = {
        "chat_postMessage": "chat:write",
        "chat_postEphemeral": "chat:write",
        "conversations_open": "im:write",
        "conversations_info": "channels:read",
        "users_info": "users:read",
    }
    called = set(re.findall(r"self\._client\.(\w+)\(", source))
    assert set(needs) <= called
    assert {needs[m] for m in needs} <= set(BOT_SCOPES)
    # Each event the manifest subscribes to is one translate.py handles.
    translate = (ADAPTER / "translate.py").read_text()
    for event in BOT_EVENTS:
        assert f'"{event.split(".")[0]}"' in translate, event
    assert manifest("https://x.org")["features"]["slash_commands"][0]["command"] == "/cop"
