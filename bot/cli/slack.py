"""Setting copbot up in Slack: the app manifest to create the Slack app from.

The manifest lives here rather than in ``adapters/slack`` because the core (and so the CLI)
never imports an adapter; it is plain data, and ``tests/slack/test_manifest.py`` checks it
against what the Slack adapter actually listens to and calls.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click

from bot.cli.base import cli
from bot.settings import web_address

EVENTS_PATH = "/slack/events"
COMMAND = "/cop"

# Each scope, and why copbot asks for it (the README explains them the same way).
BOT_SCOPES = (
    "app_mentions:read",  # hear "@copbot help" in channels
    "channels:history",  # read replies in public channels copbot is in (threads, archive)
    # channel names, hearing when copbot is added to a channel, and which channels a person
    # is in (users.conversations), so search shows them only what they can see
    "channels:read",
    "groups:history",  # the same in private channels copbot is invited to
    "groups:read",  # which private channels a person is in, and whether a channel is private
    "im:history",  # messages people send copbot directly
    "im:write",  # open a direct message to answer someone privately
    "chat:write",  # post prompts, replies and private answers
    "commands",  # the /cop command
    "users:read",  # show people's names rather than their Slack ids
)
BOT_EVENTS = (
    "message.channels",
    "message.groups",
    "message.im",
    "app_mention",
    "member_joined_channel",
    "member_left_channel",
    "channel_left",
    "group_left",
    "app_home_opened",
)


def manifest(url: str, socket_mode: bool = False) -> dict[str, Any]:
    """The Slack app manifest for a copbot served at ``url`` (unused in Socket Mode)."""
    # The server's address, or the endpoint itself: both mean the same to people.
    base = url.rstrip("/").removesuffix(EVENTS_PATH)
    endpoint = base + EVENTS_PATH
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Reflection prompts and more from copbot",
        "usage_hint": "help",
        "should_escape": True,
    }
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        command["url"] = endpoint
        events["request_url"] = endpoint
        interactivity["request_url"] = endpoint
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "copbot",
            "description": "Reflection prompts, regional events, anonymous feedback and a "
            "discussion archive for communities of practice.",
            "background_color": "#1d4f5c",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "copbot", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small YAML writer for the manifest's shapes: mappings, lists, strings, numbers and
    booleans. Strings are written as JSON strings, which YAML reads as double-quoted."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            lines.append(_entry(f"{pad}{_key(key)}:", item, indent))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                first, *rest = to_yaml(item, indent + 2).splitlines()
                lines.append(f"{pad}- {first.lstrip()}")
                lines.extend(rest)
            else:
                lines.append(_entry(f"{pad}-", item, indent))
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


def _entry(head: str, item: Any, indent: int) -> str:
    if isinstance(item, dict | list) and item:
        return f"{head}\n{to_yaml(item, indent + 2)}"
    return f"{head} {_scalar(item)}"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else json.dumps(key)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    return json.dumps(str(value), ensure_ascii=False)


@cli.group()
def slack() -> None:
    """Connecting copbot to a Slack workspace."""


@slack.command("manifest")
@click.option(
    "--url",
    metavar="URL",
    help="Where Slack can reach copbot, e.g. https://copbot.example.org "
    "(Slack sends events to URL/slack/events). Not needed with --socket-mode.",
)
@click.option(
    "--socket-mode",
    is_flag=True,
    help="Connect out to Slack over Socket Mode (set SLACK_APP_TOKEN) instead of "
    "receiving requests at a public URL.",
)
def slack_manifest(url: str | None, socket_mode: bool) -> None:
    """Print a Slack app manifest (YAML) to create copbot's Slack app from: at
    api.slack.com/apps choose Create New App, then From a manifest, and paste it in."""
    url = (url or "").strip()
    if not url and not socket_mode:
        raise click.ClickException(
            "give the address Slack can reach copbot at, e.g. --url https://copbot.example.org "
            "(or use --socket-mode)"
        )
    if url and web_address(url) is None:
        raise click.ClickException(
            f"--url must be a web address starting with https:// (or http://), not '{url}'"
        )
    if url.startswith("http://") and not socket_mode:
        # Slack refuses to save a manifest whose request URLs aren't https.
        click.echo(
            f"Warning: Slack only sends requests to https:// addresses, so it will refuse "
            f"{url}. Put copbot behind https (a reverse proxy or tunnel), or use --socket-mode.",
            err=True,
        )
    if url and socket_mode:
        # Over Socket Mode Slack sends nothing to an address: the manifest names none.
        click.echo(
            f"Note: with --socket-mode, Slack sends nothing to {url}, so the manifest leaves"
            " it out; copbot connects out to Slack with SLACK_APP_TOKEN.",
            err=True,
        )
    click.echo(to_yaml(manifest(url, socket_mode)))
