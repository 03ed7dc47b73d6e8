"""Setting copbot up in Microsoft Teams: the app package to upload.

``copbot teams package`` writes a zip of ``manifest.json`` (valid against Microsoft's schema
for the version it declares; ``tests/teams/test_package.py`` checks) and two icons drawn by
code. Like the Slack manifest it is plain data, so it lives here rather than in the adapter.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from bot.cli.base import cli
from bot.cli.icons import color_icon, outline_icon
from bot.command_words import DEFAULT_TEAMS_NAME, teams_name_problem
from bot.settings import web_address

MANIFEST_VERSION = "1.30"
SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
ACCENT = "#005EB8"  # NHS blue
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

# Shown in Teams' command menu (at most ten); a test checks each is a copbot verb.
COMMANDS = (
    ("help", "Show what you can ask copbot to do"),
    ("prompt", "Post a reflection prompt here (facilitators)"),
    ("prompts", "List the prompt topics"),
    ("search", "Search the discussion archive"),
    ("events", "See the regional events coming up"),
    ("feedback", "Answer an open feedback round anonymously"),
    ("whoami", "Show your identity and role"),
    ("optout", "Stop copbot keeping your messages, and erase them"),
)
# Left out of the 1:1 chat's menu: they act on the channel they are typed in.
CHANNEL_ONLY = frozenset({"prompt"})
# A team's channels and each person's 1:1 chat. Not group chats: a prompt's thread, the
# archive, schedules and region links all need a team's channel.
SCOPES = ("team", "personal")
# Each permission, and why copbot asks for it (the README says the same).
RESOURCE_SPECIFIC = (
    # Read every message in the team's channels without an @mention: replies under
    # prompts, and channels an admin opted into the archive.
    {"name": "ChannelMessage.Read.Group", "type": "Application"},
)
PERMISSIONS = ("identity", "messageTeamMembers")  # who people are; 1:1 private answers
# Teams offers an app in a team's standard channels only, unless it names the others: copbot
# keeps a private or shared channel's words for its members, as its search and exports say.
CHANNEL_TYPES = ("privateChannels", "sharedChannels")


def manifest(
    app_id: str,
    name: str,
    public_url: str,
    *,
    version: str = "1.0.0",
    privacy_url: str = "",
    terms_url: str = "",
) -> dict[str, Any]:
    host = urlsplit(public_url).hostname or ""
    site = public_url.rstrip("/")
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": name,
            "websiteUrl": site,
            # copbot's own pages (bot/console/about_pages.py), unless the organisation's.
            "privacyUrl": privacy_url or f"{site}/privacy",
            "termsOfUseUrl": terms_url or f"{site}/terms",
        },
        "name": {"short": name[:30], "full": f"{name}: reflection for communities of practice"},
        "description": {
            "short": "Reflection prompts, regional events, anonymous feedback, a shared archive.",
            "full": (
                f"{name} posts reflection prompts for a community of practice, keeps the "
                "conversation under each prompt in a searchable archive (edits and deletions "
                "followed), announces regional events with answers, reminders and calendar "
                "feeds, takes anonymous feedback, and answers privately in your chat "
                "with it. Type @" + name + " help in a channel, or help in the chat."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app_id,
                "scopes": list(SCOPES),
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": ["team"],
                        "commands": [{"title": t, "description": d} for t, d in COMMANDS],
                    },
                    {
                        "scopes": ["personal"],
                        "commands": [
                            {"title": t, "description": d}
                            for t, d in COMMANDS
                            if t not in CHANNEL_ONLY
                        ],
                    },
                ],
            }
        ],
        "permissions": list(PERMISSIONS),
        "supportedChannelTypes": list(CHANNEL_TYPES),
        "validDomains": [host] if host else [],
        "webApplicationInfo": {"id": app_id, "resource": f"api://{host}/botid-{app_id}"},
        "authorization": {"permissions": {"resourceSpecific": list(RESOURCE_SPECIFIC)}},
    }


def package(app_id: str, name: str, public_url: str, **details: str) -> bytes:
    """The app package; ``details`` are manifest()'s version and links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        doc = manifest(app_id, name, public_url, **details)
        z.writestr("manifest.json", json.dumps(doc, indent=2))
        z.writestr("color.png", color_icon())
        z.writestr("outline.png", outline_icon())
    return buffer.getvalue()


@cli.group()
def teams() -> None:
    """Connecting copbot to Microsoft Teams."""


@teams.command("package")
@click.option("--app-id", required=True, metavar="ID", help="The Azure Bot's Microsoft App ID.")
@click.option(
    "--name",
    envvar="COPBOT_TEAMS_NAME",
    default=DEFAULT_TEAMS_NAME,
    show_default=True,
    help="The app's name in Teams (default: COPBOT_TEAMS_NAME, or copbot); set "
    "COPBOT_TEAMS_NAME to the same, so copbot writes it before commands.",
)
@click.option(
    "--url",
    envvar="COPBOT_PUBLIC_URL",
    metavar="URL",
    help="Where people reach copbot (default: COPBOT_PUBLIC_URL), e.g. https://copbot.example.org",
)
@click.option(
    "--version",
    "version",
    default="1.0.0",
    show_default=True,
    metavar="X.Y.Z",
    help="The app's version: raise it to update an app already uploaded.",
)
@click.option(
    "--privacy-url",
    default="",
    metavar="URL",
    help="Your organisation's privacy notice (default: copbot's own page, URL/privacy).",
)
@click.option(
    "--terms-url",
    default="",
    metavar="URL",
    help="Your organisation's terms of use (default: copbot's own page, URL/terms).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The zip file to write.",
)
def teams_package(
    app_id: str,
    name: str,
    url: str | None,
    version: str,
    privacy_url: str,
    terms_url: str,
    output: Path,
) -> None:
    """Write the Teams app package (a zip) to upload in Teams: Apps, Manage your apps,
    Upload an app (or in the Teams admin centre, for the whole organisation)."""
    app_id = app_id.strip()
    if not GUID.fullmatch(app_id):
        raise click.ClickException(
            f"--app-id must be the Microsoft App ID, a GUID like "
            f"00000000-0000-0000-0000-000000000000, not '{app_id}'"
        )
    name = name.strip()
    if (problem := teams_name_problem(name)) is not None:
        raise click.ClickException(f"--name {problem}")
    url = (url or "").strip()
    if not url.startswith("https://") or web_address(url) is None:
        raise click.ClickException(
            "give copbot's public https:// address with --url or COPBOT_PUBLIC_URL, "
            "e.g. https://copbot.example.org (Teams only talks to https)"
        )
    version = version.strip()
    if not re.fullmatch(r"[0-9]{1,5}\.[0-9]{1,5}\.[0-9]{1,5}", version):
        raise click.ClickException(f"--version must be three numbers like 1.0.1, not '{version}'")
    links = {"privacy_url": privacy_url.strip(), "terms_url": terms_url.strip()}
    for option, link in links.items():
        if link and not re.fullmatch(r"https://[^\s/?#]+[^\s]*", link):
            flag = "--" + option.replace("_", "-")
            raise click.ClickException(f"{flag} must be an https:// address, not '{link}'")
    zipped = package(app_id, name, url, version=version, **links)
    try:
        output.write_bytes(zipped)
    except OSError as e:
        # Half a zip is no app package: keep none of it.
        with contextlib.suppress(OSError):
            if output.is_file():
                output.unlink()
        raise click.ClickException(f"can't write {output}: {e.strerror}") from None
    click.echo(f"Wrote {output}: upload it in Teams (Apps, Manage your apps, Upload an app).")
